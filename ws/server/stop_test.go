package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// Stop ends the connections still sending their request head (read by the
// locations' fast path, outside net/http) at once, as net/http's Close
// does for its own, instead of leaving them to the handshake timeout.
func TestStopClosesHandshakesInProgress(t *testing.T) {
	h := start(t, Config{}, echo)
	nc := h.DialTCP()
	if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, "the server reading the request head", func() bool {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		return len(h.s.heads) == 1
	})
	h.s.Stop()
	// wait is below the handshake timeout: only Stop can end the socket
	// before the deadline.
	nc.SetReadDeadline(time.Now().Add(min(wait, defaultHandshakeTimeout/2)))
	if _, err := io.Copy(io.Discard, nc); isTimeout(err) {
		t.Fatalf("the half-sent request still holds its socket after Stop: %v", err)
	}
}

// stopOnFirstWrite hijacks for the server and calls Stop right after the
// first write to the connection (the 101): the window between the answer
// and the connection's first frame.
type stopOnFirstWrite struct {
	http.ResponseWriter
	srv *Server
}

func (w stopOnFirstWrite) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	return &hookConn{Conn: nc, srv: w.srv}, brw, err
}

type hookConn struct {
	net.Conn
	srv  *Server
	once sync.Once
}

func (c *hookConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.once.Do(func() { c.srv.Stop() })
	return n, err
}

// A client that holds a 101 has an established connection (RFC 6455
// section 4.2.2): Stop owes it a close frame, however close the two are.
func TestStopRightAfterHandshake(t *testing.T) {
	h := startMounted(t, Config{}, nil)
	s := h.s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.UpgradeConnection(stopOnFirstWrite{w, s}, r)
	})}
	go hs.Serve(ln)
	defer hs.Close()
	c := dialAt(t, ln.Addr().String(), "/", nil)
	defer c.Close()
	code, _, err := c.ExpectClose(wait)
	if err != nil || code != 1001 {
		t.Fatalf("close %d %v, want 1001", code, err)
	}
	c.WriteFrame(true, 8, wstest.ClosePayload(1001, ""))
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStopClosesEveryPeer(t *testing.T) {
	closes := make(chan ws.CloseCode, 10)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) { closes <- code })
		})
	})
	s := h.s
	var cs []*wstest.Client
	for range 3 {
		c := h.Dial("/", nil)
		defer c.Close()
		cs = append(cs, c)
	}
	s.Stop(frame.CloseServiceRestart)
	for _, c := range cs {
		code, _, err := c.ExpectClose(wait)
		if err != nil || code != 1012 {
			t.Fatalf("close %d %v, want 1012", code, err)
		}
		c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
	}
	for range cs {
		if code := <-closes; code != frame.CloseServiceRestart {
			t.Fatalf("close event with %v", code)
		}
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("loop: %v", err)
	}
	if _, err := s.Addr(); !errors.Is(err, ErrNoListeners) {
		t.Fatalf("Addr after Stop: %v", err)
	}
	if _, err := net.Dial("tcp", h.addr); err == nil {
		t.Fatal("still listening after Stop")
	}
}

func TestStopAndStartListening(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	h.s.StopListening()
	if _, err := net.DialTimeout("tcp", h.addr, time.Second); err == nil {
		t.Fatal("dial succeeded after StopListening")
	}
	// The established connection is served on.
	c.WriteMessage(1, []byte("still here"))
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "still here" {
		t.Fatalf("%q %v", p, err)
	}
	if err := h.s.StartListening(); err != nil {
		t.Fatal(err)
	}
	a, err := h.s.Addr()
	if err != nil {
		t.Fatal(err)
	}
	c2 := dialAt(t, a.String(), "/", nil)
	c2.Close()
}

// A close code that may not go on the wire is refused before Stop does
// anything: the server listens and serves on, and a valid code later
// stops it.
func TestStopRefusesACodeNotForTheWire(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	for _, code := range []ws.CloseCode{frame.CloseAbnormal, frame.CloseTLSHandshake, 999, 5000} {
		if err := h.s.Stop(code); !errors.Is(err, ws.ErrInvalid) {
			t.Errorf("Stop(%d): %v, want ws.ErrInvalid", code, err)
		}
	}
	if err := h.s.Stop(frame.CloseAway, frame.CloseNormal); err == nil {
		t.Error("Stop with two codes: accepted")
	}
	echoes(t, c, "still served")
	h.dial(nil).Close() // still listening
	if err := h.s.Stop(frame.CloseServiceRestart); err != nil {
		t.Fatalf("Stop(1012): %v", err)
	}
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1012 {
		t.Fatalf("close %d %v, want 1012", code, err)
	}
	if err := h.s.Stop(); err != nil {
		t.Fatalf("Stop on a stopped server: %v, want nil", err)
	}
}

// A connection that is closing already when Stop comes is no error.
func TestStopWithAConnectionClosingAlready(t *testing.T) {
	ids := make(chan uint64, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) { ids <- c.ID() })
	})
	c := h.dial(nil)
	if err := h.s.Connection(<-ids).Close(frame.CloseNormal, "bye"); err != nil {
		t.Fatal(err)
	}
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
		t.Fatalf("close %d %v", code, err)
	}
	if err := h.s.Stop(); err != nil {
		t.Fatalf("Stop: %v, want nil", err)
	}
}
