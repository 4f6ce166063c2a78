package ws

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"unievent.dev/ws/frame"
)

// What an application may get wrong when it sends or closes: each call
// is refused with its error, nothing of it reaches the wire, and the
// connection goes on. Once the close frame is queued, every send is
// refused with ErrClosed.
func TestSendAndCloseRefuseBadArguments(t *testing.T) {
	loop := runningLoop(t)
	srv, cli := net.Pipe()
	t.Cleanup(func() { cli.Close() })
	c, wc := startConn(t, srv, cli, &Config{}, connOptions{Loop: loop}, nil)
	long := strings.Repeat("r", 124) // with the 2-byte code, over 125
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Close with a code not for the wire (1006)", c.Close(frame.CloseAbnormal, ""), errInvalidCloseCode},
		{"Close with an unassigned code (999)", c.Close(CloseCode(999), ""), errInvalidCloseCode},
		{"Close with a reason and no code", c.Close(frame.CloseNoStatus, "why"), errReasonWithout},
		{"Close with a 124-byte reason", c.Close(frame.CloseNormal, long), errControlTooLong},
		{"Close with a reason not UTF-8", c.Close(frame.CloseNormal, "\xff"), errInvalidUTF8},
		{"SendText not UTF-8", c.SendText("ok\xc3"), errInvalidUTF8},
		{"Send text of a surrogate", c.Send(OpText, []byte{0xed, 0xa0, 0x80}), errInvalidUTF8},
		{"Send text not UTF-8", c.Send(OpText, []byte{0xff}), errInvalidUTF8},
		{"Send with a ping opcode", c.Send(frame.OpPing, nil), errInvalidOpcode},
		{"Send with a continuation opcode", c.Send(frame.OpContinuation, []byte("x")), errInvalidOpcode},
		{"SendPing with 126 bytes", c.SendPing(make([]byte, 126)), errControlTooLong},
	} {
		if !errors.Is(tc.err, tc.want) || !errors.Is(tc.err, ErrInvalid) {
			t.Errorf("%s: %v, want %v (an ErrInvalid)", tc.name, tc.err, tc.want)
		}
	}
	// None of it went out: the next frame on the wire is this one.
	if err := c.SendPing(make([]byte, 125)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendText("still open"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		op      frame.Opcode
		payload []byte
	}{{frame.OpPing, make([]byte, 125)}, {frame.OpText, []byte("still open")}} {
		f, err := wc.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if frame.Opcode(f.Opcode) != want.op || !bytes.Equal(f.Payload, want.payload) {
			t.Fatalf("frame opcode %d %q, want %d %q", f.Opcode, f.Payload, want.op, want.payload)
		}
	}

	if err := c.Close(frame.CloseNormal, strings.Repeat("r", 123)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"Close", c.Close(frame.CloseNormal, "")},
		{"SendText", c.SendText("late")},
		{"SendBinary", c.SendBinary([]byte("late"))},
		{"SendPing", c.SendPing(nil)},
	} {
		if !errors.Is(tc.err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", tc.name, tc.err)
		}
	}
	if code, reason, err := wc.ExpectClose(5 * time.Second); err != nil || code != 1000 || len(reason) != 123 {
		t.Fatalf("close %d, %d-byte reason, %v; want 1000 with the 123-byte reason", code, len(reason), err)
	}
}
