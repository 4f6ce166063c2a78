package server

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/internal/engine"
)

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// fakeSubscribers returns n registered connections of s that have no
// socket: enough to subscribe, not to send.
func fakeSubscribers(s *Server, n int) []*Conn {
	cs := make([]*Conn, n)
	for i := range cs {
		wc := wsEngine.Pending(nil, s.loop, engine.Pending{ID: uint64(i + 1), Role: frame.RoleServer}, nil)
		cs[i] = &Conn{Conn: wc, server: s, subState: subOpen}
	}
	return cs
}

// The memory a subscription costs, measured with 1,000,000 of them in two
// shapes: many subscribers per topic (10,000 connections × 100 topics) and
// one per topic (100,000 connections × 10 topics of their own, so the
// registry holds 1,000,000 topics and their names). The bounds are what
// package server documents (MaxTopicLength aside, names of a few bytes).
func TestMemoryPerSubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 subscriptions")
	}
	for _, shape := range []struct {
		name           string
		conns, topics  int
		shared         bool
		maxPerSubBytes float64
	}{
		{"10000 conns x 100 shared topics", 10000, 100, true, 64},
		{"100000 conns x 10 topics of their own", 100000, 10, false, 256},
	} {
		s := &Server{}
		names := make([]string, shape.conns*shape.topics)
		for i := range names {
			if shape.shared {
				names[i] = fmt.Sprint("topic-", i%shape.topics)
			} else {
				names[i] = fmt.Sprint("topic-", i)
			}
		}
		cs := fakeSubscribers(s, shape.conns)
		before := heapInUse()
		for i, c := range cs {
			for j := range shape.topics {
				if err := c.Subscribe(names[i*shape.topics+j]); err != nil {
					t.Fatal(err)
				}
			}
		}
		after := heapInUse()
		n := shape.conns * shape.topics
		per := float64(after-before) / float64(n)
		t.Logf("%s: %d subscriptions, %.1f heap bytes per subscription (%.1f MB)", shape.name, n, per, float64(after-before)/1e6)
		if per > shape.maxPerSubBytes {
			t.Errorf("%s: %.1f bytes per subscription, over %.0f", shape.name, per, shape.maxPerSubBytes)
		}
		runtime.KeepAlive(cs)
		runtime.KeepAlive(names)
	}
}

// pipeSubscribers returns n connections of s on net.Pipe whose clients
// read and discard everything; they end with the benchmark.
func pipeSubscribers(b *testing.B, s *Server, n int) []*Conn {
	loop := ws.NewLoop()
	cfg := &ws.Config{ReadBufferSize: 512}
	cs := make([]*Conn, n)
	var clients []net.Conn
	for i := range cs {
		srv, cli := net.Pipe()
		clients = append(clients, cli)
		go io.Copy(io.Discard, cli)
		wc := wsEngine.Pending(cfg, loop, engine.Pending{ID: uint64(i + 1), Role: frame.RoleServer}, nil)
		wsEngine.Establish(wc, srv, engine.Options{})
		wsEngine.Start(wc)
		cs[i] = &Conn{Conn: wc, server: s, subState: subOpen, sendLimit: int32(ws.DefaultConfig().SendQueueLimit)}
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	b.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
		<-done
	})
	return cs
}

// tcpSubscribers is pipeSubscribers on loopback TCP, where the engine
// writes without blocking and a publish's writes go out in deferred runs.
func tcpSubscribers(b *testing.B, s *Server, n int) []*Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	loop := ws.NewLoop()
	cfg := &ws.Config{ReadBufferSize: 512}
	cs := make([]*Conn, n)
	var clients []net.Conn
	for i := range cs {
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		srv, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, cli)
		go io.Copy(io.Discard, cli)
		wc := wsEngine.Pending(cfg, loop, engine.Pending{ID: uint64(i + 1), Role: frame.RoleServer}, nil)
		wsEngine.Establish(wc, srv, engine.Options{})
		wsEngine.Start(wc)
		cs[i] = &Conn{Conn: wc, server: s, subState: subOpen, sendLimit: int32(ws.DefaultConfig().SendQueueLimit)}
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	b.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
		<-done
	})
	return cs
}

// BenchmarkPublish publishes a 64-byte message to 1, 100 and 10,000
// subscribers: one prepared message per publish, no allocation per
// subscriber. The subscribers' clients read as fast as they can; a
// publish they cannot keep up with is refused for them (counted, not
// waited for).
func BenchmarkPublish(b *testing.B) {
	benchmarkPublish(b, pipeSubscribers, 1, 100, 10000)
}

// BenchmarkPublishTCP is BenchmarkPublish on loopback TCP (8,000
// subscribers at most: each takes two descriptors of this process).
func BenchmarkPublishTCP(b *testing.B) {
	benchmarkPublish(b, tcpSubscribers, 1, 100, 8000)
}

func benchmarkPublish(b *testing.B, subscribers func(*testing.B, *Server, int) []*Conn, sizes ...int) {
	payload := make([]byte, 64)
	for _, n := range sizes {
		b.Run(fmt.Sprint(n, "subscribers"), func(b *testing.B) {
			s := &Server{}
			for _, c := range subscribers(b, s, n) {
				if err := c.Subscribe("t"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.Publish("t", ws.OpBinary, payload); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			st := s.TopicStats()
			b.ReportMetric(float64(st.Delivered)/float64(b.N), "deliveries/op")
			b.ReportMetric(float64(st.Skipped+st.Dropped)/float64(b.N), "refused/op")
		})
	}
}
