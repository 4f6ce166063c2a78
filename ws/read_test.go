package ws

import (
	"bytes"
	"net"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
)

// The reassembly buffer grows with the payload that has arrived, not with
// the length a frame header announces: a header for a 4 MiB frame followed
// by one byte must not make the connection hold 4 MiB.
func TestReassemblyBufferFollowsArrivedPayload(t *testing.T) {
	loop := NewLoop()
	loop.Ref()
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	defer func() {
		loop.Unref()
		<-done
	}()
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	c := NewConn(srv, &Config{}, ConnOptions{Loop: loop, Role: frame.RoleServer})
	var got []byte
	c.OnMessage(func(_ *Conn, m *Message) { got = bytes.Clone(m.Payload) })

	payload := bytes.Repeat([]byte("0123456789abcdef"), (DefaultMaxMessageSize-1024)/16)
	wire := wstest.AppendFrame(nil, true, 0, 2, payload)
	hdrLen := len(wire) - len(payload)
	// process runs on this goroutine here, as it would on the I/O
	// goroutine: the reader's state may be inspected between calls.
	c.process(wire[:hdrLen+1])
	if n := cap(c.r.buf); n > DefaultReadBufferSize {
		t.Fatalf("after a %d-byte frame header and 1 byte: %d bytes held", len(payload), n)
	}
	arrived := 1
	for off := hdrLen + 1; off < len(wire); off += DefaultReadBufferSize {
		end := min(off+DefaultReadBufferSize, len(wire))
		c.process(wire[off:end])
		arrived += end - off
		if c.r.buf != nil && cap(c.r.buf) > 2*arrived+DefaultReadBufferSize {
			t.Fatalf("%d bytes arrived, %d held", arrived, cap(c.r.buf))
		}
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("message of %d bytes delivered as %d bytes (or differs)", len(payload), len(got))
	}
	if c.r.buf != nil {
		t.Fatalf("%d bytes still held after the message", cap(c.r.buf))
	}
}
