package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/handshake"
)

// requestOfSize returns an upgrade request (or a plain GET) whose head,
// blank line included, is exactly n bytes.
func requestOfSize(t *testing.T, n int, upgrade bool) string {
	t.Helper()
	key, _ := handshake.NewKey()
	head := "GET / HTTP/1.1\r\nHost: x\r\n"
	if upgrade {
		head += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	}
	head += "X-Pad: "
	pad := n - len(head) - len("\r\n\r\n")
	if pad < 1 {
		t.Fatalf("a %d-byte head is too small", n)
	}
	return head + strings.Repeat("p", pad) + "\r\n\r\n"
}

// statusOf sends req on a new connection from dial and returns the status
// of the answer.
func statusOf(t *testing.T, dial func() (net.Conn, error), req string) int {
	t.Helper()
	nc, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	resp, err := wstest.RoundTrip(nc, []byte(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// HTTPConfig.MaxHeaderBytes holds exactly for the first request of a
// connection: a head of the limit's size is served, one byte more gets
// 431. On the fast path, through TLS and with an HTTP handler alike.
func TestMaxHeaderBytesIsExact(t *testing.T) {
	const limit = 1000
	cert, pool := wstest.Certificate(t, "example.com")

	nothing := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name    string
		handler http.Handler
		tls     bool
	}{
		{"fast path", nil, false},
		{"TLS", nil, true},
		{"HTTP handler", nothing, false},
		{"HTTP handler, TLS", nothing, true},
	} {
		loc := Location{Host: "127.0.0.1"}
		if tc.tls {
			loc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		}
		h := start(t, Config{Locations: []Location{loc}, HTTP: HTTPConfig{MaxHeaderBytes: limit, Handler: tc.handler}}, echo)
		dial := func() (net.Conn, error) { return net.Dial("tcp", h.addr) }
		if tc.tls {
			dial = func() (net.Conn, error) {
				return tls.Dial("tcp", h.addr, &tls.Config{RootCAs: pool, ServerName: "example.com"})
			}
		}
		cases := []struct {
			size    int
			upgrade bool
			want    int
		}{
			{limit, true, http.StatusSwitchingProtocols},
			{limit + 1, true, http.StatusRequestHeaderFieldsTooLarge},
			{limit + 4000, true, http.StatusRequestHeaderFieldsTooLarge},
			{limit + 1, false, http.StatusRequestHeaderFieldsTooLarge},
		}
		if tc.handler != nil {
			cases = append(cases, struct {
				size    int
				upgrade bool
				want    int
			}{limit, false, http.StatusOK})
		}
		for _, c := range cases {
			if got := statusOf(t, dial, requestOfSize(t, c.size, c.upgrade)); got != c.want {
				t.Errorf("%s: a %d-byte head (upgrade %v): %d, want %d", tc.name, c.size, c.upgrade, got, c.want)
			}
		}
	}
}

// The HTTP handler of a TLS location sees its requests' TLS state, though
// the server read the first request itself.
func TestHandlerSeesTLSState(t *testing.T) {
	cert, pool := wstest.Certificate(t, "example.com")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			http.Error(w, "no TLS state", http.StatusInternalServerError)
		}
	})
	loc := Location{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}
	h := start(t, Config{Locations: []Location{loc}, HTTP: HTTPConfig{Handler: handler}}, echo)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"}}}
	defer client.CloseIdleConnections()
	for i := range 2 { // the first request and one on the kept-alive connection
		resp, err := client.Get("https://" + h.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		if b := readBody(resp); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
}
