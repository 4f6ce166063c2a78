package server

import (
	"errors"
	"net/http"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/handshake"
)

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
