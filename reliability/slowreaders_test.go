package reliability

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// Item 4: clients that never read while the server broadcasts to them (a
// chat: one client talks, the server sends each message to everyone).
// Server memory stays within the send-queue limit times the connections
// plus a fixed overhead, the backpressure policy applies (refused sends,
// or the slow readers closed), and the client that reads keeps its
// latency.
func TestSlowReaders(t *testing.T) {
	n := scale(100, 500)
	const limit = 128 << 10
	const msgSize = 4 << 10
	flood := scale(2*time.Second, 10*time.Second)
	for _, policy := range []ws.Backpressure{ws.BackpressureRefuse, ws.BackpressureClose} {
		name := map[ws.Backpressure]string{ws.BackpressureRefuse: "refuse", ws.BackpressureClose: "close"}[policy]
		t.Run(name, func(t *testing.T) {
			base := servertest.TakeBaseline()
			var cfg server.Config
			cfg.SendQueueLimit = limit
			cfg.SendQueuePolicy = policy
			cfg.CloseTimeout = 500 * time.Millisecond
			var refused, sent atomic.Int64
			h := start(t, cfg, func(s *server.Server) {
				s.OnConnection(func(s *server.Server, c *server.Conn, req *handshake.Request) {
					if req.HTTP.URL.Path == "/slow" {
						// Keep the kernel's share small, so that the queue
						// fills within the test (a socket option, as a
						// user may set it through NetConn).
						c.NetConn().(*net.TCPConn).SetWriteBuffer(16 << 10)
					}
					c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
						for peer := range s.Connections() {
							switch err := peer.SendBinary(m.Payload); {
							case err == nil:
								sent.Add(1)
							case errors.Is(err, ws.ErrBackpressure):
								refused.Add(1)
							}
						}
					})
				})
			})
			good := h.dial("/good", nil)
			quiet := measureRTT(t, good, 200, msgSize, time.Millisecond)
			mem0 := goMemory()

			p := startPeer(t, "slowreaders", map[string]string{"ADDR": h.addr, "PATH": "/slow", "N": strconv.Itoa(n)})
			p.expect("ready")
			h.ev.waitFor(t, "the slow readers' connections", wait, func() bool { return h.ev.nconn >= n+1 })
			memIdle := goMemory()
			perIdle := (memIdle - mem0) / int64(n)

			peak := samplePeak()
			loaded := measureRTT(t, good, int(flood/(5*time.Millisecond)), msgSize, 5*time.Millisecond)
			memFull := goMemory()
			peakMem := peak.Peak()
			// A queue holds at most the limit in 16 KiB chunks, one of them
			// partly filled, and the one being written.
			bound := memIdle + int64(n)*(limit+2*16<<10) + 4<<20

			t.Logf("%d slow readers, send queue limit %s, %s messages: %d sent, %d refused", n, kib(limit), kib(msgSize), sent.Load(), refused.Load())
			t.Logf("server memory: %s with the reader only, %s with %d idle connections (%s each), %s at the end of the flood (peak %s, bound %s)",
				mib(mem0), mib(memIdle), n, kib(perIdle), mib(memFull), mib(peakMem), mib(bound))
			t.Logf("round trip of the reading client: %v without the slow readers, %v with them", quiet, loaded)
			// The live memory is measured after a collection; the peak
			// also counts garbage, which the collector lets grow to the
			// size of the live heap before collecting (GOGC=100).
			if policy == ws.BackpressureRefuse && memFull > bound {
				t.Errorf("memory %s with the queues full, over the bound %s", mib(memFull), mib(bound))
			}
			if peakMem > 2*bound {
				t.Errorf("peak memory %s (garbage included) over twice the bound %s", mib(peakMem), mib(bound))
			}
			switch policy {
			case ws.BackpressureRefuse:
				if refused.Load() == 0 {
					t.Errorf("no send was refused: the queues never filled")
				}
				if got := h.s.Len(); got != n+1 {
					t.Errorf("%d connections left, want all %d: refusing a send keeps the connection", got, n+1)
				}
			case ws.BackpressureClose:
				h.ev.waitDisconnections(t, n, wait)
				if got := h.s.Len(); got != 1 {
					t.Errorf("%d connections left, want the reading client only", got)
				}
				counts := h.ev.checkOnce(t, 1)
				// They read nothing, so the 1008 never reached them:
				// dropped after the close timeout.
				if counts[frame.CloseAbnormal] != n {
					t.Errorf("close events %v, want %d with %v", counts, n, frame.CloseAbnormal)
				}
			}
			p.stop()
			good.Close()
			h.stop()
			base.Check(t, 0, wait)
		})
	}
}

// rtt summarises round trips.
type rtt struct{ p50, p99, max time.Duration }

func (r rtt) String() string {
	return "p50 " + r.p50.Round(10*time.Microsecond).String() + ", p99 " + r.p99.Round(10*time.Microsecond).String() + ", max " + r.max.Round(10*time.Microsecond).String()
}

// measureRTT sends count messages of size bytes from c, one every gap,
// and measures how long each takes to come back (logged, not asserted:
// speed is for benchmarks). The client must not stall behind the slow
// readers' queues: each echo has to arrive before its read's deadline,
// wait after the one before, or the test fails.
func measureRTT(t testing.TB, c *wstest.Client, count, size int, gap time.Duration) rtt {
	t.Helper()
	var mu sync.Mutex
	var rtts []time.Duration
	done := make(chan error, 1)
	go func() {
		for range count {
			_, p, _, err := c.ReadMessage(wait)
			if err != nil {
				done <- err
				return
			}
			sentAt := time.Unix(0, int64(binary.BigEndian.Uint64(p)))
			mu.Lock()
			rtts = append(rtts, time.Since(sentAt))
			mu.Unlock()
		}
		done <- nil
	}()
	msg := make([]byte, size)
	for range count {
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		if err := c.WriteMessage(2, msg); err != nil {
			t.Fatal(err)
		}
		if gap > 0 {
			time.Sleep(gap) // the client's sending rate
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("the reading client: %v", err)
	}
	slices.Sort(rtts)
	return rtt{rtts[len(rtts)/2], rtts[len(rtts)*99/100], rtts[len(rtts)-1]}
}
