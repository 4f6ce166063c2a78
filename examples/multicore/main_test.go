package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/server"
)

const wait = 5 * time.Second

// runServers starts the example's servers on n loops sharing a free port
// of 127.0.0.1 and runs each loop; the test's cleanup stops them and waits
// for every loop to return. Without SO_REUSEPORT the test is skipped.
func runServers(t *testing.T, n int) []*server.Server {
	t.Helper()
	servers, err := start(server.Config{}, "127.0.0.1", 0, n)
	if errors.Is(err, server.ErrNoReusePort) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, n)
	for _, srv := range servers {
		go func() { done <- srv.Loop().Run() }()
	}
	t.Cleanup(func() {
		for _, srv := range servers {
			srv.Stop()
		}
		for range n {
			select {
			case <-done:
			case <-time.After(2 * wait):
				t.Fatal("a loop did not return after Stop")
			}
		}
	})
	return servers
}

func TestServersShareThePort(t *testing.T) {
	const loops, clients = 4, 32
	servers := runServers(t, loops)

	addr, err := servers[0].Addr()
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range servers[1:] {
		a, err := srv.Addr()
		if err != nil {
			t.Fatal(err)
		}
		if a.String() != addr.String() {
			t.Fatalf("servers listen on %v and %v, want one port", addr, a)
		}
	}
	for i := range clients {
		c, err := wstest.Dial(addr.String(), "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		want := fmt.Sprintf("message %d", i)
		if err := c.WriteMessage(1, []byte(want)); err != nil {
			t.Fatal(err)
		}
		op, got, _, err := c.ReadMessage(wait)
		if err != nil || op != 1 || string(got) != want {
			t.Fatalf("client %d: got %d %q, %v; want the echo", i, op, got, err)
		}
	}

	// Every connection is with exactly one server; the kernel spreads
	// them by a hash, so 32 connections all on one of 4 sockets would
	// mean the port is not shared (odds of 4^-31 otherwise).
	total, used := 0, 0
	for _, srv := range servers {
		total += srv.Len()
		if srv.Len() > 0 {
			used++
		}
	}
	if total != clients {
		t.Errorf("servers hold %d connections, want %d", total, clients)
	}
	if used < 2 {
		t.Errorf("only %d of %d servers got connections", used, loops)
	}
}

// A message sent on /broadcast reaches every /broadcast connection of
// every loop, the sender's included, and the messages of one sender come
// in its order everywhere.
func TestBroadcastReachesEveryLoop(t *testing.T) {
	const loops, clients, rounds = 4, 16, 5
	servers := runServers(t, loops)
	addr, err := servers[0].Addr()
	if err != nil {
		t.Fatal(err)
	}
	var cs []*wstest.Client
	for range clients {
		c, err := wstest.Dial(addr.String(), "/broadcast", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	// Subscribing happens in the connection event, on each loop: wait
	// until every connection holds the topic.
	wstest.WaitFor(t, "every connection subscribed", func() bool {
		n := 0
		for _, srv := range servers {
			n += srv.Subscribers(broadcastTopic)
		}
		return n == clients
	})
	used := 0
	for _, srv := range servers {
		if srv.Subscribers(broadcastTopic) > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("the %d connections are all on one loop of %d", clients, loops)
	}
	// Two senders, on whichever loops they landed.
	senders := []int{0, clients - 1}
	for r := range rounds {
		for _, s := range senders {
			if err := cs[s].WriteMessage(1, []byte(fmt.Sprintf("%d-%d", s, r))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, c := range cs {
		next := map[int]int{}
		for range rounds * len(senders) {
			op, p, _, err := c.ReadMessage(wait)
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			var s, r int
			if _, err := fmt.Sscanf(string(p), "%d-%d", &s, &r); op != 1 || err != nil {
				t.Fatalf("client %d: %d %q", i, op, p)
			}
			if r != next[s] {
				t.Fatalf("client %d: from sender %d message %d, want %d", i, s, r, next[s])
			}
			next[s]++
		}
	}
}
