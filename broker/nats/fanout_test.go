package nats

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
)

// fanout is 1,000 subscribers of one topic, split over the nodes given,
// on two client loops, counting deliveries and their latency (the
// message carries its publish time).
type fanout struct {
	delivered atomic.Int64
	mu        sync.Mutex
	lat       []time.Duration
	loops     []*ws.Loop
	conns     []*ws.Conn
	done      []chan struct{}
}

func newFanout(tb testing.TB, subs int, nodes ...*node) *fanout {
	tb.Helper()
	f := &fanout{loops: []*ws.Loop{ws.NewLoop(), ws.NewLoop()}}
	for i := range subs {
		nd := nodes[i%len(nodes)]
		c, err := client.Dial(context.Background(), "ws://"+nd.addr+"/fan", nil, f.loops[i%2])
		if err != nil {
			tb.Fatal(err)
		}
		c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
			if len(m.Payload) >= 8 {
				d := time.Duration(time.Now().UnixNano() - int64(binary.LittleEndian.Uint64(m.Payload)))
				f.mu.Lock()
				f.lat = append(f.lat, d)
				f.mu.Unlock()
			}
			f.delivered.Add(1)
		})
		f.conns = append(f.conns, c)
	}
	for _, l := range f.loops {
		done := make(chan struct{})
		f.done = append(f.done, done)
		go func() { l.Run(); close(done) }()
	}
	tb.Cleanup(func() {
		for _, c := range f.conns {
			c.Close(ws.CloseCode(1000), "")
		}
		for _, d := range f.done {
			<-d
		}
	})
	per := make(map[*node]int)
	for i := range subs {
		per[nodes[i%len(nodes)]]++
	}
	waitFor(tb, "the subscribers", func() bool {
		for nd, n := range per {
			if nd.srv.Subscribers("fan") != n {
				return false
			}
		}
		return true
	})
	for _, nd := range nodes {
		if nd.srv.Broker() != nil {
			flush(tb, nd)
		}
	}
	return f
}

// run publishes n messages of size bytes, alternately from each node,
// keeping at most window messages not yet delivered to every subscriber,
// and waits for every delivery.
func (f *fanout) run(tb testing.TB, n, size, window int, nodes ...*node) time.Duration {
	tb.Helper()
	subs := int64(len(f.conns))
	base := f.delivered.Load()
	msg := make([]byte, size)
	start := time.Now()
	for i := range n {
		for f.delivered.Load()-base < int64(i-window)*subs {
			time.Sleep(50 * time.Microsecond)
		}
		binary.LittleEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		if err := nodes[i%len(nodes)].srv.Publish("fan", ws.OpBinary, msg); err != nil {
			tb.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.delivered.Load()-base < int64(n)*subs {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d deliveries", f.delivered.Load()-base, int64(n)*subs)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Since(start)
}

// percentiles returns the p50 and p99 of the latencies recorded, and
// forgets them.
func (f *fanout) percentiles() (p50, p99 time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lat) == 0 {
		return 0, 0
	}
	slices.Sort(f.lat)
	p50, p99 = f.lat[len(f.lat)/2], f.lat[len(f.lat)*99/100]
	f.lat = f.lat[:0]
	return p50, p99
}

// With 1,000 subscribers split over two nodes, every publish crosses NATS
// once in (from its node) and once out (to the other node): one message
// per node, not one per subscriber.
func TestFanoutMessagesPerPublish(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), Options{})
	b := startNode(t, ns.url(), Options{})
	f := newFanout(t, 1000, a, b)
	before := ns.mustVarz()
	const n = 50
	f.run(t, n, 64, 8, a, b)
	after := ns.mustVarz()
	in, out := after.InMsgs-before.InMsgs, after.OutMsgs-before.OutMsgs
	t.Logf("%d publishes to 1,000 subscribers on two nodes: NATS in %d, out %d; %d deliveries", n, in, out, f.delivered.Load())
	if in != n || out != n {
		t.Fatalf("NATS carried %d in and %d out for %d publishes, want %d each", in, out, n, n)
	}
	if got := a.b.Stats().Received + b.b.Stats().Received; got != n {
		t.Fatalf("the nodes received %d messages from NATS for %d publishes, want %d", got, n, n)
	}
}

// BenchmarkFanout1000 publishes 64-byte messages to 1,000 subscribers,
// on one node without a broker and split over two nodes on NATS
// (publishes alternating between them), with at most window messages not
// yet delivered everywhere: window=1 is the latency of one message at a
// time, window=8 the throughput with a few in flight (latency then
// includes the queueing). Deliveries/s and the publish-to-delivery
// latency, all on this machine, the subscribers' two client loops
// included.
func BenchmarkFanout1000(b *testing.B) {
	ns := startNATS(b)
	for _, two := range []bool{false, true} {
		for _, window := range []int{1, 8} {
			name := fmt.Sprintf("one-node/window=%d", window)
			if two {
				name = fmt.Sprintf("two-nodes-nats/window=%d", window)
			}
			b.Run(name, func(b *testing.B) {
				a := startNode(b, ns.url(), Options{})
				nodes := []*node{a}
				if two {
					nodes = append(nodes, startNode(b, ns.url(), Options{}))
				} else {
					a.b.Close() // in-process only
				}
				f := newFanout(b, 1000, nodes...)
				f.run(b, 20, 64, window, nodes...) // warm up
				f.percentiles()
				b.ResetTimer()
				d := f.run(b, b.N, 64, window, nodes...)
				b.StopTimer()
				p50, p99 := f.percentiles()
				b.ReportMetric(float64(b.N)*1000/d.Seconds(), "deliveries/s")
				b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
			})
		}
	}
}

// BenchmarkPublishToBroker is the cost a Publish adds for the broker: a
// 64-byte message to a topic no local connection holds, handed to NATS
// (the envelope built in a pooled buffer, the subject escaped).
func BenchmarkPublishToBroker(b *testing.B) {
	ns := startNATS(b)
	nd := startNode(b, ns.url(), Options{})
	msg := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := nd.srv.Publish("elsewhere", ws.OpBinary, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	flush(b, nd)
	if st := nd.b.Stats(); st.Dropped != 0 {
		b.Fatalf("dropped %d", st.Dropped)
	}
}
