package nats

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/ws"
)

// arrival is a message of the outage test as a subscriber got it.
type arrival struct {
	from string // the publishing node
	seq  int
	at   time.Time
}

// arrivals parses what s received ("a17|padding...").
func (s *subscriber) arrivals(t *testing.T) []arrival {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]arrival, 0, len(s.got))
	for i, m := range s.got {
		head, _, _ := strings.Cut(m, "|")
		seq, err := strconv.Atoi(head[1:])
		if err != nil {
			t.Fatalf("message %q", m)
		}
		out = append(out, arrival{from: head[:1], seq: seq, at: s.at[i]})
	}
	return out
}

// The NATS server killed for 5 s and restarted on its port while both
// nodes publish: local delivery never stops, the publishes past the
// reconnect buffer are counted as dropped, cross-node delivery resumes
// within 2 s of the restart (the subscriptions restored by the client),
// every subscriber gets each publisher's messages at most once and in
// order, and goroutines, descriptors and memory are back to where they
// were.
func TestBrokerOutage(t *testing.T) {
	ns := startNATS(t)
	opts := Options{ReconnectBufSize: 32 << 10}
	a := startNode(t, ns.url(), opts)
	b := startNode(t, ns.url(), opts)
	cs := newClients()
	subA, subB := cs.dial(t, a.addr, "feed"), cs.dial(t, b.addr, "feed")
	subA.headOnly, subB.headOnly = true, true
	cs.run(t)
	waitFor(t, "the subscribers", func() bool { return a.srv.Subscribers("feed") == 1 && b.srv.Subscribers("feed") == 1 })
	flush(t, a, b)

	// Each node publishes a 512-byte message every millisecond: the 32 KiB
	// reconnect buffer fills in well under the outage.
	pad := strings.Repeat("x", 500)
	var stop atomic.Bool
	var wg sync.WaitGroup
	published := map[string]*atomic.Int64{"a": new(atomic.Int64), "b": new(atomic.Int64)}
	for name, nd := range map[string]*node{"a": a, "b": b} {
		wg.Go(func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := 0; !stop.Load(); i++ {
				<-tick.C
				if err := nd.srv.Publish("feed", ws.OpText, fmt.Appendf(nil, "%s%d|%s", name, i, pad)); err != nil {
					t.Error(err)
					return
				}
				published[name].Store(int64(i + 1))
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()

	crossed := func(s *subscriber, from string, after time.Time) bool {
		for _, m := range s.arrivals(t) {
			if m.from == from && m.at.After(after) {
				return true
			}
		}
		return false
	}
	warm := time.Now()
	waitFor(t, "cross-node traffic before the outage", func() bool {
		return crossed(subA, "b", warm) && crossed(subB, "a", warm)
	})

	// The memory baseline is that of steady traffic.
	runtime.GC()
	debug.FreeOSMemory()
	rss0 := rssBytes(t)
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	// Two of the goroutines are the publishers.
	g0, fd0 := runtime.NumGoroutine()-2, openFDs(t)
	killed := time.Now()
	ns.stop()
	waitFor(t, "both nodes to see the broker gone", func() bool { return !a.b.Stats().Connected && !b.b.Stats().Connected })
	time.Sleep(5*time.Second - time.Since(killed)) // the outage itself: 5 s, not an ordering wait
	restarted := time.Now()
	ns.start()
	ready := time.Now()
	var resumeA, resumeB time.Duration
	deadline := restarted.Add(wait)
	for resumeA == 0 || resumeB == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("cross-node delivery did not resume within %v of the restart (a %v, b %v)", wait, resumeA, resumeB)
		}
		if resumeA == 0 && crossed(subA, "b", restarted) {
			resumeA = time.Since(restarted)
		}
		if resumeB == 0 && crossed(subB, "a", restarted) {
			resumeB = time.Since(restarted)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // steady traffic after the restart
	stop.Store(true)
	wg.Wait()
	flush(t, a, b)
	// Both nodes' last messages, to both subscribers.
	last := map[string]int{"a": int(published["a"].Load()) - 1, "b": int(published["b"].Load()) - 1}
	waitFor(t, "every subscriber to get both nodes' last message", func() bool {
		for _, s := range []*subscriber{subA, subB} {
			got := map[string]bool{}
			for _, m := range s.arrivals(t) {
				if m.seq == last[m.from] {
					got[m.from] = true
				}
			}
			if !got["a"] || !got["b"] {
				return false
			}
		}
		return true
	})

	sa, sb := a.b.Stats(), b.b.Stats()
	for _, c := range []struct {
		s     *subscriber
		local string
		st    Stats
	}{{subA, "a", sa}, {subB, "b", sb}} {
		next := map[string]int{"a": 0, "b": 0}
		var maxLocalGap time.Duration
		var prevLocal time.Time
		received := map[string]int{}
		for _, m := range c.s.arrivals(t) {
			if m.from == c.local {
				// Local delivery is complete and in order, outage or not.
				if m.seq != next[m.from] {
					t.Fatalf("node %s's subscriber got its own node's %d after %d: local delivery broke", c.local, m.seq, next[m.from]-1)
				}
				if !prevLocal.IsZero() && m.at.After(killed) && m.at.Before(ready) {
					maxLocalGap = max(maxLocalGap, m.at.Sub(prevLocal))
				}
				prevLocal = m.at
			} else if m.seq < next[m.from] {
				t.Fatalf("node %s's subscriber got %s%d after %s%d: repeated or out of order", c.local, m.from, m.seq, m.from, next[m.from]-1)
			}
			next[m.from] = m.seq + 1
			received[m.from]++
		}
		if maxLocalGap > time.Second {
			t.Errorf("node %s: local delivery stalled for %v during the outage", c.local, maxLocalGap)
		}
		other := "b"
		if c.local == "b" {
			other = "a"
		}
		t.Logf("node %s: local %d/%d (longest gap during the outage %v), from %s %d/%d; stats %+v",
			c.local, received[c.local], last[c.local]+1, maxLocalGap, other, received[other], last[other]+1, c.st)
		if c.st.Dropped == 0 {
			t.Errorf("node %s dropped nothing with a 32 KiB reconnect buffer over a 5 s outage: %+v", c.local, c.st)
		}
		if c.st.Reconnects != 1 || !c.st.Connected {
			t.Errorf("node %s: %+v, want connected after 1 reconnect", c.local, c.st)
		}
		if c.st.Subscriptions != 1 {
			t.Errorf("node %s holds %d subscriptions, want 1", c.local, c.st.Subscriptions)
		}
	}
	t.Logf("outage: killed for %v; nats-server up %v after its start; cross-node delivery resumed %v (to a) and %v (to b) after the restart",
		restarted.Sub(killed).Round(time.Millisecond), ready.Sub(restarted).Round(time.Millisecond),
		resumeA.Round(time.Millisecond), resumeB.Round(time.Millisecond))
	if resumeA > 2*time.Second || resumeB > 2*time.Second {
		t.Errorf("cross-node delivery resumed %v and %v after the restart, want within 2 s", resumeA, resumeB)
	}

	// Nothing left behind: measured against the steady traffic before the
	// outage, the goroutines are the same (the publishers ended), the old
	// NATS sockets are closed, memory is near (the subscribers' records of
	// some 10,000 messages aside).
	g := settledGoroutines(g0)
	deadlineFD := time.Now().Add(wait)
	fd := openFDs(t)
	for fd > fd0 && time.Now().Before(deadlineFD) {
		time.Sleep(10 * time.Millisecond)
		fd = openFDs(t)
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss := rssBytes(t)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("goroutines %d → %d, fds %d → %d, Go heap in use %.1f → %.1f MiB, RSS %.1f → %.1f MiB (race detector %v)",
		g0, g, fd0, fd, float64(ms0.HeapInuse)/(1<<20), float64(ms.HeapInuse)/(1<<20),
		float64(rss0)/(1<<20), float64(rss)/(1<<20), raceEnabled)
	if g > g0 {
		t.Errorf("%d goroutines after the outage, %d before", g, g0)
	}
	if fd > fd0 {
		t.Errorf("%d open descriptors after the outage, %d before", fd, fd0)
	}
	if ms.HeapInuse > ms0.HeapInuse+8<<20 {
		t.Errorf("Go heap in use %d MiB after the outage, %d MiB before", ms.HeapInuse>>20, ms0.HeapInuse>>20)
	}
	if !raceEnabled && rss > rss0+16<<20 {
		t.Errorf("RSS %d MiB after the outage, %d MiB before", rss>>20, rss0>>20)
	}
}
