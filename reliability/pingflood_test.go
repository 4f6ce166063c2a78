package reliability

import (
	"encoding/binary"
	"net"
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

// Item 7: a client writes 100,000 pings as fast as it can and reads
// nothing. RFC 6455 section 5.5.3 lets a server answer only the most
// recent of the pings it has not answered yet, so the pongs waiting in the
// send queue stay bounded (16, then one slot that keeps the newest
// payload), whatever the number of pings.
func TestPingFlood(t *testing.T) {
	const pings = 100_000
	// What the queue may hold: 16 pongs, the slot, each at most 2 + 125
	// bytes.
	const maxQueued = 17 * (2 + 125)

	t.Run("read afterwards", func(t *testing.T) {
		base := servertest.TakeBaseline()
		conns := make(chan *server.Conn, 1)
		h := start(t, server.Config{}, func(s *server.Server) {
			s.OnConnection(func(s *server.Server, c *server.Conn, _ *handshake.Request) { conns <- c })
		})
		c := h.dial("/", nil)
		sc := <-conns
		sampler := sampleBuffered(sc.Conn)
		// Each ping carries its number; the client reads nothing until
		// every one is written.
		var batch []byte
		var seq [4]byte
		for i := range pings {
			binary.BigEndian.PutUint32(seq[:], uint32(i))
			batch = wstest.AppendFrameKey(batch, true, 0, 9, floodKey, seq[:])
			if len(batch) > 64<<10 || i == pings-1 {
				if err := c.Write(batch); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		// Then it reads the pongs until none comes for a while.
		pongs, last := 0, uint32(0)
		for {
			f, err := c.ReadFrame(300 * time.Millisecond)
			if err != nil {
				if isTimeout(err) {
					break
				}
				t.Fatal(err)
			}
			if f.Opcode != 10 || len(f.Payload) != 4 {
				t.Fatalf("opcode %d with %d bytes, want pongs", f.Opcode, len(f.Payload))
			}
			pongs++
			last = binary.BigEndian.Uint32(f.Payload)
		}
		maxBuf := sampler.stop()
		t.Logf("%d pings: %d pongs, the last for ping %d; at most %d bytes queued", pings, pongs, last, maxBuf)
		if last != pings-1 {
			t.Errorf("the last pong answers ping %d, want the newest, %d", last, pings-1)
		}
		if pongs > pings {
			t.Errorf("%d pongs for %d pings", pongs, pings)
		}
		if maxBuf > maxQueued {
			t.Errorf("%d bytes queued, want at most %d", maxBuf, maxQueued)
		}
		c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
		if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
			t.Fatalf("close %d %v", code, err)
		}
		c.Close()
		h.stop()
		base.Check(t, 0, wait)
	})

	t.Run("never read", func(t *testing.T) {
		base := servertest.TakeBaseline()
		conns := make(chan *server.Conn, 1)
		var cfg server.Config
		// A peer that reads nothing is dropped once one write has been
		// blocked this long. TCP may also stall the flood itself before
		// any write blocks (the peer's sending side waits out a zero
		// window with backed-off probes, seen on loopback under the race
		// detector): the peer, which answers no ping either, is then
		// dropped by the keepalive.
		cfg.WriteTimeout = 2 * time.Second
		cfg.PingInterval = 2 * time.Second
		cfg.PongTimeout = 2 * time.Second
		h := start(t, cfg, func(s *server.Server) {
			s.OnConnection(func(s *server.Server, c *server.Conn, _ *handshake.Request) {
				c.NetConn().(*net.TCPConn).SetWriteBuffer(16 << 10)
				conns <- c
			})
		})
		c := h.dial("/", nil)
		c.Conn.(*net.TCPConn).SetReadBuffer(4 << 10)
		sc := <-conns
		sampler := sampleBuffered(sc.Conn)
		mem0 := goMemory()
		var written atomic.Int64
		started := time.Now()
		go func() {
			payload := make([]byte, 125)
			var batch []byte
			for i := range pings {
				batch = wstest.AppendFrameKey(batch, true, 0, 9, floodKey, payload)
				if len(batch) > 16<<10 || i == pings-1 {
					if c.Write(batch) != nil {
						return
					}
					written.Add(int64(len(batch) / (6 + 125)))
					batch = batch[:0]
				}
			}
		}()
		wstest.WaitFor(t, "the flood meeting TCP's flow control (a pong the socket refuses) or the drop", func() bool {
			return sc.BufferedAmount() > 0 || h.ev.ndiscs() > 0
		})
		memFlood := goMemory()
		if !h.ev.await(1, wait) {
			t.Fatalf("not dropped %v after the flood began: %d pings written, server stats %+v, %d bytes queued",
				time.Since(started), written.Load(), sc.Stats(), sc.BufferedAmount())
		}
		took := time.Since(started)
		maxBuf := sampler.stop()
		codes := h.ev.checkOnce(t, 0)
		st := sc.Stats()
		t.Logf("%d of %d pings written before the server stopped reading; %d pong bytes sent; at most %d bytes queued; memory %s before, %s during; dropped after %v (write timeout %v, keepalive %v + %v)",
			written.Load(), pings, st.BytesOut, maxBuf, kib(mem0), kib(memFlood), took.Round(time.Millisecond), cfg.WriteTimeout, cfg.PingInterval, cfg.PongTimeout)
		if maxBuf > maxQueued {
			t.Errorf("%d bytes queued, want at most %d", maxBuf, maxQueued)
		}
		if codes[frame.CloseAbnormal] != 1 {
			t.Errorf("close codes %v, want %v: the peer never read our close frame", codes, frame.CloseAbnormal)
		}
		if memFlood > mem0+1<<20 {
			t.Errorf("memory grew from %s to %s during the flood", kib(mem0), kib(memFlood))
		}
		c.Close()
		h.stop()
		base.Check(t, 0, wait)
	})
}

// bufferedSampler records the largest BufferedAmount of a connection.
type bufferedSampler struct {
	done chan struct{}
	max  chan int
}

func sampleBuffered(c *ws.Conn) *bufferedSampler {
	s := &bufferedSampler{done: make(chan struct{}), max: make(chan int, 1)}
	go func() {
		m := 0
		for {
			m = max(m, c.BufferedAmount())
			select {
			case <-s.done:
				s.max <- m
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	return s
}

func (s *bufferedSampler) stop() int {
	close(s.done)
	return <-s.max
}
