package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// The bad input of an HTTP/2 client that net/http's own client never
// sends, written frame by frame (h2raw_test.go). Each case runs in a
// child process with GODEBUG=http2xconnect=1 (inChild).

func TestH2MissingPseudoHeaders(t *testing.T) {
	if inChild(t) {
		return
	}
	var handshakes atomic.Int32
	seen := make(chan error, 4)
	h := startH2(t, Config{}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(_ *Server, _ *Conn, req *handshake.Request) {
			handshakes.Add(1)
			seen <- req.Err()
		})
	})
	c := dialRawH2(t, h.h2addr, h.pool)
	all := websocketFields(h.h2addr)

	// Without :path the request is malformed (RFC 8441 section 4, RFC 9113
	// section 8.3.1): net/http resets the stream before any handler runs.
	id := c.open(false, without(all, ":path")...)
	if status, reset, code, err := c.status(id); err != nil || !reset || code != h2ErrProtocol {
		t.Errorf("no :path: status %d, reset %v code %d, %v; want RST_STREAM PROTOCOL_ERROR", status, reset, code, err)
	}
	if n := handshakes.Load(); n != 0 {
		t.Errorf("the handshake callback ran %d times for a request without :path", n)
	}

	// Without :authority (and no Host) the server refuses: 400. The
	// handshake callback sees the request with its error, as for any
	// invalid upgrade.
	id = c.open(false, without(all, ":authority")...)
	if status, reset, _, err := c.status(id); err != nil || reset || status != http.StatusBadRequest {
		t.Errorf("no :authority: status %d, reset %v, %v; want 400", status, reset, err)
	}
	if err := <-seen; err == nil || !strings.Contains(err.Error(), ":authority") {
		t.Errorf("the handshake callback saw the request without :authority with error %v", err)
	}

	// The connection serves WebSockets on after both.
	echoes(t, wstest.Opened(c.accept(all...), nil), "after the malformed requests")
}

// TestH2DataBeforeAccept sends a WebSocket frame in the same write as the
// extended CONNECT, before the server's answer: the server reads the body
// only once it has sent its 200, so the frame is served after the accept;
// a refused stream's early data is dropped with it.
func TestH2DataBeforeAccept(t *testing.T) {
	if inChild(t) {
		return
	}
	h := startH2(t, Config{}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(_ *Server, c *Conn, req *handshake.Request) {
			if req.HTTP.URL.Path == "/refused" {
				c.SendAcceptError(http.StatusNotFound, "no such endpoint", nil)
			}
		})
	})
	c := dialRawH2(t, h.h2addr, h.pool)
	early := wstest.AppendFrame(nil, true, 0, 1, []byte("sent before the 200"))

	id := c.open(false, websocketFields(h.h2addr)...)
	c.frame(h2FrameData, 0, id, early)
	if status, reset, _, err := c.status(id); err != nil || reset || status != http.StatusOK {
		t.Fatalf("status %d, reset %v, %v; want 200", status, reset, err)
	}
	cl := wstest.Opened(c.rawStream(id), nil)
	if op, p, _, err := cl.ReadMessage(wait); err != nil || op != 1 || string(p) != "sent before the 200" {
		t.Fatalf("echo of the early frame: op %d %q %v", op, p, err)
	}
	echoes(t, cl, "and after it")

	id = c.open(false, websocketFieldsAt("/refused", h.h2addr)...)
	c.frame(h2FrameData, 0, id, early)
	if status, reset, _, err := c.status(id); err != nil || reset || status != http.StatusNotFound {
		t.Fatalf("refused: status %d, reset %v, %v; want 404", status, reset, err)
	}
	if n := h.s.Connections(); count(n) != 1 {
		t.Errorf("%d connections, want 1 (the refused stream's data opened none)", count(n))
	}
	echoes(t, cl, "after the refused stream")
}

func count[T any](seq func(func(T) bool)) int {
	n := 0
	for range seq {
		n++
	}
	return n
}

// TestH2FlowControlStall is a client that never gives the server
// flow-control window on one stream (SETTINGS_INITIAL_WINDOW_SIZE 0): the
// server's writes to it block in net/http, while its sends queue up to
// SendQueueLimit and then get the SendQueuePolicy, as on HTTP/1.1 (1008);
// the stalled writer gives up at the close timeout, the stream is reset,
// and the loop serves another stream of the same connection all along.
// Stop with a stalled stream finishes within the close timeout too.
func TestH2FlowControlStall(t *testing.T) {
	if inChild(t) {
		return
	}
	const closeTimeout = 500 * time.Millisecond
	type closed struct {
		code ws.CloseCode
		at   time.Time
	}
	closes := make(chan closed, 4)
	sendErr := make(chan error, 4)
	var cfg Config
	cfg.SendQueueLimit = 64 << 10
	cfg.CloseTimeout = closeTimeout
	h := startH2(t, cfg, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) { closes <- closed{code, time.Now()} })
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				switch string(m.Payload) {
				case "flood": // until the queue refuses
					for {
						if err := c.SendBinary(make([]byte, 16<<10)); err != nil {
							sendErr <- err
							return
						}
					}
				case "some": // under the limit
					c.SendBinary(make([]byte, 16<<10))
					c.SendBinary(make([]byte, 16<<10))
					sendErr <- nil
				default:
					c.Send(m.Opcode, m.Payload)
				}
			})
		})
	})
	var open atomic.Uint32 // the one stream that gets window
	c := dialRawH2(t, h.h2addr, h.pool, [2]uint32{h2SettingInitialWindowSize, 0})
	c.window = func(id uint32) bool { return id == open.Load() }
	all := websocketFields(h.h2addr)

	stalled := c.accept(all...)
	served := c.accept(all...)
	open.Store(served.id)
	c.frame(h2FrameWindowUpdate, 0, served.id, binary.BigEndian.AppendUint32(nil, 1<<20))
	cs, cl := wstest.Opened(stalled, nil), wstest.Opened(served, nil)
	echoes(t, cl, "before the stall")

	if err := cs.WriteMessage(1, []byte("flood")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sendErr:
		if !errors.Is(err, ws.ErrBackpressure) {
			t.Fatalf("flood ended with %v, want ws.ErrBackpressure", err)
		}
	case <-time.After(wait):
		t.Fatal("sends to a stalled stream never refused: the send queue is not bounded")
	}
	refused := time.Now()
	echoes(t, cl, "while the other stream is stalled")
	select {
	case cc := <-closes:
		// The policy closes with 1008, whose close frame cannot reach
		// the peer: the closing handshake never completes, and the close
		// listeners get 1006 (RFC 6455 section 7.1.5), as on HTTP/1.1.
		if cc.code != frame.CloseAbnormal {
			t.Errorf("stalled connection closed with %d, want %d", cc.code, frame.CloseAbnormal)
		}
		if d := cc.at.Sub(refused); d > closeTimeout+2*time.Second {
			t.Errorf("stalled connection closed %v after the refusal, want about the close timeout %v", d, closeTimeout)
		}
	case <-time.After(wait):
		t.Fatal("the stalled connection never closed")
	}
	if err := expectReset(c, stalled.id); err != nil {
		t.Error(err)
	}
	echoes(t, cl, "after the stalled stream ended")

	// Stop with a stalled stream holding queued bytes (under the limit).
	again := c.accept(all...)
	ca := wstest.Opened(again, nil)
	if err := ca.WriteMessage(1, []byte("some")); err != nil {
		t.Fatal(err)
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, "bytes queued on the stalled stream", func() bool {
		for conn := range h.s.Connections() {
			if conn.BufferedAmount() > 0 {
				return true
			}
		}
		return false
	})
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- h.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > closeTimeout+2*time.Second {
			t.Errorf("Stop took %v with a stalled stream, want about the close timeout %v", d, closeTimeout)
		}
	case <-time.After(wait + closeTimeout):
		t.Fatal("Stop never finished with a stalled stream")
	}
	if err := expectReset(c, again.id); err != nil {
		t.Error(err)
	}
}

// expectReset reads stream id until the server resets it.
func expectReset(c *rawH2, id uint32) error {
	for {
		f, err := c.expect(id, wait)
		if err != nil {
			return err
		}
		if f.typ == h2FrameRSTStream {
			return nil
		}
		if f.flags&h2FlagEndStream != 0 {
			return fmt.Errorf("stream %d ended (END_STREAM) where a reset was expected", id)
		}
	}
}

// TestH2StreamLimit opens more WebSocket streams on one HTTP/2 connection
// than the server's MaxConcurrentStreams: net/http resets the one past the
// limit before the server sees it, the others are served on, and a
// WebSocket that ends frees its stream. Config.MaxConnections counts the
// streams of every connection: past it, 503.
func TestH2StreamLimit(t *testing.T) {
	if inChild(t) {
		return
	}
	h := startH2With(t, Config{MaxConnections: 3}, echo, func(hs *http.Server) {
		hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 2}
	})
	a := dialRawH2(t, h.h2addr, h.pool)
	if n := a.setting(h2SettingMaxConcurrentStreams); n != 2 {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 2", n)
	}
	all := websocketFields(h.h2addr)
	s1, s2 := a.accept(all...), a.accept(all...)
	c1, c2 := wstest.Opened(s1, nil), wstest.Opened(s2, nil)
	id := a.open(false, all...)
	if status, reset, code, err := a.status(id); err != nil || !reset || code != h2ErrProtocol {
		t.Fatalf("stream past the limit: status %d, reset %v code %d, %v; want RST_STREAM PROTOCOL_ERROR", status, reset, code, err)
	}
	echoes(t, c1, "first stream after the refusal")
	echoes(t, c2, "second stream after the refusal")

	// A WebSocket that ends frees its stream.
	if err := c1.WriteFrame(true, 8, wstest.ClosePayload(1000, "")); err != nil {
		t.Fatal(err)
	}
	if code, _, err := c1.ExpectClose(wait); err != nil || code != 1000 {
		t.Fatalf("close: %d %v", code, err)
	}
	s1.Close()
	if err := c1.ExpectEOF(wait); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, "the first WebSocket leaving the registry", func() bool { return count(h.s.Connections()) == 1 })
	c3 := wstest.Opened(a.accept(all...), nil)
	echoes(t, c3, "in the freed stream")

	// Two WebSockets on a, one on b: MaxConnections is reached.
	b := dialRawH2(t, h.h2addr, h.pool)
	echoes(t, wstest.Opened(b.accept(all...), nil), "third WebSocket")
	id = b.open(false, all...)
	if status, reset, _, err := b.status(id); err != nil || reset || status != http.StatusServiceUnavailable {
		t.Fatalf("past MaxConnections: status %d, reset %v, %v; want 503", status, reset, err)
	}
}

// TestH2OwnLocationHTTP2Config checks that HTTPConfig.HTTP2 reaches the
// HTTP/2 server of the server's own TLS locations, and that Configure
// changes it for new connections.
func TestH2OwnLocationHTTP2Config(t *testing.T) {
	if inChild(t) {
		return
	}
	var cfg Config
	cfg.HTTP.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 7}
	h, pool := startH2Location(t, cfg, echo)
	a := dialRawH2(t, h.addr, pool)
	if n := a.setting(h2SettingMaxConcurrentStreams); n != 7 {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 7", n)
	}
	echoes(t, wstest.Opened(a.accept(websocketFields(h.addr)...), nil), "on the own location")
	cfg = h.s.Config()
	cfg.HTTP.HTTP2.MaxConcurrentStreams = 9
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	b := dialRawH2(t, h.addr, pool)
	if n := b.setting(h2SettingMaxConcurrentStreams); n != 9 {
		t.Fatalf("after Configure: SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 9", n)
	}
	echoes(t, wstest.Opened(b.accept(websocketFields(h.addr)...), nil), "after Configure")
}
