package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// Stop ends the connections still sending their request head (read by the
// locations' fast path, outside net/http) at once, as net/http's Close
// does for its own, instead of leaving them to the handshake timeout.
func TestStopClosesHandshakesInProgress(t *testing.T) {
	h := start(t, Config{}, echo)
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
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
	c, err := wstest.Dial(ln.Addr().String(), "/", nil)
	if err != nil {
		t.Fatal(err)
	}
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
