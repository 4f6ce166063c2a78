package ws

import (
	"testing"

	"unievent.dev/internal/wstest"
)

// Runs flushed while callbacks run on the loop wait for them to return:
// what a callback publishes, message after message, is still queued
// (nothing written, the claim kept) when the callback ends, and then goes
// out, every message, in order. A run flushed from another goroutine
// meanwhile waits for the same end; one flushed with no callback running
// starts at once.
func TestDeferredRunsWaitForTheCallbacks(t *testing.T) {
	loop := runningLoop(t)
	const n = 2*deferredChunk + 1
	var conns []*Conn
	var clients []*wstest.Client
	for range n {
		srv, cli := tcpPair(t)
		c, cl := startConn(t, srv, cli, &Config{}, connOptions{Loop: loop}, nil)
		conns = append(conns, c)
		clients = append(clients, cl)
	}
	msgs := []string{"one", "two", "three"}
	var pms []*PreparedMessage
	for _, m := range msgs {
		pm, err := NewPreparedMessage(OpText, []byte(m))
		if err != nil {
			t.Fatal(err)
		}
		pms = append(pms, pm)
	}
	publish := func(pm *PreparedMessage) {
		d := newDeferred()
		for _, c := range conns {
			if err := c.sendDeferred(pm, d); err != nil {
				t.Error(err)
			}
		}
		flushDeferred(d)
	}
	// The first run of the loop starts at once (nothing to wait for);
	// it also makes the loop's callbacks cork what follows.
	publish(pms[0])
	for _, cl := range clients {
		if got := readFrames(t, cl, &wstest.Inflater{}, 1); got[0] != "1:one" {
			t.Fatalf("first frame %q, want 1:one", got[0])
		}
	}
	wstest.WaitFor(t, "every claim given back", func() bool {
		for _, c := range conns {
			if c.q.busy() {
				return false
			}
		}
		return true
	})

	foreign := make(chan struct{})
	var held int
	loop.Exec(func() {
		publish(pms[1])
		go func() { publish(pms[2]); close(foreign) }()
		<-foreign
		loop.deferred.mu.Lock()
		if loop.deferred.held != nil {
			held = len(loop.deferred.held.Conns)
		}
		loop.deferred.mu.Unlock()
	})
	// The second message found every queue still claimed by the first
	// one's run: nothing more was recorded.
	if held != n {
		t.Fatalf("%d connections held for the end of the callback, want %d", held, n)
	}
	for i, cl := range clients {
		got := readFrames(t, cl, &wstest.Inflater{}, 2)
		if got[0] != "1:two" || got[1] != "1:three" {
			t.Fatalf("connection %d: frames %q, want 1:two, 1:three", i, got)
		}
	}
}
