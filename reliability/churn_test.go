package reliability

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/server"
)

// churnCycle connects, upgrades, exchanges one message and closes
// cleanly.
func churnCycle(addr string, i int) error {
	c, err := wstest.Dial(addr, "/", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := fmt.Sprintf("cycle %d", i)
	if err := c.WriteMessage(1, []byte(msg)); err != nil {
		return err
	}
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != msg {
		return fmt.Errorf("echo: %q %v", p, err)
	}
	if err := c.WriteFrame(true, 8, wstest.ClosePayload(1000, "")); err != nil {
		return err
	}
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
		return fmt.Errorf("close: %d %v", code, err)
	}
	return c.ExpectEOF(wait)
}

// Item 14: a churn soak of connect, upgrade, message and close cycles.
// Goroutines, file descriptors and RSS come back to the baseline; the test
// reports connections per second and the RSS before and after.
func TestChurnSoak(t *testing.T) {
	cycles := scale(2000, 100_000)
	workers := scale(4, 8)
	h := start(t, server.Config{}, echo)
	run := func(n int) (time.Duration, error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		var firstErr atomic.Value
		started := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1))
					if i > n || firstErr.Load() != nil {
						return
					}
					if err := churnCycle(h.addr, i); err != nil {
						firstErr.Store(fmt.Errorf("cycle %d: %w", i, err))
						return
					}
				}
			}()
		}
		wg.Wait()
		took := time.Since(started)
		if err, _ := firstErr.Load().(error); err != nil {
			return took, err
		}
		return took, nil
	}
	// A warm-up fills the pools and grows the heap to its working size.
	warm := 500
	if _, err := run(warm); err != nil {
		t.Fatal(err)
	}
	h.ev.waitDisconnections(t, warm, wait)
	base := servertest.TakeBaseline()
	base.Check(t, 0, wait) // the lingering sockets of the warm-up are gone
	base = servertest.TakeBaseline()
	rss0, mem0 := settledRSS(), goMemory()

	took, err := run(cycles)
	if err != nil {
		t.Fatal(err)
	}
	h.ev.waitDisconnections(t, warm+cycles, wait)
	if n := h.s.Len(); n != 0 {
		t.Errorf("%d connections still registered", n)
	}
	base.Check(t, 0, wait)
	rss1, mem1 := settledRSS(), goMemory()
	h.ev.checkOnce(t, 0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d cycles (connect, upgrade, echo, close) with %d clients in %v: %.0f connections per second",
		cycles, workers, took.Round(time.Millisecond), float64(cycles)/took.Seconds())
	t.Logf("RSS %s before, %s after; Go memory in use %s before, %s after; goroutines %d, file descriptors %d, as before",
		mib(rss0), mib(rss1), kib(mem0), kib(mem1), base.Goroutines, base.FDs)
	if rss0 > 0 && rss1 > rss0+max(rss0/4, 8<<20) {
		t.Errorf("RSS grew from %s to %s", mib(rss0), mib(rss1))
	}
	if mem1 > mem0+1<<20 {
		t.Errorf("Go memory in use grew from %s to %s", kib(mem0), kib(mem1))
	}
}
