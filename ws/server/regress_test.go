package server

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"testing"

	"unievent.dev/internal/wstest"
)

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

// Configure must not compare the handler (a func type panics when
// compared).
func TestConfigureWithHandlerFunc(t *testing.T) {
	cfg := Config{HTTP: HTTPConfig{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}}
	h := start(t, cfg, echo)
	cfg.Locations = []Location{{Host: "127.0.0.1"}}
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.MaxHeaderBytes = 2048 // a new front end takes over
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	c := h.dial(nil)
	c.Close()
}
