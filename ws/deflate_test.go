package ws

import (
	"bytes"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

const fake101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

// deflateConn starts a server connection with permessage-deflate (context
// takeover both ways, compressing from 64 bytes) on a net.Pipe and returns
// it with its client.
func deflateConn(t *testing.T, loop *Loop, cfg *Config, setup func(*Conn)) (*Conn, *wstest.Client) {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { cli.Close() })
	if cfg.Deflate == nil {
		cfg.Deflate = &permessagedeflate.Config{Level: 1, Threshold: 64}
	}
	return startConn(t, srv, cli, cfg, connOptions{Loop: loop, Deflate: &permessagedeflate.Params{}}, setup)
}

// A message to compress waits in the queue and is compressed by whoever
// writes the queue out, outside the loop; what is sent after it (a message
// below the threshold, a ping, another compressed message, the close) must
// still reach the wire after it, in the order of the sends, and the
// compressor's window must carry over in that order.
func TestDeflatedSendsKeepTheirOrder(t *testing.T) {
	loop := runningLoop(t)
	big1 := strings.Repeat(`{"id":1,"name":"first"},`, 200)
	big2 := strings.Repeat(`{"id":2,"name":"second"},`, 300)
	_, cli := deflateConn(t, loop, &Config{}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			for _, err := range []error{
				c.SendText(big1),
				c.SendText("small"),
				c.SendPing([]byte("p")),
				c.SendText(big2),
				c.SendBinary([]byte{1, 2, 3}),
				c.Close(frame.CloseNormal, "bye"),
			} {
				if err != nil {
					t.Error(err)
				}
			}
		})
	})
	if err := cli.WriteMessage(byte(frame.OpText), []byte("go")); err != nil {
		t.Fatal(err)
	}
	in := &wstest.Inflater{}
	want := []struct {
		op      frame.Opcode
		rsv1    bool
		payload string
	}{
		{frame.OpText, true, big1},
		{frame.OpText, false, "small"},
		{frame.OpPing, false, "p"},
		{frame.OpText, true, big2},
		{frame.OpBinary, false, "\x01\x02\x03"},
		{frame.OpClose, false, string(wstest.ClosePayload(1000, "bye"))},
	}
	for i, w := range want {
		f, err := cli.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		p := f.Payload
		if f.Rsv1 {
			if p, _, err = in.Inflate(p); err != nil {
				t.Fatalf("frame %d: inflate: %v", i, err)
			}
		}
		if frame.Opcode(f.Opcode) != w.op || f.Rsv1 != w.rsv1 || string(p) != w.payload || !f.Fin {
			t.Fatalf("frame %d: opcode %d rsv1 %v fin %v, %d bytes; want opcode %d rsv1 %v, %d bytes",
				i, f.Opcode, f.Rsv1, f.Fin, len(p), w.op, w.rsv1, len(w.payload))
		}
	}
}

// A message to compress counts in the send queue at its uncompressed size
// until it is compressed: that is the memory it holds meanwhile, and what
// SendQueueLimit bounds.
func TestDeflatedSendCountsUncompressedUntilWritten(t *testing.T) {
	loop := runningLoop(t)
	const limit = 64 << 10
	msg := bytes.Repeat([]byte("a"), 40<<10) // compresses to almost nothing
	errs := make(chan error, 3)
	_, cli := deflateConn(t, loop, &Config{SendQueueLimit: limit, SendQueuePolicy: BackpressureRefuse}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			// The listener runs before the queue is written out: the
			// first message waits uncompressed, so the second would
			// pass the limit.
			errs <- c.SendBinary(msg)
			errs <- c.SendBinary(msg)
			errs <- c.SendText("after")
		})
	})
	if err := cli.WriteMessage(byte(frame.OpText), []byte("go")); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("first send: %v", err)
	}
	if err := <-errs; !errors.Is(err, ErrBackpressure) {
		t.Fatalf("second send: %v, want ErrBackpressure", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("third send: %v", err)
	}
	in := &wstest.Inflater{}
	op, p, rsv1, err := cli.ReadMessage(5 * time.Second)
	if err == nil && rsv1 {
		p, _, err = in.Inflate(p)
	}
	if err != nil || op != byte(frame.OpBinary) || !rsv1 || !bytes.Equal(p, msg) {
		t.Fatalf("first message: opcode %d rsv1 %v, %d bytes, %v", op, rsv1, len(p), err)
	}
	op, p, _, err = cli.ReadMessage(5 * time.Second)
	if err != nil || op != byte(frame.OpText) || string(p) != "after" {
		t.Fatalf("second message: opcode %d %q %v", op, p, err)
	}
}

// A connection that ends with compressed messages still waiting gives
// their buffers back (release) and reports its end once.
func TestDeflatedSendsPendingAtTheEnd(t *testing.T) {
	loop := runningLoop(t)
	closed := make(chan CloseCode, 2)
	msg := strings.Repeat("compress me ", 1000)
	conn, cli := deflateConn(t, loop, &Config{}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			for range 10 {
				c.SendText(msg)
			}
			c.nc.Close() // the socket fails before the queue is written
		})
		c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
	})
	if err := cli.WriteMessage(byte(frame.OpText), []byte("go")); err != nil {
		t.Fatal(err)
	}
	expectCloseEvent(t, closed, frame.CloseAbnormal, "the connection ended with messages waiting")
	var kept bool
	var queued int
	if !wstest.Poll(wstest.WaitTimeout, func() bool {
		conn.q.mu.Lock()
		defer conn.q.mu.Unlock()
		kept, queued = conn.q.z != nil, conn.q.queued
		return !kept && queued == 0
	}) {
		t.Fatalf("after the end: %d bytes still queued (deflate state kept: %v)", queued, kept)
	}
	expectNoSecondCloseEvent(t, closed)
}

// A limit beyond what a message can be (math.MaxInt, as a config meaning
// "no limit" might say) still lets compressed messages through: the limit
// handed to the inflater as an int must not wrap negative on 32-bit
// platforms (where every compressed message would close with 1009).
func TestDeflatedMessageUnderAHugeLimit(t *testing.T) {
	loop := runningLoop(t)
	cfg := &Config{MaxMessageSize: math.MaxInt, MaxFrameSize: math.MaxInt}
	if s := cfg.makeSettings(); s.maxMessage != maxMessageCap || int(s.maxMessage) <= 0 || s.maxFrame != maxMessageCap {
		t.Fatalf("limits %d and %d from MaxInt, want %d", s.maxMessage, s.maxFrame, maxMessageCap)
	}
	_, cli := deflateConn(t, loop, cfg, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) { c.Send(m.Opcode, m.Payload) })
	})
	text := strings.Repeat(`{"id":7,"name":"huge limit"},`, 100)
	if err := cli.Write(wstest.AppendFrame(nil, true, 4, byte(frame.OpText), wstest.Deflate([]byte(text)))); err != nil {
		t.Fatal(err)
	}
	op, p, rsv1, err := cli.ReadMessage(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rsv1 {
		if p, _, err = (&wstest.Inflater{}).Inflate(p); err != nil {
			t.Fatal(err)
		}
	}
	if frame.Opcode(op) != frame.OpText || string(p) != text {
		t.Fatalf("echo: opcode %d, %d bytes; want text, %d bytes", op, len(p), len(text))
	}
}
