package client

import (
	"context"
	"io"
	"testing"
	"time"

	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// BenchmarkEchoRoundTrip measures one client message to this project's
// echo server and its reply back, masking included, in steady state (the
// server runs in the same process: its work is counted too).
func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			r := servertest.Start(b, servertest.Options{NoLeakCheck: true}, func(loop *ws.Loop) (*server.Server, error) {
				s, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
				if err == nil {
					s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
						c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
					})
				}
				return s, err
			})
			loop := ws.NewLoop()
			c, err := Dial(context.Background(), "ws://"+r.Addr+"/", nil, loop)
			if err != nil {
				b.Fatal(err)
			}
			// The next message goes out from the listener that got the
			// reply, as a client that answers what it receives does: the
			// reading goroutine writes it after its listeners, with no
			// goroutine started per send.
			p := make([]byte, size)
			left := 0
			finished := make(chan struct{}, 1)
			c.OnMessage(func(c *ws.Conn, _ *ws.Message) {
				if left--; left > 0 {
					c.SendBinary(p)
					return
				}
				finished <- struct{}{}
			})
			done := make(chan struct{})
			go func() { loop.Run(); close(done) }()
			run := func(n int) {
				c.Loop().Exec(func() { left = n })
				c.SendBinary(p)
				<-finished
			}
			run(100) // warm the pools
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			run(b.N)
			b.StopTimer()
			c.Close(1000, "")
			<-done
		})
	}
}

// BenchmarkSend measures sending to a server that reads and discards:
// the send queue, masking (keys from crypto/rand in batches) and the
// writes. The queue has its default limit (8 MiB) and refuses at it, so
// the sender waits for OnDrain: in steady state every buffer comes from
// the pool, 0 allocations per message (a few B/op remain, the pool
// refilling after a garbage collection emptied it).
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			read := make(chan int64, 1)
			url := hostile(b, func(p *peer) {
				p.accept("")
				n, _ := io.Copy(io.Discard, p.br)
				read <- n
			})
			cfg := &Config{}
			cfg.SendQueuePolicy = ws.BackpressureRefuse
			cfg.CloseTimeout = 10 * time.Millisecond // the server answers no close frame
			loop := ws.NewLoop()
			c, err := Dial(context.Background(), url, cfg, loop)
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() { loop.Run(); close(done) }()
			p := make([]byte, size)
			drained := make(chan struct{}, 1)
			c.OnDrain(func(*ws.Conn) {
				select {
				case drained <- struct{}{}:
				default:
				}
			})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for c.SendBinary(p) == ws.ErrBackpressure {
					<-drained
				}
			}
			for c.BufferedAmount() > 0 {
				select {
				case <-drained:
				case <-time.After(time.Millisecond):
				}
			}
			b.StopTimer()
			c.Close(1000, "")
			<-done
			<-read
		})
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
