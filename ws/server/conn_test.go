package server

import (
	"testing"
	"unsafe"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

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
	c := h.Dial("/path", nil)
	defer c.Close()
	c.WriteMessage(1, []byte("x"))
	c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	for _, want := range []string{"message", "close", "disconnection"} {
		if f := <-got; f.where != want || !f.ok {
			t.Fatalf("%+v, want %s and the lookup as documented", f, want)
		}
	}
}

func TestConnectionsAndBroadcast(t *testing.T) {
	joined := make(chan struct{}, 10)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
				for peer := range s.Connections() {
					peer.SendText(string(m.Payload))
				}
			})
			joined <- struct{}{}
		})
	})
	var cs []*wstest.Client
	for range 3 {
		cs = append(cs, h.dial(nil))
		<-joined
	}
	cs[0].WriteMessage(1, []byte("to all"))
	for i, c := range cs {
		_, p, _, err := c.ReadMessage(wait)
		if err != nil || string(p) != "to all" {
			t.Fatalf("client %d: %q %v", i, p, err)
		}
	}
	n := 0
	var last uint64
	for c := range h.s.Connections() {
		if c.ID() <= last {
			t.Fatalf("Connections not in id order: %d after %d", c.ID(), last)
		}
		last = c.ID()
		n++
	}
	if n != 3 || h.s.Len() != 3 {
		t.Fatalf("Connections yielded %d, Len %d; want 3", n, h.s.Len())
	}
}

// A server connection stays in the 96-byte size class on 64-bit
// platforms: every idle connection pays for each field (the bench's idle
// row counts it). Its id is its ws.Conn's.
func TestConnSizeClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the class is for 64-bit platforms")
	}
	if n := unsafe.Sizeof(Conn{}); n > 96 {
		t.Errorf("server.Conn is %d bytes, over the 96-byte size class", n)
	}
}
