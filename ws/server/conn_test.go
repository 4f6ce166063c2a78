package server

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

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

// A plain request the HTTP handler writes nothing for gets net/http's 200
// with an empty body, as it would from any http.Handler.
func TestHandlerThatWritesNothing(t *testing.T) {
	h := start(t, Config{HTTP: HTTPConfig{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}}, echo)
	resp, err := http.Get("http://" + h.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(resp); resp.StatusCode != http.StatusOK || b != "" {
		t.Fatalf("%d %q, want 200 and no body", resp.StatusCode, b)
	}
	echoes(t, h.dial(nil), "upgraded")
}

// A listener finds its *Conn by the id it shares with its *ws.Conn, until
// the close listeners have run; the disconnection callback no longer does.
func TestConnectionFoundFromItsListeners(t *testing.T) {
	type found struct {
		where string
		ok    bool
	}
	got := make(chan found, 3)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnMessage(func(wc *ws.Conn, m *ws.Message) {
				sc := s.Connection(wc.ID())
				got <- found{"message", sc != nil && sc.Conn == wc && sc.Request().HTTP.URL.Path == "/path"}
			})
			c.OnClose(func(wc *ws.Conn, _ ws.CloseCode, _ string) {
				sc := s.Connection(wc.ID())
				got <- found{"close", sc != nil && sc.Conn == wc}
			})
		})
		s.OnDisconnection(func(s *Server, c *Conn) {
			got <- found{"disconnection", s.Connection(c.ID()) == nil}
		})
	})
	c, err := wstest.Dial(h.addr, "/path", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(1, []byte("x"))
	c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	for _, want := range []string{"message", "close", "disconnection"} {
		if f := <-got; f.where != want || !f.ok {
			t.Fatalf("%+v, want %s and the lookup as documented", f, want)
		}
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
