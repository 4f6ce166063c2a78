package server

import (
	"errors"
	"net/http"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// New and Configure refuse a config that cannot work, with an error; a
// refused Configure leaves the running config as it was.
func TestConfigRefusesBadSettings(t *testing.T) {
	local := Location{Host: "127.0.0.1", Port: 8080}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative MaxFrameSize", Config{Config: ws.Config{MaxFrameSize: -1}}},
		{"ReadBufferSize below 512", Config{Config: ws.Config{ReadBufferSize: 100}}},
		{"negative HTTP.MaxHeaderBytes", Config{HTTP: HTTPConfig{MaxHeaderBytes: -1}}},
		{"negative RetryAfter", Config{RetryAfter: -1}},
		{"port 65536", Config{Locations: []Location{{Host: "127.0.0.1", Port: 65536}}}},
		{"negative port", Config{Locations: []Location{{Host: "127.0.0.1", Port: -1}}}},
		{"negative backlog", Config{Locations: []Location{{Host: "127.0.0.1", Backlog: -1}}}},
		{"a location twice", Config{Locations: []Location{local, local}}},
		{"a subprotocol with a space", Config{Protocols: []string{"chat v2"}}},
		{"an empty subprotocol", Config{Protocols: []string{""}}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("New, %s: accepted", tc.name)
		}
	}

	h := start(t, Config{Protocols: []string{"chat"}}, echo)
	if err := h.s.Configure(Config{Protocols: []string{"chat v2"}}); err == nil {
		t.Fatal("Configure with a bad subprotocol: accepted")
	}
	c, err := wstest.Dial(h.addr, "/", http.Header{"Sec-WebSocket-Protocol": {"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Fatalf("protocol %q after a refused Configure, want chat", got)
	}
}

// The handshake answers exist only inside the handshake callback, once,
// and a refusal needs an error status.
func TestHandshakeAnswersOutsideTheirPlace(t *testing.T) {
	type result struct{ low, high, accept, again, later error }
	got := make(chan result, 1)
	var kept *Conn
	h := start(t, Config{}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(s *Server, c *Conn, req *handshake.Request) {
			var r result
			r.low = c.SendAcceptError(http.StatusFound, "moved", nil)
			r.high = c.SendAcceptError(600, "?", nil)
			r.accept = c.SendAcceptResponse(nil)
			r.again = c.SendAcceptError(http.StatusForbidden, "too late", nil)
			kept = c
			got <- r
		})
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			c.SendText("connected")
		})
	})
	c, err := wstest.Dial(h.addr, "/", nil)
	if err != nil {
		t.Fatalf("the accepted upgrade: %v", err)
	}
	defer c.Close()
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "connected" {
		t.Fatalf("%q %v", p, err)
	}
	r := <-got
	if r.low == nil || r.high == nil {
		t.Errorf("SendAcceptError with 302 and 600: %v, %v; want errors", r.low, r.high)
	}
	if r.accept != nil {
		t.Errorf("SendAcceptResponse: %v", r.accept)
	}
	if !errors.Is(r.again, ErrNotInHandshake) {
		t.Errorf("a second answer: %v, want ErrNotInHandshake", r.again)
	}
	if err := kept.SendAcceptResponse(nil); !errors.Is(err, ErrNotInHandshake) {
		t.Errorf("SendAcceptResponse after the callback: %v, want ErrNotInHandshake", err)
	}
	if err := kept.SendAcceptError(http.StatusForbidden, "late", nil); !errors.Is(err, ErrNotInHandshake) {
		t.Errorf("SendAcceptError after the callback: %v, want ErrNotInHandshake", err)
	}
}
