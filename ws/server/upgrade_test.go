package server

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// A panic in a connection callback is a panic in a user callback like any
// other: logged, and that connection closed with 1011.
func TestPanicInConnectionCallbackClosesWith1011(t *testing.T) {
	ev := make(record, 10)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) { ev <- "close " + code.String() })
			if req.HTTP.URL.Path == "/boom" {
				panic("test panic")
			}
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
		})
	})
	bad := h.Dial("/boom", nil)
	defer bad.Close()
	code, _, err := bad.ExpectClose(wait)
	if err != nil || code != 1011 {
		t.Fatalf("close %d %v, want 1011", code, err)
	}
	bad.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
	ev.expect(t, "close "+frame.CloseInternalError.String())
	good := h.dial(nil)
	good.WriteMessage(1, []byte("fine"))
	if _, p, _, err := good.ReadMessage(wait); err != nil || string(p) != "fine" {
		t.Fatalf("other connection: %q %v", p, err)
	}
}

// An upgrade under way when Stop comes still has callbacks to run on the
// loop (the connection callbacks, then its close and disconnection
// events), so it counts as an active handle: otherwise the loop's Run
// returns under it and the connection's goroutine waits forever for a
// loop that no longer runs.
func TestStopDuringUpgradeKeepsTheLoop(t *testing.T) {
	ev := make(record, 10)
	entered, release := make(chan struct{}), make(chan struct{})
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) { ev <- "close " + code.String() })
			if req.HTTP.URL.Path == "/block" {
				close(entered)
				<-release
			}
		})
	})
	clients := make(chan *wstest.Client, 2)
	dial := func(path string) {
		c, err := wstest.Dial(h.addr, path, nil)
		if err != nil {
			t.Error(err)
		}
		clients <- c
	}
	// The first upgrade holds the loop in its connection callback; the
	// second is registered and waits for the loop to run its own.
	go dial("/block")
	<-entered
	go dial("/")
	wstest.WaitFor(t, "two registered connections", func() bool { return h.s.Len() == 2 })
	h.s.Stop()
	// The loop is held in the first connection callback: Stop's work
	// waits for it, and both handles stay active meanwhile.
	if wstest.Poll(50*time.Millisecond, func() bool { return wsEngine.Handles(h.s.Loop()) < 2 }) {
		t.Errorf("%d active handles after Stop with two upgrades under way, want 2", wsEngine.Handles(h.s.Loop()))
	}
	close(release)
	for range 2 {
		c := <-clients
		if c == nil {
			t.FailNow()
		}
		defer c.Close()
		code, _, err := c.ExpectClose(wait)
		if err != nil || code != 1001 {
			t.Fatalf("close %d %v, want 1001", code, err)
		}
		c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
	}
	ev.expect(t, "close "+frame.CloseAway.String(), "close "+frame.CloseAway.String())
}

// An upgrade request with more header fields than MaxHeaderFields gets
// 431: its connection would keep the parsed request, at about 130 bytes a
// field, for its lifetime.
func TestMaxHeaderFields(t *testing.T) {
	// rawRequest sends Host, Upgrade, Connection, Sec-WebSocket-Key and
	// Sec-WebSocket-Version: five fields before the extra ones.
	fields := func(extra int) http.Header {
		h := http.Header{}
		for i := range extra {
			h.Set("X-Field-"+strconv.Itoa(i), "v")
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		max    int
		extra  int
		status int
	}{
		{"at the limit", 20, 15, 101},
		{"one over", 20, 16, 431},
		{"the default", 0, defaultMaxHeaderFields - 5, 101},
		{"over the default", 0, defaultMaxHeaderFields - 4, 431},
		{"no limit", -1, 300, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Config{MaxHeaderFields: tc.max}, echo)
			resp := rawRequest(t, h.addr, "/", fields(tc.extra))
			if resp.StatusCode != tc.status {
				t.Fatalf("%d extra fields, limit %d: status %d, want %d", tc.extra, tc.max, resp.StatusCode, tc.status)
			}
			if h.s.Len() != 0 && tc.status != 101 {
				t.Fatalf("%d connections after a refusal", h.s.Len())
			}
		})
	}
	if _, err := New(Config{MaxHeaderFields: -1}); err != nil {
		t.Fatalf("a negative MaxHeaderFields (no limit) refused: %v", err)
	}
}
