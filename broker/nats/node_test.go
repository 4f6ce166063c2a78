package nats

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

const wait = 10 * time.Second

// node is a server on a loop of its own, listening on a free port of
// 127.0.0.1, whose connections subscribe to the topic their path names
// ("/room" → "room"), with a Broker on NATS.
type node struct {
	srv  *server.Server
	b    *Broker
	addr string
	done chan struct{} // closed when the loop's Run returned
}

// startNode runs a node on the NATS server at url, stopped by the test's
// cleanup.
func startNode(t testing.TB, url string, opts Options) *node {
	t.Helper()
	loop := ws.NewLoop()
	srv, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		if err := c.Subscribe(strings.TrimPrefix(req.HTTP.URL.Path, "/")); err != nil {
			t.Error(err)
		}
	})
	if err := srv.Run(); err != nil {
		t.Fatal(err)
	}
	n := &node{srv: srv, done: make(chan struct{})}
	go func() { loop.Run(); close(n.done) }()
	a, err := srv.Addr()
	if err != nil {
		t.Fatal(err)
	}
	n.addr = a.String()
	if n.b, err = Connect(url, srv, opts); err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	return n
}

// stop closes the broker and stops the server; it waits for the loop.
func (n *node) stop() {
	n.b.Close()
	n.srv.Stop()
	select {
	case <-n.done:
	case <-time.After(wait):
		panic("a node's loop did not return")
	}
}

// subscriber is a WebSocket client that records the text messages it
// receives.
type subscriber struct {
	c *ws.Conn
	// headOnly keeps only what comes before a "|" of each message (the
	// outage test's memory check is not about the test's own records).
	headOnly bool

	mu     sync.Mutex
	got    []string
	at     []time.Time
	closed chan struct{}
}

// clients is a loop for subscribers, run once they are dialed.
type clients struct {
	loop *ws.Loop
	subs []*subscriber
	done chan struct{}
}

func newClients() *clients { return &clients{loop: ws.NewLoop(), done: make(chan struct{})} }

// dial connects a subscriber to topic on the node at addr; call it before
// run.
func (cs *clients) dial(t testing.TB, addr, topic string) *subscriber {
	t.Helper()
	c, err := client.Dial(context.Background(), "ws://"+addr+"/"+topic, nil, cs.loop)
	if err != nil {
		t.Fatal(err)
	}
	s := &subscriber{c: c, closed: make(chan struct{})}
	c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
		now := time.Now()
		p := m.Payload
		s.mu.Lock()
		if s.headOnly {
			if i := bytes.IndexByte(p, '|'); i >= 0 {
				p = p[:i]
			}
		}
		s.got = append(s.got, string(p))
		s.at = append(s.at, now)
		s.mu.Unlock()
	})
	c.OnClose(func(*ws.Conn, ws.CloseCode, string) { close(s.closed) })
	cs.subs = append(cs.subs, s)
	return s
}

// run runs the loop; the test's cleanup closes the subscribers and waits
// for it.
func (cs *clients) run(t testing.TB) {
	go func() { cs.loop.Run(); close(cs.done) }()
	t.Cleanup(cs.close)
}

// close closes every subscriber and waits for the loop to return.
func (cs *clients) close() {
	for _, s := range cs.subs {
		s.c.Close(ws.CloseCode(1000), "")
	}
	select {
	case <-cs.done:
	case <-time.After(wait):
		panic("the clients' loop did not return")
	}
}

// messages returns a copy of what s received.
func (s *subscriber) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// waitFor polls cond until it holds, for at most wait.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// flush waits until the brokers of nodes have their subscriptions in
// place at the NATS server.
func flush(t testing.TB, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		if err := n.b.Flush(wait); err != nil {
			t.Fatal(err)
		}
	}
}

// openFDs counts the process's open file descriptors but the engine's
// epoll instances and eventfds (a loop starts up to one poller per CPU
// as its connections come, each with one of both, and keeps it) and
// pidfds (the nats-server processes'): sockets, pipes and files.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && !strings.HasPrefix(l, "anon_inode:") {
			n++
		}
	}
	return n
}

// rssBytes is the process's resident set (VmRSS of /proc/self/status).
func rssBytes(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// settledGoroutines waits until the goroutine count is at most want (the
// goroutines of connections and timers just closed end asynchronously)
// and returns it.
func settledGoroutines(want int) int {
	deadline := time.Now().Add(wait)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}
