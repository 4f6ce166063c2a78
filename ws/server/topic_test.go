package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// subscribeByPath subscribes every connection to the topic its request
// path names ("/a" → "a"), and sends on closed each connection that ends.
func subscribeByPath(t *testing.T, closed chan<- *Conn) func(*Server) {
	return func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, req *handshake.Request) {
			if err := c.Subscribe(strings.TrimPrefix(req.HTTP.URL.Path, "/")); err != nil {
				t.Error(err)
			}
		})
		s.OnDisconnection(func(_ *Server, c *Conn) {
			if closed != nil {
				closed <- c
			}
		})
	}
}

// waitFor polls cond until it holds, for at most wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// readText reads one text message from c and fails unless it is want.
func readText(t *testing.T, c *wstest.Client, want string) {
	t.Helper()
	op, p, _, err := c.ReadMessage(wait)
	if err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if frame.Opcode(op) != ws.OpText || string(p) != want {
		t.Fatalf("got opcode %d %q, want text %q", op, p, want)
	}
}

// A publish reaches every subscriber of its topic, in publish order, and
// no connection of another topic.
func TestPublishReachesEverySubscriber(t *testing.T) {
	h := start(t, Config{}, subscribeByPath(t, nil))
	var subs []*wstest.Client
	for range 3 {
		subs = append(subs, h.Dial("/a", nil))
	}
	other := h.Dial("/b", nil)
	waitFor(t, "4 subscriptions", func() bool { return h.s.Subscribers("a") == 3 && h.s.Subscribers("b") == 1 })
	done := make(chan error, 1)
	go func() { // from a goroutine other than the loop
		for i := range 10 {
			if err := h.s.Publish("a", ws.OpText, []byte(fmt.Sprint("m", i))); err != nil {
				done <- err
				return
			}
		}
		done <- h.s.Publish("b", ws.OpText, []byte("only b"))
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, c := range subs {
		for i := range 10 {
			readText(t, c, fmt.Sprint("m", i))
		}
	}
	readText(t, other, "only b") // and nothing of topic a before it
	if got, want := h.s.TopicStats(), (TopicStats{Published: 11, Delivered: 31}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// Subscribe is idempotent, Topics lists what a connection holds, and
// Unsubscribe says whether it held the topic; a topic nobody holds any
// more is gone.
func TestSubscribeUnsubscribeTopics(t *testing.T) {
	conns := make(chan *Conn, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) { conns <- c })
	})
	h.Dial("/", nil)
	c := <-conns
	for _, name := range []string{"z", "a", "m", "a"} {
		if err := c.Subscribe(name); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"a", "m", "z"}, c.Topics()); diff != "" {
		t.Errorf("Topics (-want +got):\n%s", diff)
	}
	if !c.Unsubscribe("m") || c.Unsubscribe("m") || c.Unsubscribe("never") {
		t.Error("Unsubscribe does not report what the connection held")
	}
	if diff := cmp.Diff([]string{"a", "z"}, c.Topics()); diff != "" {
		t.Errorf("Topics after Unsubscribe (-want +got):\n%s", diff)
	}
	if n := h.s.Subscribers("m"); n != 0 {
		t.Errorf("%d subscribers of a topic left", n)
	}
	h.s.topics.mu.RLock()
	_, kept := h.s.topics.byName["m"]
	h.s.topics.mu.RUnlock()
	if kept {
		t.Error("a topic nobody holds is still in the registry")
	}
}

// A closed connection leaves its topics by itself, before the
// disconnection listeners run, and cannot subscribe again.
func TestClosedConnLeavesItsTopics(t *testing.T) {
	closed := make(chan *Conn, 1)
	var during []int
	h := start(t, Config{}, func(s *Server) {
		subscribeByPath(t, nil)(s)
		s.OnDisconnection(func(s *Server, c *Conn) {
			during = append(during, s.Subscribers("a"), len(c.Topics()))
			closed <- c
		})
	})
	cli := h.Dial("/a", nil)
	waitFor(t, "the subscription", func() bool { return h.s.Subscribers("a") == 1 })
	cli.Close()
	c := <-closed
	if diff := cmp.Diff([]int{0, 0}, during); diff != "" {
		t.Errorf("subscribers and topics in the disconnection listener (-want +got):\n%s", diff)
	}
	if err := c.Subscribe("a"); !errors.Is(err, ws.ErrClosed) {
		t.Errorf("Subscribe after close: %v, want ws.ErrClosed", err)
	}
	if n := h.s.Subscribers("a"); n != 0 {
		t.Errorf("%d subscribers after the close", n)
	}
}

// Misuse of the topic API gets a defined outcome.
func TestTopicMisuse(t *testing.T) {
	conns := make(chan *Conn, 1)
	var inHandshake error
	h := start(t, Config{Config: ws.Config{SendQueueLimit: 1024}}, func(s *Server) {
		s.OnHandshake(func(_ *Server, c *Conn, _ *handshake.Request) { inHandshake = c.Subscribe("a") })
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) { conns <- c })
	})
	cli := h.Dial("/", nil)
	c := <-conns
	if !errors.Is(inHandshake, ws.ErrNotEstablished) {
		t.Errorf("Subscribe in the handshake callback: %v, want ws.ErrNotEstablished", inHandshake)
	}
	for _, name := range []string{"", strings.Repeat("x", MaxTopicLength+1)} {
		if err := c.Subscribe(name); !errors.Is(err, ws.ErrInvalid) {
			t.Errorf("Subscribe to a %d-byte name: %v, want ws.ErrInvalid", len(name), err)
		}
	}
	if err := c.Subscribe(strings.Repeat("x", MaxTopicLength)); err != nil {
		t.Errorf("Subscribe to a name of MaxTopicLength: %v", err)
	}
	if err := c.Subscribe("a"); err != nil {
		t.Fatal(err)
	}

	// Nobody holds the topic: nothing is sent, the publish is counted.
	if err := h.s.Publish("nobody", ws.OpText, []byte("lost")); err != nil {
		t.Errorf("Publish to a topic nobody holds: %v", err)
	}
	if n := h.s.TopicStats().Unheld; n != 1 {
		t.Errorf("Unheld %d, want 1", n)
	}
	// Over the subscriber's SendQueueLimit: an error, nothing sent.
	if err := h.s.Publish("a", ws.OpBinary, make([]byte, 2000)); !errors.Is(err, ws.ErrInvalid) {
		t.Errorf("Publish over the send queue limit: %v, want ws.ErrInvalid", err)
	}
	for _, tc := range []struct {
		op ws.Opcode
		p  string
	}{{ws.OpText, "\xff"}, {frame.OpPing, "p"}} {
		if err := h.s.Publish("a", tc.op, []byte(tc.p)); !errors.Is(err, ws.ErrInvalid) {
			t.Errorf("Publish opcode %d %q: %v, want ws.ErrInvalid", tc.op, tc.p, err)
		}
	}
	if err := h.s.Publish("a", ws.OpText, []byte("first")); err != nil {
		t.Fatal(err)
	}
	readText(t, cli, "first") // nothing of the refused publishes came before
	if got, want := h.s.TopicStats(), (TopicStats{Published: 1, Unheld: 1, Delivered: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}
