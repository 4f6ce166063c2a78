package ws

import (
	"io"
	"net"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
)

// The close timeout bounds the closing handshake even when a write to a
// peer that reads nothing is blocked: the socket's write deadline is
// pulled in to it, whatever WriteTimeout says. Here the I/O goroutine
// itself is stuck writing a pong, so it cannot notice the read deadline
// Close sets.
func TestCloseTimeoutBoundsABlockedWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(c *Conn)
		code  CloseCode
	}{
		// The close frame never left: the handshake did not happen.
		{"Close", func(c *Conn) { c.Close(frame.CloseAway, "") }, frame.CloseAbnormal},
		// A message over the limit fails the connection (reported with
		// the failure's code); its close frame waits behind the pong.
		{"failure", nil, frame.CloseMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loop := runningLoop(t)
			srv, cli := net.Pipe() // unbuffered: every write blocks until read
			defer cli.Close()
			cfg := &Config{CloseTimeout: 200 * time.Millisecond, WriteTimeout: time.Minute, MaxMessageSize: 10}
			c := newConn(srv, cfg, connOptions{Loop: loop, Role: frame.RoleServer})
			closed := make(chan CloseCode, 1)
			c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
			c.start()
			wire := wstest.AppendFrame(nil, true, 0, 9, []byte("ping"))
			if tc.close == nil {
				wire = wstest.AppendFrame(wire, true, 0, 2, make([]byte, 11))
			}
			cli.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := cli.Write(wire); err != nil {
				t.Fatal(err)
			}
			ping := len(wstest.AppendFrame(nil, true, 0, 9, []byte("ping")))
			wstest.WaitFor(t, "the server reading the ping and writing its pong", func() bool {
				return c.Stats().BytesIn >= uint64(ping) && c.BufferedAmount() > 0
			})
			if tc.close != nil {
				tc.close(c)
			}
			// The event must come long before WriteTimeout (a minute)
			// would end the write.
			expectCloseEvent(t, closed, tc.code, "the close timeout passed")
		})
	}
}

// Nothing follows our close frame: a pong still owed for the newest of a
// flood of pings (RFC 6455 section 5.5.3 lets the pongs collapse into one)
// goes out before the close frame that answers the peer's, not after it.
func TestNoPongAfterTheCloseFrame(t *testing.T) {
	srv, cli := net.Pipe()
	defer cli.Close()
	c := newConn(srv, &Config{}, connOptions{Loop: NewLoop(), Role: frame.RoleServer})
	c.takeScratch() // as the goroutine that calls process has
	var wire []byte
	for i := range maxQueuedPongs + 4 {
		wire = wstest.AppendFrame(wire, true, 0, 9, []byte{byte(i)})
	}
	wire = wstest.AppendFrame(wire, true, 0, 8, wstest.ClosePayload(1000, ""))
	type sent struct {
		op      byte
		payload []byte
	}
	frames := make(chan []sent, 1)
	go func() { // the peer reads every frame until the server's close
		var got []sent
		defer func() { frames <- got }()
		cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			var hdr [2]byte
			if _, err := io.ReadFull(cli, hdr[:]); err != nil {
				return
			}
			p := make([]byte, hdr[1]&0x7f)
			if _, err := io.ReadFull(cli, p); err != nil {
				return
			}
			got = append(got, sent{hdr[0] & 0x0f, p})
		}
	}()
	// What the I/O goroutine does with one read holding all of it.
	c.q.holdFlush()
	c.process(wire)
	c.q.releaseFlush()
	srv.Close()
	got := <-frames
	if len(got) == 0 || got[len(got)-1].op != 8 {
		t.Fatalf("frames sent: %v; the last must be the close frame", got)
	}
	if pong := got[len(got)-2]; pong.op != 10 || pong.payload[0] != maxQueuedPongs+3 {
		t.Errorf("the frame before the close is %v, want the pong for the newest ping", pong)
	}
}

// goroutineConn starts a server connection on loopback TCP hidden behind
// an interface: it is served the way a TLS or non-Unix one is (no poller,
// no write that skips the deadline, every write through the blocking
// flush; TCP, so a write needs no reader to complete).
func goroutineConn(t *testing.T, cfg *Config, setup func(*Conn)) *wstest.Client {
	srv, cli := tcpPair(t)
	_, wc := startConn(t, struct{ net.Conn }{srv}, cli, cfg, connOptions{Loop: runningLoop(t)}, setup)
	return wc
}

// The close timeout bounds waiting for the peer, not the server's own
// delay: a listener that queues a reply and a close and then takes longer
// than the close timeout must still get both out (net.Conn fails a write
// whose deadline has passed without trying it, so the flush must not
// start from a passed deadline; FuzzConn on the goroutine path with a
// 10 ms close timeout covers the same).
func TestCloseFrameOutAfterTheCloseTimeoutPassed(t *testing.T) {
	wc := goroutineConn(t, &Config{CloseTimeout: 5 * time.Millisecond}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			c.SendText("reply")
			c.Close(frame.CloseNormal, "done")
			time.Sleep(50 * time.Millisecond) // the case under test: a listener slower than the close timeout
		})
	})
	if err := wc.WriteMessage(byte(frame.OpText), []byte("go")); err != nil {
		t.Fatal(err)
	}
	if op, p, _, err := wc.ReadMessage(5 * time.Second); err != nil || frame.Opcode(op) != frame.OpText || string(p) != "reply" {
		t.Fatalf("reply: opcode %d %q %v", op, p, err)
	}
	if code, reason, err := wc.ExpectClose(5 * time.Second); err != nil || code != 1000 || reason != "done" {
		t.Fatalf("close %d %q %v, want 1000 done", code, reason, err)
	}
}

// The same on the read side: the peer's answer to our close frame, already
// in the socket when a slow listener lets the connection read again after
// the close timeout, is still read (net.Conn does not try a read whose
// deadline has passed), so the close event reports the handshake, not
// 1006.
func TestPeerCloseReadAfterTheCloseTimeoutPassed(t *testing.T) {
	closed := make(chan CloseCode, 1)
	inListener, peerClosed := make(chan struct{}), make(chan struct{})
	wc := goroutineConn(t, &Config{CloseTimeout: 5 * time.Millisecond}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			c.Close(frame.CloseNormal, "bye")
			close(inListener)
			select { // the peer's close frame arrives while the listener runs
			case <-peerClosed:
			case <-time.After(wstest.WaitTimeout):
			}
			time.Sleep(50 * time.Millisecond) // the case under test: a listener slower than the close timeout
		})
		c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
	})
	if err := wc.WriteMessage(byte(frame.OpText), []byte("go")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inListener:
	case <-time.After(wstest.WaitTimeout):
		t.Fatal("the listener did not get the message")
	}
	err := wc.Write(wstest.AppendFrame(nil, true, 0, byte(frame.OpClose), wstest.ClosePayload(1000, "")))
	close(peerClosed)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason, err := wc.ExpectClose(5 * time.Second); err != nil || code != 1000 || reason != "bye" {
		t.Fatalf("close %d %q %v, want 1000 bye", code, reason, err)
	}
	expectCloseEvent(t, closed, frame.CloseNormal, "the peer's close frame, read after the close timeout")
}
