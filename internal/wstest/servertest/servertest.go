// Package servertest runs a WebSocket server on an event loop of its own
// for tests, the way net/http/httptest runs an HTTP server: the tests of
// ws/server, ws/client, reliability, autobahn, fuzz and the examples share
// it.
//
// It does not import ws/server, so that package's own tests can use it;
// any server with Run, Addr and Stop (a *server.Server) fits.
package servertest

import (
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
)

// Server is what Start runs; *server.Server is one.
type Server interface {
	Run() error
	Addr() (net.Addr, error)
	Stop(code ...ws.CloseCode) error
}

// StopTimeout bounds how long Stop waits for the loop to return.
const StopTimeout = 30 * time.Second

// Options tune Start.
type Options struct {
	// NoLeakCheck skips the check, after the server stopped, that the
	// goroutines and file descriptors of the process are back to what
	// they were before Start.
	NoLeakCheck bool
}

// Running is a server serving on its own loop, on a loopback address.
type Running[S Server] struct {
	Server S
	Loop   *ws.Loop
	// Addr is the server's first listening address, host:port; empty for
	// a server without locations (one mounted on another http.Server).
	Addr string

	tb       testing.TB
	done     chan error
	stopOnce sync.Once
	loopErr  error
}

// Start makes a loop, builds the server on it with newServer, runs the
// server (listening on the locations newServer gave it, 127.0.0.1 in
// tests, or none) and the loop, on a goroutine of its own. The test's cleanup stops
// the server, waits for the loop to return and, unless opts.NoLeakCheck,
// that no goroutine or file descriptor is left behind. Any failure on the
// way, and an error from the loop, fails the test.
func Start[S Server](tb testing.TB, opts Options, newServer func(*ws.Loop) (S, error)) *Running[S] {
	tb.Helper()
	before := TakeBaseline()
	loop := ws.NewLoop()
	s, err := newServer(loop)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Run(); err != nil {
		tb.Fatal(err)
	}
	r := &Running[S]{Server: s, Loop: loop, tb: tb, done: make(chan error, 1)}
	if a, err := s.Addr(); err == nil {
		r.Addr = a.String()
	}
	go func() { r.done <- loop.Run() }()
	tb.Cleanup(func() {
		if err := r.Stop(); err != nil {
			tb.Errorf("loop: %v", err)
		}
		if !opts.NoLeakCheck {
			before.Check(tb, 0, 5*time.Second)
		}
	})
	return r
}

// Stop stops the server (the first call) and waits for its loop to return;
// it returns the loop's error. The test fails if the loop does not return
// within StopTimeout.
func (r *Running[S]) Stop() error {
	r.tb.Helper()
	r.stopOnce.Do(func() {
		r.Server.Stop()
		select {
		case r.loopErr = <-r.done:
		case <-time.After(StopTimeout):
			r.tb.Errorf("the loop did not return within %v after Stop", StopTimeout)
		}
	})
	return r.loopErr
}

// Dial opens a WebSocket connection to path with the extra request header
// h; the test's cleanup closes it.
func (r *Running[S]) Dial(path string, h http.Header) *wstest.Client {
	r.tb.Helper()
	c, err := wstest.Dial(r.Addr, path, h)
	if err != nil {
		r.tb.Fatal(err)
	}
	r.tb.Cleanup(func() { c.Close() })
	return c
}

// DialTCP opens a plain TCP connection to the server, for a test that
// writes its own bytes; the test's cleanup closes it.
func (r *Running[S]) DialTCP() net.Conn {
	r.tb.Helper()
	nc, err := net.DialTimeout("tcp", r.Addr, wstest.WaitTimeout)
	if err != nil {
		r.tb.Fatal(err)
	}
	r.tb.Cleanup(func() { nc.Close() })
	return nc
}

// Baseline is the goroutine and file descriptor count of the process.
type Baseline struct {
	Goroutines, FDs int
}

// TakeBaseline counts the goroutines and open file descriptors now.
func TakeBaseline() Baseline {
	return Baseline{runtime.NumGoroutine(), fdCount()}
}

// fdCount returns the number of open file descriptors, -1 where
// /proc/self/fd does not exist.
func fdCount() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory being read
}

// Check waits until the goroutines and file descriptors are back to b
// (plus extraFDs still open on purpose) and fails the test with a dump of
// every goroutine if they are not within timeout.
func (b Baseline) Check(tb testing.TB, extraFDs int, timeout time.Duration) {
	tb.Helper()
	var g, f int
	back := wstest.Poll(timeout, func() bool {
		g, f = runtime.NumGoroutine(), fdCount()
		return g <= b.Goroutines && (b.FDs < 0 || f <= b.FDs+extraFDs)
	})
	if !back {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		tb.Errorf("not back to the baseline after %v: goroutines %d (baseline %d), file descriptors %d (baseline %d + %d)\n%s",
			timeout, g, b.Goroutines, f, b.FDs, extraFDs, buf)
	}
}
