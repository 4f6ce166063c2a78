package server

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
)

// bus is an in-process Broker for the seam's tests: it links the servers
// attached to it as a message broker links nodes (a publish on one goes
// to every other that holds the topic, never back to its own), and
// records what the seam tells each.
type bus struct {
	mu    sync.Mutex
	nodes []*busNode
}

// busNode is one server's Broker on a bus.
type busNode struct {
	bus       *bus
	s         *Server
	held      map[string]bool
	calls     []string // "+topic" for Subscribe, "-topic" for Unsubscribe
	published []string // the topics of the Publish calls
}

// attach makes a busNode s's broker.
func (b *bus) attach(s *Server) *busNode {
	n := &busNode{bus: b, s: s, held: make(map[string]bool)}
	b.mu.Lock()
	b.nodes = append(b.nodes, n)
	b.mu.Unlock()
	s.SetBroker(n)
	return n
}

func (n *busNode) Subscribe(topic string) {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	n.held[topic] = true
	n.calls = append(n.calls, "+"+topic)
}

func (n *busNode) Unsubscribe(topic string) {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	delete(n.held, topic)
	n.calls = append(n.calls, "-"+topic)
}

func (n *busNode) Publish(topic string, op ws.Opcode, payload []byte) {
	n.bus.mu.Lock()
	n.published = append(n.published, topic)
	var to []*Server
	for _, o := range n.bus.nodes {
		if o != n && o.held[topic] {
			to = append(to, o.s)
		}
	}
	n.bus.mu.Unlock()
	for _, s := range to {
		s.PublishLocal(topic, op, payload)
	}
}

// takeCalls returns the Subscribe and Unsubscribe calls so far and
// forgets them.
func (n *busNode) takeCalls() []string {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	c := n.calls
	n.calls = nil
	return c
}

func (n *busNode) publishedTopics() []string {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	return append([]string(nil), n.published...)
}

// The broker hears of a topic's first local subscriber and of its last
// leaving (by Unsubscribe or by closing), once each, and nothing between.
func TestBrokerInterest(t *testing.T) {
	closed := make(chan *Conn, 4)
	h := start(t, Config{}, subscribeByPath(t, closed))
	var b bus
	n := b.attach(h.s)
	if h.s.Broker() != n {
		t.Fatal("Broker does not return the broker set")
	}
	a1 := h.Dial("/a", nil)
	waitFor(t, "a held", func() bool { return h.s.Subscribers("a") == 1 })
	a2 := h.Dial("/a", nil)
	h.Dial("/b", nil)
	waitFor(t, "3 subscriptions", func() bool { return h.s.Subscribers("a") == 2 && h.s.Subscribers("b") == 1 })
	if diff := cmp.Diff([]string{"+a", "+b"}, n.takeCalls()); diff != "" {
		t.Fatalf("after subscribing (-want +got):\n%s", diff)
	}
	a1.Close()
	<-closed
	if calls := n.takeCalls(); len(calls) != 0 {
		t.Fatalf("one of two subscribers left: the broker got %q", calls)
	}
	a2.Close()
	<-closed
	if diff := cmp.Diff([]string{"-a"}, n.takeCalls()); diff != "" {
		t.Fatalf("after the last subscriber of a closed (-want +got):\n%s", diff)
	}
	// Unsubscribe and Subscribe again, from a connection's own callback.
	var c *Conn
	for c = range h.s.Connections() {
	}
	if !c.Unsubscribe("b") || c.Subscribe("b") != nil {
		t.Fatal("unsubscribe and subscribe again failed")
	}
	if diff := cmp.Diff([]string{"-b", "+b"}, n.takeCalls()); diff != "" {
		t.Fatalf("after Unsubscribe and Subscribe (-want +got):\n%s", diff)
	}
}

// SetBroker hands the topics held over: the old broker unsubscribes them,
// the new one subscribes them; nil removes the broker.
func TestSetBrokerHandsTopicsOver(t *testing.T) {
	h := start(t, Config{}, subscribeByPath(t, nil))
	h.Dial("/x", nil)
	h.Dial("/y", nil)
	waitFor(t, "x and y held", func() bool { return h.s.Subscribers("x") == 1 && h.s.Subscribers("y") == 1 })
	var b bus
	first := b.attach(h.s)
	sorted := func(s []string) []string { slices.Sort(s); return s }
	if diff := cmp.Diff([]string{"+x", "+y"}, sorted(first.takeCalls())); diff != "" {
		t.Fatalf("the first broker (-want +got):\n%s", diff)
	}
	second := b.attach(h.s)
	if diff := cmp.Diff([]string{"-x", "-y"}, sorted(first.takeCalls())); diff != "" {
		t.Fatalf("the broker replaced (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"+x", "+y"}, sorted(second.takeCalls())); diff != "" {
		t.Fatalf("the broker that replaced it (-want +got):\n%s", diff)
	}
	h.s.SetBroker(nil)
	if diff := cmp.Diff([]string{"-x", "-y"}, sorted(second.takeCalls())); diff != "" {
		t.Fatalf("the broker removed (-want +got):\n%s", diff)
	}
	if h.s.Broker() != nil {
		t.Fatal("Broker is not nil after SetBroker(nil)")
	}
	if err := h.s.Publish("x", ws.OpText, []byte("local")); err != nil {
		t.Fatal(err)
	}
	if p := second.publishedTopics(); len(p) != 0 {
		t.Fatalf("a removed broker was handed %q", p)
	}
}

// Two servers on one broker: a publish on either reaches the subscribers
// of both exactly once and in order, and nothing comes back to the node
// that published.
func TestBrokerTwoServers(t *testing.T) {
	ha := start(t, Config{}, subscribeByPath(t, nil))
	hb := start(t, Config{}, subscribeByPath(t, nil))
	var b bus
	na, nb := b.attach(ha.s), b.attach(hb.s)
	subs := []*wstest.Client{ha.Dial("/room", nil), ha.Dial("/room", nil), hb.Dial("/room", nil)}
	waitFor(t, "3 subscribers", func() bool { return ha.s.Subscribers("room") == 2 && hb.s.Subscribers("room") == 1 })
	const n = 50
	for i := range n {
		from := ha.s
		if i%2 == 1 {
			from = hb.s
		}
		if err := from.Publish("room", ws.OpText, []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	// The end marker goes last; a duplicate would be read before it.
	if err := ha.s.Publish("room", ws.OpText, []byte("end")); err != nil {
		t.Fatal(err)
	}
	for _, c := range subs {
		for i := range n {
			readText(t, c, fmt.Sprint("m", i))
		}
		readText(t, c, "end")
	}
	if got, want := len(na.publishedTopics()), n/2+1; got != want {
		t.Errorf("node a handed %d publishes to the broker, want %d (PublishLocal must not hand any)", got, want)
	}
	if got, want := len(nb.publishedTopics()), n/2; got != want {
		t.Errorf("node b handed %d publishes to the broker, want %d", got, want)
	}
	if got, want := ha.s.TopicStats().Delivered, uint64(2*(n+1)); got != want {
		t.Errorf("node a delivered %d, want %d", got, want)
	}
}

// Publish hands a valid message to the broker whether the topic is held
// here or not, and nothing that failed or could be held nowhere;
// PublishLocal hands nothing.
func TestBrokerPublishHandoff(t *testing.T) {
	h := start(t, Config{Config: ws.Config{SendQueueLimit: 1 << 10}}, subscribeByPath(t, nil))
	var b bus
	n := b.attach(h.s)
	h.Dial("/small", nil)
	waitFor(t, "small held", func() bool { return h.s.Subscribers("small") == 1 })
	if err := h.s.Publish("nobody-here", ws.OpBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Publish("small", ws.OpText, []byte("fits")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		topic string
		op    ws.Opcode
		p     []byte
	}{
		{"small", ws.OpText, []byte{0xff}},                              // invalid UTF-8
		{"small", frame.OpClose, nil},                                   // not a data opcode
		{"small", ws.OpBinary, make([]byte, 2<<10)},                     // over the subscriber's queue limit
		{"", ws.OpText, []byte("x")},                                    // no topic name
		{strings.Repeat("t", MaxTopicLength+1), ws.OpText, []byte("x")}, // a name nobody can hold
	} {
		h.s.Publish(bad.topic, bad.op, bad.p)
	}
	if err := h.s.PublishLocal("small", ws.OpText, []byte("local")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"nobody-here", "small"}, n.publishedTopics()); diff != "" {
		t.Fatalf("handed to the broker (-want +got):\n%s", diff)
	}
}
