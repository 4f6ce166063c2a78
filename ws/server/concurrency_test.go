package server

import (
	"fmt"
	"sync"
	"testing"

	"unievent.dev/ws/handshake"
)

// Sends from many goroutines at once: every message arrives whole, and the
// messages of each goroutine arrive in the order it sent them.
func TestConcurrentSendsKeepOrder(t *testing.T) {
	const senders, each = 8, 200
	conns := make(chan *Conn, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) { conns <- c })
	})
	c := h.dial(nil)
	sc := <-conns
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := sc.SendText(fmt.Sprintf("%d:%d:%0100d", g, i, i)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	next := make([]int, senders)
	for range senders * each {
		_, p, _, err := c.ReadMessage(wait)
		if err != nil {
			t.Fatal(err)
		}
		var g, i, pad int
		if _, err := fmt.Sscanf(string(p), "%d:%d:%d", &g, &i, &pad); err != nil || pad != i {
			t.Fatalf("mangled message %q", p)
		}
		if i != next[g] {
			t.Fatalf("sender %d: message %d arrived when %d was due", g, i, next[g])
		}
		next[g]++
	}
	wg.Wait()
}
