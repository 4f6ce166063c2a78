package handshake

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCheckResponse(t *testing.T) {
	good := func() *http.Response {
		return &http.Response{StatusCode: 101, Header: http.Header{
			"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Accept": {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		}}
	}
	tests := []struct {
		name string
		edit func(*http.Response) *http.Response
		want string // "": accepted
	}{
		{"valid", func(r *http.Response) *http.Response { return r }, ""},
		{"tokens in lists, other case", func(r *http.Response) *http.Response {
			r.Header["Upgrade"] = []string{"foo, WebSocket"}
			r.Header["Connection"] = []string{"keep-alive, upgrade"}
			return r
		}, ""},
		{"nil", func(*http.Response) *http.Response { return nil }, "no response"},
		{"200", func(r *http.Response) *http.Response { r.StatusCode = 200; return r }, "status 200, want 101"},
		{"no Upgrade", func(r *http.Response) *http.Response { delete(r.Header, "Upgrade"); return r }, "Upgrade header"},
		{"wrong Upgrade", func(r *http.Response) *http.Response { r.Header["Upgrade"] = []string{"h2c"}; return r }, "Upgrade header"},
		{"no Connection", func(r *http.Response) *http.Response { delete(r.Header, "Connection"); return r }, "Connection header"},
		{"no Accept", func(r *http.Response) *http.Response { delete(r.Header, "Sec-Websocket-Accept"); return r }, "got 0"},
		{"two Accept", func(r *http.Response) *http.Response {
			r.Header["Sec-Websocket-Accept"] = []string{"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
			return r
		}, "got 2"},
		{"wrong Accept", func(r *http.Response) *http.Response {
			r.Header["Sec-Websocket-Accept"] = []string{"s3pPLMBiTxaQ9kYGzzhZRbK+xOp="}
			return r
		}, "Sec-WebSocket-Accept is"},
	}
	for _, tt := range tests {
		err := CheckResponse(tt.edit(good()), sampleKey)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: CheckResponse: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadServerResponse) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: CheckResponse = %v, want ErrBadServerResponse with %q", tt.name, err, tt.want)
		}
	}
}
