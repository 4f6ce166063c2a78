package server

import (
	"runtime/metrics"
	"testing"
	"time"

	"unievent.dev/ws"
)

func (w *workers) waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idle
}

func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestWorkersServeTheNextConnection checks that the goroutine that served
// a connection serves the next one (no goroutine started for it), and
// that a waiting worker ends after workerIdle.
func TestWorkersServeTheNextConnection(t *testing.T) {
	h := start(t, Config{}, echo)
	// echoOnce returns the goroutines started from the dial to the echo.
	echoOnce := func() uint64 {
		before := goroutinesCreated()
		c := h.dial(nil)
		if err := c.WriteFrame(true, byte(ws.OpText), []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "hi" {
			t.Fatalf("echo: %q, %v", p, err)
		}
		n := goroutinesCreated() - before
		c.Close()
		return n
	}
	if n := echoOnce(); n == 0 {
		t.Fatal("no goroutine started for the first connection")
	}
	// Its worker waits once the connection went to the poller (after
	// handoffWait) or ended.
	waitFor(t, "a waiting worker", func() bool { return h.s.workers.waiting() == 1 })
	// The client's dial starts no goroutine, and the waiting worker
	// serves the connection.
	if n := echoOnce(); n != 0 {
		t.Errorf("%d goroutines started for the second connection, want it served by the waiting worker", n)
	}
	waitFor(t, "the worker waiting again", func() bool { return h.s.workers.waiting() == 1 })
	deadline := time.Now().Add(workerIdle + wait)
	for h.s.workers.waiting() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a worker still waits %v after the last connection", workerIdle+wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
