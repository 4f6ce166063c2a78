//go:build !unievent_nopoll

package ws

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
)

// tcpConn starts a server connection on a loopback TCP socket (so that
// the poller takes it) and returns it with its client.
func tcpConn(t *testing.T, loop *Loop, cfg *Config, setup func(*Conn)) (*Conn, *wstest.Client) {
	t.Helper()
	srv, cli := tcpPair(t)
	return startConn(t, srv, cli, cfg, connOptions{Loop: loop}, setup)
}

func echoListener(c *Conn) {
	c.OnMessage(func(c *Conn, m *Message) { c.Send(m.Opcode, m.Payload) })
}

// waitGoroutines waits up to timeout for the goroutine count to come down
// to want and returns the last count.
func waitGoroutines(t *testing.T, want int, timeout time.Duration) int {
	t.Helper()
	var g int
	wstest.Poll(timeout, func() bool {
		g = runtime.NumGoroutine()
		return g <= want
	})
	return g
}

// Established connections on plain sockets are watched by the loop's
// poller: however many there are, idle ones add no goroutine, and once
// they are gone the poller lets its own goroutine go too.
func TestPollerIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const n = 200
	loop := runningLoop(t)
	base := runtime.NumGoroutine()
	var closed sync.WaitGroup
	closed.Add(n)
	clients := make([]*wstest.Client, n)
	for i := range clients {
		_, clients[i] = tcpConn(t, loop, &Config{}, func(c *Conn) {
			echoListener(c)
			c.OnClose(func(*Conn, CloseCode, string) { closed.Done() })
		})
	}
	for i, cl := range clients {
		msg := []byte{byte(i), byte(i >> 8)}
		if err := cl.WriteMessage(2, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, _, err := cl.ReadMessage(5 * time.Second); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
	}
	// The goroutine that started each connection ends once a poller
	// has it; each of the loop's pollers is one goroutine.
	pollers := pollerCount()
	if g := waitGoroutines(t, base+pollers, 5*time.Second); g > base+pollers {
		t.Errorf("%d idle connections: %d goroutines with %d pollers, %d before", n, g, pollers, base)
	}
	for _, cl := range clients {
		cl.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	}
	for i, cl := range clients {
		if code, _, err := cl.ExpectClose(5 * time.Second); err != nil || code != 1000 {
			t.Fatalf("client %d: close %d, %v", i, code, err)
		}
		cl.Close() // the server's lingering for our FIN ends
	}
	closed.Wait()
	t0 := time.Now()
	if g := waitGoroutines(t, base, pollerLinger+5*time.Second); g > base {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
		t.Errorf("after the connections ended: %d goroutines, %d before", g, base)
	}
	t.Logf("back to the baseline after %v", time.Since(t0))
}

// A peer that does not read what it is sent is not read either while a
// goroutine waits to write to it (as with a blocking write): the send
// queue stays at what the socket refused, and once the peer reads,
// reading and echoing resume, in order.
func TestPollerPausesReadingWhileAWriteWaits(t *testing.T) {
	loop := runningLoop(t)
	c, cl := tcpConn(t, loop, &Config{}, echoListener)
	const size, count = 64 << 10, 800 // 50 MiB each way, more than the sockets hold
	writeDone := make(chan error, 1)
	go func() {
		var err error
		for i := range count {
			msg := bytes.Repeat([]byte{byte(i)}, size)
			if err = cl.WriteMessage(2, msg); err != nil {
				break
			}
		}
		writeDone <- err
	}()
	// The client writes and does not read: its writes stop once both
	// sides' buffers are full. The two seconds of watching are the
	// test: the queue must stay bounded all along.
	max := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		max = maxInt(max, c.BufferedAmount())
	}
	select {
	case err := <-writeDone:
		t.Fatalf("the client wrote everything (%v) while reading nothing", err)
	default:
	}
	if max > 4<<20 {
		t.Errorf("send queue reached %d bytes: reading went on while writes waited", max)
	}
	for i := range count {
		op, got, _, err := cl.ReadMessage(10 * time.Second)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if op != 2 || len(got) != size || got[0] != byte(i) || got[size-1] != byte(i) {
			t.Fatalf("message %d: opcode %d, %d bytes starting %d", i, op, len(got), got[0])
		}
	}
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("send queue at most %d bytes while the peer did not read", max)
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// The poller's timers: a ping after PingInterval of silence, the idle
// timeout, and the close timeout of a close we started from another
// goroutine.
func TestPollerTimers(t *testing.T) {
	loop := runningLoop(t)
	t.Run("ping then idle", func(t *testing.T) {
		cfg := &Config{PingInterval: 100 * time.Millisecond, PongTimeout: time.Minute, IdleTimeout: 400 * time.Millisecond}
		_, cl := tcpConn(t, loop, cfg, nil)
		start := time.Now()
		f, err := cl.ReadFrame(5 * time.Second)
		if err != nil || f.Opcode != 9 {
			t.Fatalf("want a ping, got opcode %d, %v", f.Opcode, err)
		}
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Errorf("ping after %v, before PingInterval", d)
		}
		code, reason, err := cl.ExpectClose(5 * time.Second)
		if err != nil || code != 1001 || reason != "idle timeout" {
			t.Fatalf("close %d %q, %v", code, reason, err)
		}
		if d := time.Since(start); d < 350*time.Millisecond {
			t.Errorf("idle close after %v, before IdleTimeout", d)
		}
	})
	t.Run("missing pong", func(t *testing.T) {
		cfg := &Config{PingInterval: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond}
		ended := make(chan CloseCode, 1)
		_, cl := tcpConn(t, loop, cfg, func(c *Conn) {
			c.OnClose(func(_ *Conn, code CloseCode, _ string) { ended <- code })
		})
		expectCloseEvent(t, ended, frame.CloseAbnormal, "the pong did not come")
		if err := cl.ExpectEOF(5 * time.Second); err != nil {
			t.Error(err)
		}
	})
	t.Run("close timeout", func(t *testing.T) {
		cfg := &Config{CloseTimeout: 200 * time.Millisecond}
		ended := make(chan CloseCode, 1)
		c, cl := tcpConn(t, loop, cfg, func(c *Conn) {
			c.OnClose(func(_ *Conn, code CloseCode, _ string) { ended <- code })
		})
		wstest.WaitFor(t, "the poller taking the connection", c.p.watched.Load)
		start := time.Now()
		go c.Close(frame.CloseNormal, "bye")
		if code, _, err := cl.ExpectClose(5 * time.Second); err != nil || code != 1000 {
			t.Fatalf("close %d, %v", code, err)
		}
		// The client never answers.
		select {
		case <-ended:
			if d := time.Since(start); d < 150*time.Millisecond {
				t.Errorf("ended after %v, before the close timeout", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the connection outlived its close timeout")
		}
	})
}

// A connection whose peer keeps it busy leaves the poller for a goroutine
// of its own, and goes back once its peer pauses; messages keep their
// order across both moves.
func TestPollerBusyConnectionGetsItsGoroutineBack(t *testing.T) {
	loop := runningLoop(t)
	c, cl := tcpConn(t, loop, &Config{}, echoListener)
	roundTrip := func(i int) {
		t.Helper()
		msg := []byte{byte(i), byte(i >> 8)}
		if err := cl.WriteMessage(2, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, _, err := cl.ReadMessage(5 * time.Second); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
	}
	watched := func(want bool, timeout time.Duration) bool {
		return wstest.Poll(timeout, func() bool { return c.p.watched.Load() == want })
	}
	for cycle := range 3 {
		// Silent: the poller has it.
		if !watched(true, 5*time.Second) {
			t.Fatalf("cycle %d: not handed to the poller after its peer went silent", cycle)
		}
		// Busy: messages back to back, each within hotGap of the last.
		hot := false
		for i := 0; i < 1000 && !hot; i++ {
			roundTrip(cycle*1000 + i)
			hot = !c.p.watched.Load()
		}
		if !hot {
			t.Fatalf("cycle %d: still on the poller after 1000 round trips", cycle)
		}
		for i := range 20 {
			roundTrip(i)
		}
	}
	if !watched(true, 5*time.Second) {
		t.Fatal("not handed back to the poller at the end")
	}
	cl.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	if code, _, err := cl.ExpectClose(5 * time.Second); err != nil || code != 1000 {
		t.Fatalf("close %d, %v", code, err)
	}
}

// While a connection moves between the poller and its own goroutine (bursts
// of echoes with pauses longer than handoffWait), sends from another
// goroutine keep their order, the echoes theirs, and a Close from that
// goroutine ends it with one close event.
func TestPollerModeChangesKeepOrder(t *testing.T) {
	loop := runningLoop(t)
	closes := make(chan CloseCode, 2)
	c, cl := tcpConn(t, loop, &Config{}, func(c *Conn) {
		echoListener(c)
		c.OnClose(func(_ *Conn, code CloseCode, _ string) { closes <- code })
	})
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c.SendText(strconv.Itoa(n)) != nil {
				return
			}
			n++
			time.Sleep(200 * time.Microsecond) // the rate of the other goroutine's sends
		}
	}()
	nextText, nextEcho := 0, 0
	read := func() {
		t.Helper()
		op, got, _, err := cl.ReadMessage(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if op == 1 {
			if string(got) != strconv.Itoa(nextText) {
				t.Fatalf("text %q, want %d", got, nextText)
			}
			nextText++
			return
		}
		if want := []byte{byte(nextEcho), byte(nextEcho >> 8)}; !bytes.Equal(got, want) {
			t.Fatalf("echo %v, want %v", got, want)
		}
		nextEcho++
	}
	sentEchoes, hot, polled := 0, 0, 0
	for burst := range 6 {
		wasHot := false
		for range 100 {
			if err := cl.WriteMessage(2, []byte{byte(sentEchoes), byte(sentEchoes >> 8)}); err != nil {
				t.Fatal(err)
			}
			sentEchoes++
			for nextEcho < sentEchoes {
				read()
			}
			wasHot = wasHot || !c.p.watched.Load()
		}
		if wasHot {
			hot++
		}
		// A pause: the poller takes the socket back, and the other
		// goroutine's sends go on meanwhile.
		deadline := time.Now().Add(20 * time.Millisecond)
		for time.Now().Before(deadline) {
			if burst%2 == 0 {
				read()
			} else {
				time.Sleep(time.Millisecond) // the pause is the case under test
			}
		}
		if c.p.watched.Load() {
			polled++
		}
	}
	if hot < 3 || polled < 3 {
		t.Fatalf("of 6 bursts, %d left the poller and %d pauses returned to it", hot, polled)
	}
	close(stop)
	n := <-sent
	if err := c.Close(frame.CloseNormal, "done"); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := cl.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.Opcode == 8 {
			break
		}
		if f.Opcode == 1 {
			if string(f.Payload) != strconv.Itoa(nextText) {
				t.Fatalf("text %q, want %d", f.Payload, nextText)
			}
			nextText++
		}
	}
	if nextText != n {
		t.Fatalf("%d texts read, %d sent", nextText, n)
	}
	cl.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	expectCloseEvent(t, closes, frame.CloseNormal, "the peer answered the close")
	expectNoSecondCloseEvent(t, closes)
	t.Logf("%d echoes and %d texts from another goroutine, in order; %d of 6 bursts left the poller, %d pauses returned to it", sentEchoes, n, hot, polled)
}

// A peer that resets the connection while it is busy on its own goroutine
// ends it with 1006 and leaves no goroutine behind.
func TestPollerBusyConnectionReset(t *testing.T) {
	loop := runningLoop(t)
	base := runtime.NumGoroutine()
	closes := make(chan CloseCode, 2)
	c, cl := tcpConn(t, loop, &Config{}, func(c *Conn) {
		echoListener(c)
		c.OnClose(func(_ *Conn, code CloseCode, _ string) { closes <- code })
	})
	for i := range 1000 {
		if err := cl.WriteMessage(2, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := cl.ReadMessage(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		if i > 10 && !c.p.watched.Load() {
			break
		}
	}
	if c.p.watched.Load() {
		t.Fatal("the connection did not leave the poller")
	}
	cl.Conn.(*net.TCPConn).SetLinger(0)
	cl.Close()
	expectCloseEvent(t, closes, frame.CloseAbnormal, "the peer reset the connection")
	pollers := pollerCount()
	if g := waitGoroutines(t, base+pollers, 5*time.Second); g > base+pollers {
		t.Errorf("%d goroutines after the reset, %d before", g, base)
	}
}

// A loop's connections are dealt out to several pollers, which read and
// write in parallel, but the loop's listeners still never run at once.
func TestPollersRunListenersOneAtATime(t *testing.T) {
	const conns, msgs = 8, 300
	loop := runningLoop(t)
	var inside, overlaps, calls atomic.Int64
	clients := make([]*wstest.Client, conns)
	servers := make([]*Conn, conns)
	for i := range clients {
		servers[i], clients[i] = tcpConn(t, loop, &Config{}, func(c *Conn) {
			c.OnMessage(func(c *Conn, m *Message) {
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				calls.Add(1)
				runtime.Gosched() // room for another poller to come by
				c.Send(m.Opcode, m.Payload)
				inside.Add(-1)
			})
		})
	}
	used := map[*poller]bool{}
	for i, c := range servers {
		if !wstest.Poll(5*time.Second, c.p.watched.Load) {
			t.Fatalf("connection %d not handed to a poller", i)
		}
		used[c.p.pl] = true
	}
	if want := min(pollerCount(), conns); len(used) != want {
		t.Errorf("%d connections on %d pollers, want %d", conns, len(used), want)
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Several in flight, so that the connections stay with the
			// pollers rather than getting goroutines of their own.
			for j := 0; j < msgs; j += 10 {
				for k := range 10 {
					if err := cl.WriteMessage(2, []byte{byte(i), byte(j + k)}); err != nil {
						errs <- err
						return
					}
				}
				for k := range 10 {
					_, got, _, err := cl.ReadMessage(5 * time.Second)
					if err != nil || !bytes.Equal(got, []byte{byte(i), byte(j + k)}) {
						errs <- fmt.Errorf("client %d message %d: %v %v", i, j+k, got, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("listeners overlapped %d times in %d calls", n, calls.Load())
	}
	t.Logf("%d calls on %d pollers, none overlapping", calls.Load(), len(used))
}

// A reply larger than the socket takes at once: the I/O goroutine's first
// write, which does not block, sends part of it, the blocking flush the
// rest, and the next reply follows it intact.
func TestReplyLargerThanTheSocketTakes(t *testing.T) {
	loop := runningLoop(t)
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	srv, cli := tcpConn(t, loop, &Config{SendQueueLimit: 64 << 20}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			if string(m.Payload) == "big" {
				if err := c.SendBinary(big); err != nil {
					t.Error(err)
				}
				return
			}
			c.Send(m.Opcode, m.Payload)
		})
	})
	if err := cli.WriteMessage(byte(frame.OpText), []byte("big")); err != nil {
		t.Fatal(err)
	}
	if err := cli.WriteMessage(byte(frame.OpText), []byte("after")); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, "the reply filling the socket's buffers", func() bool { return srv.BufferedAmount() > 0 })
	op, p, _, err := cli.ReadMessage(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if op != byte(frame.OpBinary) || !bytes.Equal(p, big) {
		t.Fatalf("got opcode %d, %d bytes (equal %v); want the %d-byte binary reply", op, len(p), bytes.Equal(p, big), len(big))
	}
	op, p, _, err = cli.ReadMessage(5 * time.Second)
	if err != nil || op != byte(frame.OpText) || string(p) != "after" {
		t.Fatalf("second reply: opcode %d %q %v; want text \"after\"", op, p, err)
	}
}

// A connection the poller holds has no read scratch of its own
// (readScratch): the poller lends it the poller's for each read, in which
// a message arrives and SendMessage echoes it as before.
func TestPollerConnectionHoldsNoScratch(t *testing.T) {
	loop := runningLoop(t)
	got := make(chan *readScratch, 1)
	c, cl := tcpConn(t, loop, nil, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			got <- c.r.w
			c.SendMessage(m)
		})
	})
	wstest.WaitFor(t, "the poller taking the connection", c.p.watched.Load)
	if err := cl.WriteMessage(2, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	op, p, _, err := cl.ReadMessage(5 * time.Second)
	if err != nil || op != 2 || string(p) != "hello" {
		t.Fatalf("echo: opcode %d %q, %v", op, p, err)
	}
	if w := <-got; w != &c.p.pl.rd {
		t.Errorf("the listener ran with scratch %p, want its poller's %p", w, &c.p.pl.rd)
	}
}
