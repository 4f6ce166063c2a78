package reliability

import (
	"encoding/binary"
	"io"
	"net"
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

// busyClient sends messages until the server's close frame arrives, reads
// the echoes meanwhile, answers the close and waits for the end of the
// connection.
type busyClient struct {
	c       *wstest.Client
	wmu     sync.Mutex
	closing atomic.Bool
	code    int
	sent    int
	err     error
	done    chan struct{}
}

func runBusyClient(c *wstest.Client, gap time.Duration) *busyClient {
	b := &busyClient{c: c, done: make(chan struct{})}
	go func() { // the writer
		msg := make([]byte, 64)
		for !b.closing.Load() {
			binary.BigEndian.PutUint64(msg, uint64(b.sent))
			b.wmu.Lock()
			var err error
			if !b.closing.Load() {
				err = c.WriteMessage(2, msg)
				b.sent++
			}
			b.wmu.Unlock()
			if err != nil {
				return // the reader reports how the connection ended
			}
			time.Sleep(gap) // the client's sending rate
		}
	}()
	go func() { // the reader
		defer close(b.done)
		code, _, err := c.ExpectClose(10 * time.Minute) // Stop comes when the test says
		if err != nil {
			b.err = err
			return
		}
		b.wmu.Lock()
		b.closing.Store(true)
		c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
		b.wmu.Unlock()
		b.code = code
		b.err = c.ExpectEOF(time.Minute)
		c.Close()
	}()
	return b
}

// Item 12: Stop(1001) while every connection is sending. Every peer
// receives close 1001, every close and disconnection event fires exactly
// once, the loop's Run returns, and goroutines and file descriptors come
// back to the baseline.
func TestGracefulStop(t *testing.T) {
	n := scale(200, 1000)
	base := servertest.TakeBaseline()
	var received atomic.Int64
	h := start(t, server.Config{}, echo)
	h.s.ConnectionEvent().Add(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.MessageEvent().Add(func(*ws.Conn, *ws.Message) { received.Add(1) })
	})
	clients := make([]*busyClient, n)
	for i := range clients {
		// Every client sends; together, a steady 10,000 messages a second.
		clients[i] = runBusyClient(h.dial("/", nil), time.Duration(n)*100*time.Microsecond)
	}
	h.ev.waitFor(t, "every connection", wait, func() bool { return h.ev.nconn >= n })
	// And some clients in the middle of their opening handshake.
	req, _ := wstest.Request(h.addr, "/", nil)
	var heads []net.Conn
	for range 10 {
		nc := dialTCP(t, h.addr)
		nc.Write(req[:len(req)/2])
		heads = append(heads, nc)
	}
	wstest.WaitFor(t, "traffic (two messages a connection)", func() bool { return received.Load() >= int64(2*n) })
	before := received.Load()

	stopped := time.Now()
	h.s.Stop(frame.CloseAway)
	h.stop() // waits for the loop to return
	loopReturned := time.Since(stopped)
	for i, nc := range heads {
		nc.SetReadDeadline(time.Now().Add(wait))
		if _, err := io.Copy(io.Discard, nc); isTimeout(err) {
			t.Errorf("half-sent handshake %d: still open %v after Stop", i, wait)
		}
		nc.Close()
	}
	headsClosed := time.Since(stopped)
	codes := map[int]int{}
	sent := 0
	for _, b := range clients {
		<-b.done
		if b.err != nil {
			t.Errorf("client: %v", b.err)
		}
		codes[b.code]++
		sent += b.sent
	}
	t.Logf("%d connections sending (%d messages delivered before Stop, %d sent in all): the loop returned %v after Stop(1001), %d half-sent handshakes were closed within %v; close codes received %v",
		n, before, sent, loopReturned.Round(time.Millisecond), len(heads), headsClosed.Round(time.Millisecond), codes)
	if codes[1001] != n {
		t.Errorf("close codes received %v, want %d with 1001", codes, n)
	}
	counts := h.ev.checkOnce(t, 0)
	if counts[frame.CloseAway] != n {
		t.Errorf("close events %v, want %d with %v", counts, n, frame.CloseAway)
	}
	if h.s.Len() != 0 {
		t.Errorf("%d connections still registered", h.s.Len())
	}
	base.Check(t, 0, wait)
}
