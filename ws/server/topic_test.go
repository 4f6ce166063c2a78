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

// A subscriber that reads nothing never blocks the publisher nor delays
// the others: once its queue is full, BackpressureRefuse skips the
// messages for it (counted as Skipped, the connection stays) and
// BackpressureClose closes it with 1008. The publisher paces itself on a
// subscriber that reads, which gets every message in order.
func TestSlowSubscriberNeverBlocksThePublisher(t *testing.T) {
	for _, policy := range []ws.Backpressure{ws.BackpressureRefuse, ws.BackpressureClose} {
		t.Run(fmt.Sprint("policy=", policy), func(t *testing.T) {
			closed := make(chan *Conn, 2)
			h := start(t, Config{Config: ws.Config{SendQueueLimit: 64 << 10, SendQueuePolicy: policy}}, subscribeByPath(t, closed))
			fast, slow := h.Dial("/t", nil), h.Dial("/t", nil)
			waitFor(t, "2 subscribers", func() bool { return h.s.Subscribers("t") == 2 })
			payload := make([]byte, 4<<10)
			const most = 20000 // 80 MB: past any socket buffer
			sent := 0
			for ; sent < most && h.s.TopicStats() == (TopicStats{Published: uint64(sent), Delivered: 2 * uint64(sent)}); sent++ {
				copy(payload, fmt.Sprintf("%08d", sent))
				if err := h.s.Publish("t", ws.OpBinary, payload); err != nil {
					t.Fatal(err)
				}
				_, p, _, err := fast.ReadMessage(wait)
				if err != nil {
					t.Fatalf("fast subscriber, message %d: %v", sent, err)
				}
				if got := string(p[:8]); got != fmt.Sprintf("%08d", sent) {
					t.Fatalf("fast subscriber got message %s, want %d", got, sent)
				}
			}
			st := h.s.TopicStats()
			t.Logf("%d publishes of 4 KiB until the slow subscriber refused one; %+v", sent, st)
			if st.Skipped+st.Dropped == 0 {
				t.Fatalf("the slow subscriber took %d messages of 4 KiB without refusing one", sent)
			}
			var slowConn *Conn
			for c := range h.s.Connections() {
				if c.Refused() > 0 {
					slowConn = c
				}
			}
			if slowConn == nil || slowConn.Refused() != 1 {
				t.Fatalf("no connection counts the one refusal")
			}
			switch policy {
			case ws.BackpressureRefuse:
				if st.Skipped != 1 || st.Dropped != 0 {
					t.Errorf("stats %+v, want 1 skipped", st)
				}
				if n := h.s.Subscribers("t"); n != 2 {
					t.Errorf("%d subscribers, want the slow one kept", n)
				}
			case ws.BackpressureClose:
				if st.Dropped != 1 || st.Skipped != 0 {
					t.Errorf("stats %+v, want 1 dropped", st)
				}
				// The slow subscriber reads what was queued, then the
				// 1008 close.
				for {
					op, p, _, err := slow.ReadMessage(wait)
					if err != nil {
						t.Fatal(err)
					}
					if op == 8 {
						if code := int(p[0])<<8 | int(p[1]); code != 1008 {
							t.Fatalf("close code %d, want 1008", code)
						}
						break
					}
				}
			}
		})
	}
}

// Publish, Subscribe, Unsubscribe and closing connections race from many
// goroutines (bounded in count); every delivery a client gets is checked:
// from each publisher its messages arrive in publish order, never twice.
func TestTopicsUnderConcurrency(t *testing.T) {
	conns := make(chan *Conn, 8)
	h := start(t, Config{Config: ws.Config{SendQueuePolicy: ws.BackpressureRefuse}}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) { conns <- c })
	})
	const clients, publishers, rounds = 6, 3, 300
	var cls []*wstest.Client
	var cs []*Conn
	for range clients {
		cls = append(cls, h.Dial("/", nil))
		cs = append(cs, <-conns)
	}
	errs := make(chan error, publishers+clients)
	readErrs := make(chan error, clients)
	// Readers: check the order of every delivery per publisher.
	for i, cl := range cls {
		go func() {
			last := map[int]int{}
			for {
				op, p, _, err := cl.ReadMessage(wait)
				if err != nil {
					readErrs <- fmt.Errorf("client %d: %v", i, err)
					return
				}
				if op == 8 { // closed by a churner, or at the test's end
					readErrs <- cl.WriteFrame(true, 8, p)
					return
				}
				var pub, seq int
				if _, err := fmt.Sscanf(string(p), "p%d-%d", &pub, &seq); err != nil {
					readErrs <- fmt.Errorf("client %d: %q", i, p)
					return
				}
				if n, ok := last[pub]; ok && seq <= n {
					readErrs <- fmt.Errorf("client %d: from p%d, %d after %d", i, pub, seq, n)
					return
				}
				last[pub] = seq
			}
		}()
	}
	for p := range publishers {
		go func() {
			for k := range rounds {
				topic := fmt.Sprint("t", k%3)
				if err := h.s.Publish(topic, ws.OpText, []byte(fmt.Sprintf("p%d-%d", p, k))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	// Subscribers churn: subscribe, unsubscribe, list; the last two
	// close their connection halfway.
	for i, c := range cs {
		go func() {
			for k := range rounds {
				name := fmt.Sprint("t", (k+i)%3)
				if err := c.Subscribe(name); err != nil && !errors.Is(err, ws.ErrClosed) {
					errs <- err
					return
				}
				if k%4 == 0 {
					c.Unsubscribe(name)
				}
				c.Topics()
				if i >= clients-2 && k == rounds/2 {
					c.Close(frame.CloseNormal, "")
				}
			}
			errs <- nil
		}()
	}
	for range publishers + clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Every connection leaves its topics when closed.
	for _, c := range cs {
		c.Close(frame.CloseNormal, "")
	}
	for range clients {
		if err := <-readErrs; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every topic empty", func() bool {
		return h.s.Subscribers("t0")+h.s.Subscribers("t1")+h.s.Subscribers("t2") == 0
	})
	t.Logf("%+v", h.s.TopicStats())
}
