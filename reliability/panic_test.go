package reliability

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// slogRecorder is a slog.Handler that keeps the records it gets.
type slogRecorder struct {
	mu      sync.Mutex
	records []string // message and the panic value
}

func (r *slogRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *slogRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *slogRecorder) WithGroup(string) slog.Handler            { return r }
func (r *slogRecorder) Handle(_ context.Context, rec slog.Record) error {
	s := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "panic" {
			s += fmt.Sprintf(" panic=%v", a.Value.Any())
		}
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, s)
	r.mu.Unlock()
	return nil
}

// take returns the records logged so far and forgets them.
func (r *slogRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.records
	r.records = nil
	return out
}

// Item 9: a panic in a user callback is recovered and logged through
// log/slog; the connection it belongs to is closed with 1011 (where it is
// still open), and the server and every other connection go on.
func TestPanicInCallbacks(t *testing.T) {
	rec := &slogRecorder{}
	old := slog.Default()
	slog.SetDefault(slog.New(rec))
	defer slog.SetDefault(old)

	var cfg server.Config
	cfg.SendQueueLimit = 64 << 10
	h := start(t, cfg, func(s *server.Server) {
		s.OnHandshake(func(_ *server.Server, _ *server.Conn, req *handshake.Request) {
			if req.HTTP.URL.Path == "/panic-handshake" {
				panic("in the handshake callback")
			}
		})
		s.OnConnection(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
			path := req.HTTP.URL.Path
			if path == "/panic-connection" {
				panic("in the connection callback")
			}
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				switch string(m.Payload) {
				case "panic":
					panic("in a message listener")
				case "fill":
					// Past half the queue limit: the drain event is due
					// once the queue is written out.
					for range 3 {
						c.SendBinary(make([]byte, 16<<10))
					}
				default:
					c.Send(m.Opcode, m.Payload)
				}
			})
			c.OnPing(func(_ *ws.Conn, m *ws.Message) {
				if string(m.Payload) == "panic" {
					panic("in a ping listener")
				}
			})
			c.OnPong(func(_ *ws.Conn, m *ws.Message) {
				if string(m.Payload) == "panic" {
					panic("in a pong listener")
				}
			})
			c.OnPeerClose(func(_ *ws.Conn, m *ws.Message) {
				if m.CloseReason == "panic" {
					panic("in a peer-close listener")
				}
			})
			c.OnDrain(func(*ws.Conn) {
				if path == "/panic-drain" {
					panic("in a drain listener")
				}
			})
			c.OnClose(func(*ws.Conn, ws.CloseCode, string) {
				if path == "/panic-close" {
					panic("in a close listener")
				}
			})
		})
		s.OnDisconnection(func(_ *server.Server, c *server.Conn) {
			if c.Request().HTTP.URL.Path == "/panic-disconnection" {
				panic("in the disconnection callback")
			}
		})
	})
	bystander := h.dial("/", nil)
	echoes := func(what string) {
		t.Helper()
		if err := bystander.WriteMessage(1, []byte(what)); err != nil {
			t.Fatalf("after the panic %s: %v", what, err)
		}
		if _, p, _, err := bystander.ReadMessage(wait); err != nil || string(p) != what {
			t.Fatalf("after the panic %s, the other connection: %q %v", what, p, err)
		}
	}
	// expectClosed reads the client's close frame (answering it) and
	// returns its code.
	expectClosed := func(c *wstest.Client) int {
		t.Helper()
		code, _, err := c.ExpectClose(wait)
		if err != nil {
			t.Fatal(err)
		}
		c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
		c.ExpectEOF(wait)
		return code
	}
	cases := []struct {
		name string
		run  func(t *testing.T)
		log  string
	}{
		{"message listener", func(t *testing.T) {
			c := h.dial("/", nil)
			c.WriteMessage(1, []byte("panic"))
			if code := expectClosed(c); code != 1011 {
				t.Errorf("close %d, want 1011", code)
			}
		}, "ERROR ws: panic in a connection callback panic=in a message listener"},
		{"ping listener", func(t *testing.T) {
			c := h.dial("/", nil)
			c.WriteFrame(true, 9, []byte("panic"))
			if code := expectClosed(c); code != 1011 {
				t.Errorf("close %d, want 1011", code)
			}
		}, "ERROR ws: panic in a connection callback panic=in a ping listener"},
		{"pong listener", func(t *testing.T) {
			c := h.dial("/", nil)
			c.WriteFrame(true, 10, []byte("panic"))
			if code := expectClosed(c); code != 1011 {
				t.Errorf("close %d, want 1011", code)
			}
		}, "ERROR ws: panic in a connection callback panic=in a pong listener"},
		{"drain listener", func(t *testing.T) {
			c := h.dial("/panic-drain", nil)
			c.WriteMessage(1, []byte("fill"))
			if code := expectClosed(c); code != 1011 {
				t.Errorf("close %d, want 1011", code)
			}
		}, "ERROR ws: panic in a connection callback panic=in a drain listener"},
		{"connection callback", func(t *testing.T) {
			c := h.dial("/panic-connection", nil)
			if code := expectClosed(c); code != 1011 {
				t.Errorf("close %d, want 1011", code)
			}
		}, "ERROR server: panic in a connection callback panic=in the connection callback"},
		// The connection is closing already: the close goes on as it
		// would have, and the panic is logged.
		{"peer-close listener", func(t *testing.T) {
			c := h.dial("/", nil)
			c.WriteFrame(true, 8, wstest.ClosePayload(1000, "panic"))
			if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
				t.Errorf("close %d %v, want the echo of 1000", code, err)
			}
		}, "ERROR ws: panic in a connection callback panic=in a peer-close listener"},
		{"close listener", func(t *testing.T) {
			c := h.dial("/panic-close", nil)
			c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
			c.ExpectClose(wait)
		}, "ERROR ws: panic in a connection callback panic=in a close listener"},
		{"disconnection callback", func(t *testing.T) {
			c := h.dial("/panic-disconnection", nil)
			c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
			c.ExpectClose(wait)
		}, "ERROR server: panic in a disconnection callback panic=in the disconnection callback"},
		// No connection yet: the upgrade is refused.
		{"handshake callback", func(t *testing.T) {
			_, err := wstest.Dial(h.addr, "/panic-handshake", http.Header{})
			if err == nil || !strings.Contains(err.Error(), "status 500") {
				t.Errorf("upgrade: %v, want a 500", err)
			}
		}, "ERROR server: panic in a handshake callback panic=in the handshake callback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			discs := h.ev.ndiscs()
			tc.run(t)
			if tc.name != "handshake callback" {
				h.ev.waitDisconnections(t, discs+1, wait)
			}
			var logged []string
			wstest.Poll(wait, func() bool {
				logged = append(logged, rec.take()...)
				return len(logged) > 0
			})
			if len(logged) != 1 || logged[0] != tc.log {
				t.Errorf("logged %q, want %q", logged, tc.log)
			}
			echoes(tc.name)
			if n := h.s.Len(); n != 1 {
				t.Errorf("%d connections registered, want the bystander only", n)
			}
		})
	}
	h.ev.checkOnce(t, 1)
}
