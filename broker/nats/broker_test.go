package nats

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

// checkStream fails unless got holds, for each publisher prefix in
// wantPer, exactly its messages prefix0 .. prefix(n-1), each once, in
// order, and nothing else.
func checkStream(t *testing.T, who string, got []string, wantPer map[string]int) {
	t.Helper()
	next := make(map[string]int)
	for _, m := range got {
		p := strings.TrimRight(m, "0123456789")
		want, ok := wantPer[p]
		if !ok {
			t.Fatalf("%s: unexpected message %q", who, m)
		}
		if exp := fmt.Sprint(p, next[p]); m != exp || next[p] >= want {
			t.Fatalf("%s: got %q, want %q (a message lost, repeated or out of order)", who, m, exp)
		}
		next[p]++
	}
	for p, want := range wantPer {
		if next[p] != want {
			t.Fatalf("%s: %d messages of %q, want %d", who, next[p], p, want)
		}
	}
}

// Two nodes on one NATS server, subscribers on both: every publish on
// either node reaches every subscriber of its topic exactly once and in
// its publisher's order, a node never gets its own messages back, and a
// topic's subscribers on the other node cost one NATS message per
// publish whatever their number.
func TestTwoNodes(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), Options{Name: "a"})
	b := startNode(t, ns.url(), Options{Name: "b"})
	cs := newClients()
	var room []*subscriber
	for i := range 6 {
		addr := a.addr
		if i%2 == 1 {
			addr = b.addr
		}
		room = append(room, cs.dial(t, addr, "room"))
	}
	other := cs.dial(t, b.addr, "other")
	cs.run(t)
	waitFor(t, "the subscriptions", func() bool {
		return a.srv.Subscribers("room") == 3 && b.srv.Subscribers("room") == 3 && b.srv.Subscribers("other") == 1
	})
	flush(t, a, b)
	if sa, sb := a.b.Stats(), b.b.Stats(); sa.Subscriptions != 1 || sb.Subscriptions != 2 || !sa.Connected || !sb.Connected {
		t.Fatalf("stats after subscribing: a %+v, b %+v", sa, sb)
	}
	before := ns.mustVarz()

	const n = 300
	var wg sync.WaitGroup
	for _, p := range []struct {
		nd     *node
		prefix string
	}{{a, "a"}, {b, "b"}} {
		wg.Go(func() {
			for i := range n {
				if err := p.nd.srv.Publish("room", ws.OpText, fmt.Appendf(nil, "%s%d", p.prefix, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for k, s := range room {
		waitFor(t, fmt.Sprintf("subscriber %d's %d messages", k, 2*n), func() bool { return s.count() >= 2*n })
	}
	// A duplicate would come after the last original: make sure NATS has
	// delivered everything it will before counting again.
	flush(t, a, b)
	for k, s := range room {
		checkStream(t, fmt.Sprint("subscriber ", k), s.messages(), map[string]int{"a": n, "b": n})
	}
	if got := other.messages(); len(got) != 0 {
		t.Fatalf("a subscriber of another topic got %d messages", len(got))
	}
	after := ns.mustVarz()
	sa, sb := a.b.Stats(), b.b.Stats()
	t.Logf("NATS in_msgs +%d out_msgs +%d for %d publishes; a %+v; b %+v",
		after.InMsgs-before.InMsgs, after.OutMsgs-before.OutMsgs, 2*n, sa, sb)
	if sa.Published != n || sb.Published != n || sa.Received != n || sb.Received != n {
		t.Fatalf("each node published and received %d through NATS: a %+v, b %+v", n, sa, sb)
	}
	if sa.Dropped+sb.Dropped+sa.Invalid+sb.Invalid+sa.Lost+sb.Lost != 0 {
		t.Fatalf("drops without an outage: a %+v, b %+v", sa, sb)
	}
	// One message into NATS per publish, one out per other node that
	// holds the topic (not one per subscriber, none back to its node).
	if in, out := after.InMsgs-before.InMsgs, after.OutMsgs-before.OutMsgs; in != 2*n || out != 2*n {
		t.Fatalf("NATS carried %d in and %d out for %d publishes on two nodes, want %d and %d", in, out, 2*n, 2*n, 2*n)
	}
}

// A topic's NATS subscription exists while a local connection holds it:
// the first subscriber subscribes, the last one's leaving unsubscribes,
// and 10,000 distinct topics subscribed and unsubscribed leave the
// goroutines and the subscriptions, here and at the NATS server, as they
// were.
func TestTopicChurn(t *testing.T) {
	ns := startNATS(t)
	nd := startNode(t, ns.url(), Options{})
	cs := newClients()
	cs.dial(t, nd.addr, "home")
	cs.run(t)
	waitFor(t, "home held", func() bool { return nd.srv.Subscribers("home") == 1 })
	var c *server.Conn
	for c = range nd.srv.Connections() {
	}
	flush(t, nd)
	baseSubs := nd.b.nc.NumSubscriptions()
	baseServer := ns.mustVarz().Subscriptions
	baseG := runtime.NumGoroutine()
	if baseSubs != 1 {
		t.Fatalf("%d NATS subscriptions for one topic", baseSubs)
	}
	const topics, batch = 10_000, 500
	for i := 0; i < topics; i += batch {
		for k := i; k < i+batch; k++ {
			if err := c.Subscribe(fmt.Sprint("churn.", k)); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, nd)
		if got := nd.b.Stats().Subscriptions; got != 1+batch {
			t.Fatalf("%d NATS subscriptions with %d topics held", got, 1+batch)
		}
		for k := i; k < i+batch; k++ {
			if !c.Unsubscribe(fmt.Sprint("churn.", k)) {
				t.Fatal("unsubscribe of a topic held failed")
			}
		}
	}
	flush(t, nd)
	if got := nd.b.nc.NumSubscriptions(); got != baseSubs {
		t.Fatalf("%d NATS subscriptions after the churn, %d before", got, baseSubs)
	}
	if got := nd.b.Stats().Subscriptions; got != 1 {
		t.Fatalf("Stats.Subscriptions %d after the churn, want 1", got)
	}
	waitFor(t, "the NATS server's subscriptions back", func() bool { return ns.mustVarz().Subscriptions == baseServer })
	if g := settledGoroutines(baseG); g > baseG {
		t.Fatalf("%d goroutines after the churn, %d before", g, baseG)
	}
	// The topic still held works.
	other := startNode(t, ns.url(), Options{})
	if err := other.srv.Publish("home", ws.OpText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message to the topic held", func() bool { return cs.subs[0].count() == 1 })
}

// Connect refuses what cannot work, with an error, and leaves the server
// without a broker.
func TestConnectRefuses(t *testing.T) {
	srv, err := server.New(server.Config{}, ws.NewLoop())
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"a.*", "a..b", "a b", ".x"} {
		if _, err := Connect("nats://127.0.0.1:1", srv, Options{Prefix: prefix}); err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("prefix %q: %v, want an invalid-prefix error", prefix, err)
		}
	}
	port := freePort(t) // nothing listens there
	if _, err := Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), srv, Options{}); err == nil {
		t.Error("Connect to a port nobody listens on succeeded")
	}
	if _, err := Connect("nats://127.0.0.1:1", nil, Options{}); err == nil {
		t.Error("Connect without a server succeeded")
	}
	if srv.Broker() != nil {
		t.Error("a failed Connect left a broker on the server")
	}
}

// What reaches a topic's subject that is not a node's message (a foreign
// publisher's) is counted as Invalid and delivered to nobody; a foreign
// publisher that sends the envelope reaches the subscribers.
func TestForeignMessages(t *testing.T) {
	ns := startNATS(t)
	nd := startNode(t, ns.url(), Options{Prefix: "app.chat"})
	cs := newClients()
	s := cs.dial(t, nd.addr, "a.b c")
	cs.run(t)
	waitFor(t, "the topic held", func() bool { return nd.srv.Subscribers("a.b c") == 1 })
	flush(t, nd)
	subj := nd.b.Subject("a.b c")
	if subj != "app.chat.a%2Eb%20c" {
		t.Fatalf("subject %q", subj)
	}
	nc, err := natsgo.Connect(ns.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, bad := range [][]byte{nil, {0}, {9, 'x'}, {byte(ws.OpText), 0xff}} {
		if err := nc.Publish(subj, bad); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish(subj, append([]byte{byte(ws.OpText)}, "from outside"...)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the foreign message", func() bool { return s.count() == 1 })
	waitFor(t, "the invalid ones counted", func() bool { return nd.b.Stats().Invalid == 4 })
	if got := s.messages(); got[0] != "from outside" {
		t.Fatalf("got %q", got)
	}
	if st := nd.b.Stats(); st.Received != 1 {
		t.Fatalf("stats %+v, want 1 received", st)
	}
}

// A broker closed leaves its server in-process: local publishes are still
// delivered, nothing is handed to NATS, and Close again does nothing.
func TestClose(t *testing.T) {
	ns := startNATS(t)
	nd := startNode(t, ns.url(), Options{})
	cs := newClients()
	s := cs.dial(t, nd.addr, "t")
	cs.run(t)
	waitFor(t, "t held", func() bool { return nd.srv.Subscribers("t") == 1 })
	g := runtime.NumGoroutine()
	if err := nd.b.Close(); err != nil {
		t.Fatal(err)
	}
	if nd.srv.Broker() != nil {
		t.Fatal("the server keeps a closed broker")
	}
	if err := nd.srv.Publish("t", ws.OpText, []byte("local")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the local message", func() bool { return s.count() == 1 })
	if st := nd.b.Stats(); st.Published != 0 || st.Connected || st.Subscriptions != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
	if got := settledGoroutines(g - 3); got > g-3 {
		t.Fatalf("%d goroutines after Close, %d before: the broker's and the client's should have ended", got, g)
	}
	nd.b.Close()
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{0, 37 * time.Millisecond, 50 * time.Millisecond},
		{1, 37 * time.Millisecond, 50 * time.Millisecond},
		{2, 75 * time.Millisecond, 100 * time.Millisecond},
		{5, 600 * time.Millisecond, 800 * time.Millisecond},
		{6, 750 * time.Millisecond, time.Second},
		{1000, 750 * time.Millisecond, time.Second},
	} {
		for range 20 {
			if d := backoff(tc.n, 50*time.Millisecond, time.Second); d < tc.min || d > tc.max {
				t.Fatalf("backoff(%d) = %v, want %v..%v", tc.n, d, tc.min, tc.max)
			}
		}
	}
}
