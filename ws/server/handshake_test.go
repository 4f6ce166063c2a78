package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
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

func TestHandshakeCallback(t *testing.T) {
	h := start(t, Config{Protocols: []string{"chat", "superchat"}}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(s *Server, c *Conn, req *handshake.Request) {
			if req.Err() != nil {
				return // default error response
			}
			switch req.HTTP.URL.Path {
			case "/private":
				c.SendAcceptError(http.StatusForbidden, "no entry", http.Header{"X-Why": {"private"}})
			case "/custom":
				c.SendAcceptResponse(&handshake.Response{Protocol: "superchat", Header: http.Header{"X-Custom": {"yes"}}})
			}
		})
	})

	resp := rawRequest(t, h.addr, "/private", nil)
	if resp.StatusCode != 403 || resp.Header.Get("X-Why") != "private" || readBody(resp) != "no entry" {
		t.Fatalf("refusal: %d %v", resp.StatusCode, resp.Header)
	}

	c := h.Dial("/custom", http.Header{"Sec-WebSocket-Protocol": {"chat, superchat"}})
	defer c.Close()
	if got := c.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "superchat" {
		t.Fatalf("protocol %q, want the callback's superchat", got)
	}
	if c.Resp.Header.Get("X-Custom") != "yes" {
		t.Fatal("the callback's header is missing")
	}

	c2 := h.Dial("/", http.Header{"Sec-WebSocket-Protocol": {"superchat, chat"}})
	defer c2.Close()
	if got := c2.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Fatalf("protocol %q, want the server's preference chat", got)
	}

	// An invalid request gets the default answer.
	resp = rawRequest(t, h.addr, "/", http.Header{"Sec-WebSocket-Version": {"8"}})
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("bad version: %d %v", resp.StatusCode, resp.Header)
	}

	// Removing the callback accepts /private.
	h.s.OnHandshake(nil)
	c3 := h.Dial("/private", nil)
	c3.Close()
}

// rawRequest sends an upgrade request (with the given header fields
// overriding the defaults) and returns the response.
func rawRequest(t *testing.T, addr, path string, over http.Header) *http.Response {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key, _ := handshake.NewKey()
	hdr := http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-WebSocket-Key":     {key},
		"Sec-WebSocket-Version": {"13"},
	}
	for k, v := range over {
		hdr[http.CanonicalHeaderKey(k)] = v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, addr)
	hdr.Write(&b)
	b.WriteString("\r\n")
	resp, err := wstest.RoundTrip(nc, []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readBody(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The handshake callback's answers are checked when given: an answer that
// cannot be sent is an error to the callback, which may answer again,
// and nothing of it reaches the peer.
func TestHandshakeAnswersAreCheckedWhenGiven(t *testing.T) {
	errs := make(chan []error, 1)
	h := start(t, Config{}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(s *Server, c *Conn, req *handshake.Request) {
			errs <- []error{
				c.SendAcceptResponse(&handshake.Response{Protocol: "not-offered"}),
				c.SendAcceptResponse(&handshake.Response{Header: http.Header{"X-Evil": {"a\r\nInjected: 1"}}}),
				c.SendAcceptResponse(&handshake.Response{Header: http.Header{"Bad Name": {"x"}}}),
				c.SendAcceptResponse(&handshake.Response{Header: http.Header{"Sec-WebSocket-Accept": {"x"}}}),
				c.SendAcceptError(http.StatusForbidden, "no", http.Header{"X-Evil": {"a\nb"}}),
				c.SendAcceptResponse(&handshake.Response{Protocol: "chat", Header: http.Header{"X-Ok": {"yes"}}}),
			}
		})
	})
	c := h.dial(http.Header{"Sec-WebSocket-Protocol": {"chat"}})
	got := <-errs
	for i, err := range got[:5] {
		if !errors.Is(err, handshake.ErrInvalidResponse) {
			t.Errorf("answer %d: %v, want handshake.ErrInvalidResponse", i, err)
		}
	}
	if got[5] != nil {
		t.Fatalf("the valid answer after the refused ones: %v", got[5])
	}
	if c.Resp.Header.Get("X-Ok") != "yes" || c.Resp.Header.Get("Sec-WebSocket-Protocol") != "chat" || c.Resp.Header.Get("Injected") != "" {
		t.Fatalf("101 header %v", c.Resp.Header)
	}
	echoes(t, c, "accepted")
}

// An accept for a request that is itself invalid is refused at the call,
// and the request gets the default error response.
func TestAcceptOfAnInvalidRequest(t *testing.T) {
	errs := make(chan error, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnHandshake(func(s *Server, c *Conn, req *handshake.Request) {
			errs <- c.SendAcceptResponse(nil)
		})
	})
	resp := rawRequest(t, h.addr, "/", http.Header{"Sec-WebSocket-Key": {"short"}})
	body, _ := io.ReadAll(resp.Body)
	if err := <-errs; !errors.Is(err, handshake.ErrInvalidResponse) {
		t.Errorf("SendAcceptResponse for a request without a key: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "refused") {
		t.Fatalf("%d %q, want the default 400", resp.StatusCode, body)
	}
}

// The server's order of subprotocols wins over the client's.
func TestServerOrderOfProtocolsWins(t *testing.T) {
	h := start(t, Config{Protocols: []string{"a", "b"}}, echo)
	c := h.dial(http.Header{"Sec-WebSocket-Protocol": {"b, a"}})
	if p := c.Resp.Header.Get("Sec-WebSocket-Protocol"); p != "a" {
		t.Fatalf("subprotocol %q, want a (the server's first)", p)
	}
}
