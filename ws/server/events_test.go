package server

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// record collects strings from callbacks (which run on the loop) for the
// test goroutine.
type record chan string

func (r record) expect(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	timeout := time.After(wait)
	for len(got) < len(want) {
		select {
		case s := <-r:
			got = append(got, s)
		case <-timeout:
			t.Fatalf("got %q, still waiting for %q", got, want[len(got):])
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
}

func TestConnectionEvents(t *testing.T) {
	ev := make(record, 100)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			if s.Connection(c.ID()) != c {
				ev <- "not registered at connection time"
			}
			ev <- "connect " + req.HTTP.URL.Path
			c.OnPing(func(_ *ws.Conn, m *ws.Message) { ev <- "ping " + string(m.Payload) })
			c.OnPong(func(_ *ws.Conn, m *ws.Message) { ev <- "pong " + string(m.Payload) })
			c.OnPeerClose(func(_ *ws.Conn, m *ws.Message) {
				ev <- "peer close " + m.CloseCode.String() + " " + m.CloseReason
			})
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) {
				ev <- "close " + code.String() + " " + reason
			})
		})
		s.OnDisconnection(func(s *Server, c *Conn) {
			if s.Connection(c.ID()) != nil {
				ev <- "still registered at disconnection"
			}
			ev <- "disconnect"
		})
	})
	c := h.dial(nil)
	ev.expect(t, "connect /")
	c.WriteFrame(true, 9, []byte("hi"))
	op, p, _, err := c.ReadMessage(wait)
	if err != nil || op != 10 || string(p) != "hi" {
		t.Fatalf("pong: op %d %q %v", op, p, err)
	}
	ev.expect(t, "ping hi")
	c.WriteFrame(true, 10, []byte("unsolicited"))
	ev.expect(t, "pong unsolicited")
	c.WriteFrame(true, 8, wstest.ClosePayload(1000, "done"))
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
		t.Fatalf("close reply %d %v", code, err)
	}
	ev.expect(t, "peer close "+frame.CloseNormal.String()+" done", "close "+frame.CloseNormal.String()+" done", "disconnect")
	if n := h.s.Len(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

func TestServerCloseAndTimeout(t *testing.T) {
	ev := make(record, 10)
	var cfg Config
	cfg.CloseTimeout = 200 * time.Millisecond
	h := start(t, cfg, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) { ev <- "close " + code.String() })
			c.Close(frame.ClosePolicyViolation, "go away")
		})
	})
	c := h.dial(nil)
	code, reason, err := c.ExpectClose(wait)
	if err != nil || code != 1008 || reason != "go away" {
		t.Fatalf("got close %d %q %v", code, reason, err)
	}
	// The client never answers: the close timeout (200ms) drops the
	// connection, long before the client's own deadline.
	if err := c.ExpectEOF(wait); err != nil {
		t.Fatal(err)
	}
	ev.expect(t, "close "+frame.CloseAbnormal.String())
}

func TestNothingDeliveredAfterClose(t *testing.T) {
	ev := make(record, 10)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				ev <- string(m.Payload)
				c.Close(frame.CloseNormal, "")
			})
		})
	})
	c := h.dial(nil)
	c.WriteMessage(1, []byte("one"))
	c.WriteMessage(1, []byte("two"))
	c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
		t.Fatalf("close %d %v", code, err)
	}
	ev.expect(t, "one")
	select {
	case s := <-ev:
		t.Fatalf("delivered %q after Close", s)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestKeepalive(t *testing.T) {
	ev := make(record, 10)
	var cfg Config
	cfg.PingInterval = 100 * time.Millisecond
	cfg.PongTimeout = 200 * time.Millisecond
	h := start(t, cfg, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) { ev <- "close " + code.String() })
		})
	})
	c := h.dial(nil)
	// The server pings a silent client ...
	op, _, _, err := c.ReadMessage(wait)
	if err != nil || op != 9 {
		t.Fatalf("expected a ping, got op %d %v", op, err)
	}
	// ... which answers and stays ...
	c.WriteFrame(true, 10, nil)
	if op, _, _, err := c.ReadMessage(wait); err != nil || op != 9 {
		t.Fatalf("expected a second ping, got op %d %v", op, err)
	}
	// ... until it stops answering: dropped, 1006.
	if err := c.ExpectEOF(wait); err != nil {
		t.Fatal(err)
	}
	ev.expect(t, "close "+frame.CloseAbnormal.String())
}

func TestIdleTimeout(t *testing.T) {
	var cfg Config
	cfg.IdleTimeout = 150 * time.Millisecond
	cfg.PingInterval = -1
	h := start(t, cfg, echo)
	c := h.dial(nil)
	code, reason, err := c.ExpectClose(wait)
	if err != nil || code != 1001 || reason != "idle timeout" {
		t.Fatalf("close %d %q %v", code, reason, err)
	}
}

func TestStats(t *testing.T) {
	got := make(chan ws.Stats, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				c.Send(m.Opcode, m.Payload)
				if string(m.Payload) == "last" {
					got <- c.Stats()
				}
			})
		})
	})
	c := h.dial(nil)
	for _, m := range []string{"a", "bb", "last"} {
		c.WriteMessage(1, []byte(m))
		if _, _, _, err := c.ReadMessage(wait); err != nil {
			t.Fatal(err)
		}
	}
	st := <-got
	// Three messages in: 1+2+4 payload bytes plus 6 header bytes each.
	if st.MessagesIn != 3 || st.BytesIn != 7+18 || st.MessagesOut != 3 {
		t.Fatalf("stats %+v", st)
	}
}
