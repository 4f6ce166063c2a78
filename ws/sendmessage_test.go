package ws

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/internal/bufpool"
	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
)

// peerFrame encodes a frame as the peer of a connection in role sends it:
// masked to a server, unmasked to a client.
func peerFrame(role frame.Role, fin bool, op Opcode, p []byte) []byte {
	if role == frame.RoleServer {
		return wstest.AppendFrame(nil, fin, 0, byte(op), p)
	}
	h := frame.Header{Fin: fin, Opcode: op, Length: int64(len(p))}
	return append(frame.AppendHeader(nil, &h), p...)
}

// queuedMessages decodes what c's send queue holds, as its peer would.
func queuedMessages(t *testing.T, c *Conn) [][]byte {
	t.Helper()
	var wire []byte
	c.q.mu.Lock()
	for i, b := range c.q.out {
		if i == 0 {
			b = b[c.q.off:]
		}
		wire = append(wire, b...)
	}
	c.q.mu.Unlock()
	peer := frame.RoleClient
	if c.role == frame.RoleClient {
		peer = frame.RoleServer
	}
	d := frame.Decoder{Role: peer}
	var got [][]byte
	for len(wire) > 0 {
		n, ch, ok, err := d.Decode(wire)
		if err != nil {
			t.Fatal(err)
		}
		wire = wire[n:]
		if !ok {
			break
		}
		if ch.Header.Opcode.IsControl() {
			continue // the pongs of the test's pings
		}
		if ch.Start && ch.Header.Opcode != frame.OpContinuation {
			got = append(got, []byte{})
		}
		got[len(got)-1] = append(got[len(got)-1], ch.Payload...)
	}
	return got
}

// sameMessages reports where the messages decoded from a queue (got)
// differ from those sent.
func sameMessages(t *testing.T, what string, got, sent [][]byte) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("%s: %d messages queued, %d sent", what, len(got), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Errorf("%s: message %d (%d bytes) differs in the queue", what, i, len(sent[i]))
		}
	}
}

// SendMessage takes the buffer of a message reassembled from several reads
// or fragments, and the read buffer of one that arrived whole at the end
// of a read (m.Payload is nil after it); it copies a small one, one with
// more of the read after it, and one the listener moved. Either way the
// queue holds the bytes received, and a message that arrives after one
// was taken (into a buffer from the same pool) does not overwrite it while
// it waits to be written. In the client role the taken payload is masked
// in place, and a read buffer is taken only when the masked header fits
// before the payload.
func TestSendMessageTakesAReassembledPayload(t *testing.T) {
	for _, role := range []frame.Role{frame.RoleServer, frame.RoleClient} {
		loop := runningLoop(t)
		srv, cli := net.Pipe()
		c := newConn(srv, &Config{}, connOptions{Loop: loop, Role: role})
		// As the goroutine that calls process has:
		c.takeScratch()
		move := false  // the next listener reslices the payload first
		clone := false // the next listener sends a copy of its Message
		var taken []bool
		c.OnMessage(func(c *Conn, m *Message) {
			if move {
				m.Payload = m.Payload[1:]
			}
			send := m
			if clone {
				m2 := *m
				send = &m2
			}
			if err := c.SendMessage(send); err != nil {
				t.Errorf("role %v: %v", role, err)
			}
			taken = append(taken, m.Payload == nil || send.Payload == nil)
		})
		c.q.holdFlush() // nothing is written: every echo stays queued
		var sent, got [][]byte
		var want []bool
		// written takes what is queued out, as a write would: a read
		// buffer is taken into an empty queue only.
		written := func() {
			got = append(got, queuedMessages(t, c)...)
			c.q.mu.Lock()
			c.q.consumedLocked(c.q.queued)
			c.q.mu.Unlock()
		}
		for i := range 3 {
			p := bytes.Repeat([]byte{byte('a' + i)}, 40<<10+i)
			w := peerFrame(role, true, OpBinary, p)
			c.process(w[:len(w)/2]) // in two reads: reassembled
			c.process(w[len(w)/2:])
			sent, want = append(sent, p), append(want, true)
		}
		small := []byte("whole in one read")
		c.process(peerFrame(role, true, OpText, small))
		sent, want = append(sent, small), append(want, false)

		// Whole in one read and at its end, behind a ping: the read
		// buffer is taken (there is room for a client's masked header
		// too: the ping is 7 bytes) into the empty queue, but not into
		// one that holds the pong.
		whole := bytes.Repeat([]byte{'w'}, 20<<10)
		in := append(peerFrame(role, true, frame.OpPing, []byte("hello")), peerFrame(role, true, OpBinary, whole)...)
		c.process(in)
		sent, want = append(sent, whole), append(want, false)
		c.r.given = false
		written()
		in = append(peerFrame(role, true, frame.OpPong, []byte("hello")), peerFrame(role, true, OpBinary, whole)...)
		c.process(in)
		sent, want = append(sent, whole), append(want, true)
		if !c.r.given {
			t.Errorf("role %v: the read buffer taken is not marked given", role)
		}
		c.releaseRead(in) // not given back: the queue has it
		if c.r.given {
			t.Errorf("role %v: the mark stays after releaseRead", role)
		}
		// At the start of the read: room for a server's header only.
		written()
		c.process(peerFrame(role, true, OpBinary, whole))
		sent, want = append(sent, whole), append(want, role == frame.RoleServer)
		c.r.given = false
		// With more of the read after it: copied.
		written()
		c.process(append(peerFrame(role, true, OpBinary, whole), peerFrame(role, true, frame.OpPing, nil)...))
		sent, want = append(sent, whole), append(want, false)
		if c.r.given {
			t.Errorf("role %v: a read buffer with more after the message was taken", role)
		}

		frag := bytes.Repeat([]byte("fragment"), 1<<10)
		c.process(append(peerFrame(role, false, OpBinary, frag[:3000]), peerFrame(role, true, frame.OpContinuation, frag[3000:])...))
		sent, want = append(sent, frag), append(want, true)

		big := bytes.Repeat([]byte{'z'}, 20<<10)
		w := peerFrame(role, true, OpBinary, big)
		move = true
		c.process(w[:100])
		c.process(w[100:])
		move = false
		sent, want = append(sent, big[1:]), append(want, false)

		clone = true
		w = peerFrame(role, true, OpBinary, big)
		c.process(w[:100])
		c.process(w[100:])
		clone = false
		sent, want = append(sent, big), append(want, false)

		if diff := cmp.Diff(want, taken); diff != "" {
			t.Errorf("role %v: payload taken per message (-want +got):\n%s", role, diff)
		}
		written()
		sameMessages(t, fmt.Sprintf("role %v", role), got, sent)
		c.q.release()
		srv.Close()
		cli.Close()
	}
}

// An echo through SendMessage over TCP: every reply is the message sent,
// byte for byte, while earlier replies are still being written from
// buffers the reader gave away (-race checks who touches them). A 64 KiB
// message is taken, whether it was read in pieces (32 KiB reads on the
// I/O goroutine) or whole (the poller's 128 KiB reads) unless more came
// behind it in the read; the small ones are copied.
func TestSendMessageEchoOverTCP(t *testing.T) {
	loop := runningLoop(t)
	srv, cli := tcpPair(t)
	taken := make(chan bool, 1000)
	_, wc := startConn(t, srv, cli, &Config{}, connOptions{Loop: loop}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			if err := c.SendMessage(m); err != nil {
				t.Error(err)
			}
			taken <- m.Payload == nil
		})
	})
	var sent [][]byte
	for i := range 40 {
		size := 64 << 10
		if i%4 == 3 {
			size = 100 + i
		}
		p := make([]byte, size)
		for j := range p {
			p[j] = byte(i + j*7)
		}
		sent = append(sent, p)
	}
	errc := make(chan error, 1)
	go func() {
		for _, p := range sent {
			if err := wc.WriteMessage(byte(OpBinary), p); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i, p := range sent {
		op, got, _, err := wc.ReadMessage(5 * time.Second)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if op != byte(OpBinary) || !bytes.Equal(got, p) {
			t.Fatalf("reply %d: opcode %d, %d bytes, differs from the %d bytes sent", i, op, len(got), len(p))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	n := 0
	for range sent {
		if <-taken {
			n++
		}
	}
	if n == 0 {
		t.Error("no payload was taken without a copy")
	}
	t.Logf("%d of %d payloads taken without a copy", n, len(sent))
}

// With permessage-deflate, a taken payload waits in the compression slot
// and goes out compressed: the peer inflates the message it sent.
func TestSendMessageDeflated(t *testing.T) {
	loop := runningLoop(t)
	taken := make(chan bool, 1)
	_, cli := deflateConn(t, loop, &Config{}, func(c *Conn) {
		c.OnMessage(func(c *Conn, m *Message) {
			if err := c.SendMessage(m); err != nil {
				t.Error(err)
			}
			taken <- m.Payload == nil
		})
	})
	text := bytes.Repeat([]byte(`{"id":1,"name":"échange"},`), 400)
	// Two frames, uncompressed: the message is reassembled.
	if err := cli.Write(append(wstest.AppendFrame(nil, false, 0, byte(OpText), text[:5000]),
		wstest.AppendFrame(nil, true, 0, byte(frame.OpContinuation), text[5000:])...)); err != nil {
		t.Fatal(err)
	}
	f, err := cli.ReadFrame(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Rsv1 {
		t.Fatal("the echo is not compressed")
	}
	in := &wstest.Inflater{}
	got, _, err := in.Inflate(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, text) {
		t.Fatalf("inflated echo of %d bytes differs from the %d bytes sent", len(got), len(text))
	}
	if !<-taken {
		t.Error("the reassembled payload was copied")
	}
}

// SendMessage refuses what Send refuses, and then takes nothing: the
// listener still has its payload, which the connection gives back itself.
func TestSendMessageErrors(t *testing.T) {
	payload := bytes.Repeat([]byte{7}, 40<<10)
	for _, tt := range []struct {
		name string
		cfg  Config
		// before runs in the listener before SendMessage.
		before func(*Conn, *Message)
		want   error
	}{
		{"closed", Config{}, func(c *Conn, _ *Message) { c.Close(frame.CloseNormal, "") }, ErrClosed},
		{"over the queue limit", Config{SendQueueLimit: 16 << 10, SendQueuePolicy: BackpressureRefuse}, nil, ErrBackpressure},
		{"ping opcode", Config{}, func(_ *Conn, m *Message) { m.Opcode = frame.OpPing }, ErrInvalid},
		{"text not UTF-8", Config{}, func(_ *Conn, m *Message) { m.Opcode = OpText; m.Payload[0] = 0xff }, ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			loop := runningLoop(t)
			srv, cli := net.Pipe()
			defer cli.Close()
			defer srv.Close()
			c := newConn(srv, &tt.cfg, connOptions{Loop: loop, Role: frame.RoleServer})
			c.takeScratch() // as the goroutine that calls process has
			var err error
			kept := false
			c.OnMessage(func(c *Conn, m *Message) {
				if tt.before != nil {
					tt.before(c, m)
				}
				p := m.Payload
				err = c.SendMessage(m)
				kept = len(m.Payload) == len(p) && m.from != nil
			})
			c.q.holdFlush()
			w := peerFrame(frame.RoleServer, true, OpBinary, payload)
			c.process(w[:1000])
			c.process(w[1000:])
			if !errors.Is(err, tt.want) {
				t.Fatalf("SendMessage: %v, want %v", err, tt.want)
			}
			if !kept {
				t.Error("the refused message lost its payload")
			}
			if c.a.buf != nil {
				t.Error("the assembler still holds the refused message's buffer")
			}
			c.q.release()
		})
	}
	// Sent twice: the second send is refused, not sent empty.
	loop := runningLoop(t)
	srv, cli := net.Pipe()
	defer cli.Close()
	defer srv.Close()
	c := newConn(srv, &Config{}, connOptions{Loop: loop, Role: frame.RoleServer})
	c.takeScratch() // as the goroutine that calls process has
	var errs [2]error
	c.OnMessage(func(c *Conn, m *Message) {
		errs[0] = c.SendMessage(m)
		errs[1] = c.SendMessage(m)
	})
	c.q.holdFlush()
	w := peerFrame(frame.RoleServer, true, OpBinary, payload)
	c.process(w[:1000])
	c.process(w[1000:])
	if errs[0] != nil || !errors.Is(errs[1], ErrInvalid) {
		t.Errorf("sent twice: %v, %v; want nil, ErrInvalid", errs[0], errs[1])
	}
	if got := queuedMessages(t, c); len(got) != 1 || !bytes.Equal(got[0], payload) {
		t.Errorf("sent twice: %d messages queued, want the one", len(got))
	}
	c.q.release()

	// Before the opening handshake is complete, and a Message the
	// application made (copied, not taken).
	c = newPending(&Config{}, connOptions{Loop: NewLoop(), Role: frame.RoleServer})
	if err := c.SendMessage(&Message{Opcode: OpBinary, Payload: payload}); !errors.Is(err, ErrNotEstablished) {
		t.Errorf("pending connection: %v, want ErrNotEstablished", err)
	}
	if err := c.SendMessage(&Message{Opcode: OpText, Payload: []byte{0xc3}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("truncated UTF-8: %v, want ErrInvalid", err)
	}
}

// BenchmarkSendMessage is the send queue's part of an echo of 64 KiB (and
// of 8 KiB, the smallest read buffer SendMessage takes), with the message
// read as the poller reads it (a pooled 128 KiB buffer per read, given
// back after it) in two reads (reassembled) or in one (a view into the
// read buffer), passed back with SendMessage (taken: no copy) or
// with Send (copied into the queue's chunks), and the queue written out to
// a loopback socket whose peer discards it.
func BenchmarkSendMessage(b *testing.B) {
	for _, bc := range []struct {
		name string
		send func(*Conn, *Message) error
	}{
		{"SendMessage", (*Conn).SendMessage},
		{"Send", func(c *Conn, m *Message) error { return c.Send(m.Opcode, m.Payload) }},
	} {
		for _, rc := range []struct{ size, reads int }{{8 << 10, 1}, {64 << 10, 1}, {64 << 10, 2}} {
			size, reads := rc.size, rc.reads
			b.Run(fmt.Sprintf("%s/%dKiB/%dreads", bc.name, size>>10, reads), func(b *testing.B) {
				srv, cli := tcpPair(b)
				defer srv.Close()
				go func() {
					buf := make([]byte, 256<<10)
					for {
						if _, err := cli.Read(buf); err != nil {
							return
						}
					}
				}()
				c := newConn(srv, &Config{}, connOptions{Loop: runningLoop(b), Role: frame.RoleServer})
				c.takeScratch() // as the goroutine that calls process has
				c.OnMessage(func(c *Conn, m *Message) {
					if err := bc.send(c, m); err != nil {
						b.Fatal(err)
					}
				})
				w := peerFrame(frame.RoleServer, true, OpBinary, make([]byte, size))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					c.q.holdFlush()
					for k := range reads {
						piece := w[k*len(w)/reads : (k+1)*len(w)/reads]
						buf := append(bufpool.Get(pollerReadBufferSize), piece...)
						c.process(buf)
						c.releaseRead(buf)
					}
					c.q.releaseFlush()
				}
			})
		}
	}
}
