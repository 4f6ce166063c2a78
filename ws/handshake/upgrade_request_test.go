package handshake

import (
	"net/http"
	"testing"
)

func TestIsUpgradeRequest(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"websocket"}, true},
		{[]string{"WebSocket"}, true},
		{[]string{"h2c, websocket"}, true},
		{[]string{"h2c", " websocket "}, true},
		{[]string{"websockets"}, false},
		{[]string{"h2c"}, false},
	} {
		r := &http.Request{Header: http.Header{}}
		if tc.values != nil {
			r.Header["Upgrade"] = tc.values
		}
		if got := IsUpgradeRequest(r); got != tc.want {
			t.Errorf("Upgrade %q: got %v, want %v", tc.values, got, tc.want)
		}
	}
}
