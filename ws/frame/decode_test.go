package frame

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// client encodes a frame as a client sends it (masked), server as a server
// sends it (unmasked). Neither validates h, so they also build bad frames.
func client(h Header, payload string) []byte {
	h.Masked, h.Key = true, testKey
	return AppendFrame(nil, h, []byte(payload))
}

func server(h Header, payload string) []byte {
	return AppendFrame(nil, h, []byte(payload))
}

// rawHeader builds a header byte by byte, for encodings AppendFrame never
// produces (non-minimal lengths, the 64-bit top bit).
func rawHeader(b0, b1 byte, rest ...byte) []byte {
	return append([]byte{b0, b1}, rest...)
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestDecodeRejects lists every header rule of RFC 6455 sections 5.1-5.5
// the decoder enforces, each after an optional prefix of valid frames, and
// checks the close code, the reason, that the frames before the bad one are
// still reported, and that not one payload byte of the bad frame was
// unmasked.
func TestDecodeRejects(t *testing.T) {
	type tc struct {
		name      string
		role      Role
		rsv1      bool
		maxFrame  int64
		prefix    []byte // valid frames before the bad one
		nPrefix   int    // frames in prefix
		bad       []byte
		wantCode  CloseCode
		wantInErr string
	}
	textStart := client(Header{Opcode: OpText}, "ab")
	tests := []tc{
		{name: "rsv1 without extension", bad: client(Header{Fin: true, Rsv1: true, Opcode: OpText}, "x"), wantCode: 1002, wantInErr: "RSV1"},
		{name: "rsv1 on ping", rsv1: true, bad: client(Header{Fin: true, Rsv1: true, Opcode: OpPing}, "x"), wantCode: 1002, wantInErr: "RSV1 set on a control"},
		{name: "rsv1 on close", rsv1: true, bad: client(Header{Fin: true, Rsv1: true, Opcode: OpClose}, ""), wantCode: 1002, wantInErr: "RSV1 set on a control"},
		{name: "rsv1 on continuation", rsv1: true, prefix: textStart, nPrefix: 1, bad: client(Header{Fin: true, Rsv1: true, Opcode: OpContinuation}, "x"), wantCode: 1002, wantInErr: "RSV1 set on a continuation"},
		{name: "rsv2", bad: client(Header{Fin: true, Rsv2: true, Opcode: OpBinary}, "x"), wantCode: 1002, wantInErr: "RSV2"},
		{name: "rsv2 with extension", rsv1: true, bad: client(Header{Fin: true, Rsv2: true, Opcode: OpBinary}, "x"), wantCode: 1002, wantInErr: "RSV2"},
		{name: "rsv3", bad: client(Header{Fin: true, Rsv3: true, Opcode: OpBinary}, "x"), wantCode: 1002, wantInErr: "RSV3"},
		{name: "rsv3 client role", role: RoleClient, bad: server(Header{Fin: true, Rsv3: true, Opcode: OpBinary}, "x"), wantCode: 1002, wantInErr: "RSV3"},
		{name: "close not fin", bad: client(Header{Opcode: OpClose}, ""), wantCode: 1002, wantInErr: "fragmented control"},
		{name: "ping not fin", bad: client(Header{Opcode: OpPing}, "x"), wantCode: 1002, wantInErr: "fragmented control"},
		{name: "pong not fin inside message", prefix: textStart, nPrefix: 1, bad: client(Header{Opcode: OpPong}, "x"), wantCode: 1002, wantInErr: "fragmented control"},
		{name: "ping 126", bad: client(Header{Fin: true, Opcode: OpPing}, strings.Repeat("p", 126)), wantCode: 1002, wantInErr: "over 125"},
		{name: "close 64-bit length", bad: client(Header{Fin: true, Opcode: OpClose}, strings.Repeat("p", 70000)), wantCode: 1002, wantInErr: "over 125"},
		{name: "pong 126 client role", role: RoleClient, bad: server(Header{Fin: true, Opcode: OpPong}, strings.Repeat("p", 126)), wantCode: 1002, wantInErr: "over 125"},
		{name: "unmasked to server", bad: server(Header{Fin: true, Opcode: OpText}, "hi"), wantCode: 1002, wantInErr: "unmasked"},
		{name: "unmasked empty to server", bad: server(Header{Fin: true, Opcode: OpBinary}, ""), wantCode: 1002, wantInErr: "unmasked"},
		{name: "unmasked ping to server", bad: server(Header{Fin: true, Opcode: OpPing}, ""), wantCode: 1002, wantInErr: "unmasked"},
		{name: "masked to client", role: RoleClient, bad: client(Header{Fin: true, Opcode: OpText}, "hi"), wantCode: 1002, wantInErr: "masked frame from a server"},
		{name: "masked close to client", role: RoleClient, bad: client(Header{Fin: true, Opcode: OpClose}, ""), wantCode: 1002, wantInErr: "masked frame from a server"},
		{name: "continuation first", bad: client(Header{Fin: true, Opcode: OpContinuation}, "x"), wantCode: 1002, wantInErr: "no message in progress"},
		{name: "continuation after finished message", prefix: concat(textStart, client(Header{Fin: true, Opcode: OpContinuation}, "c")), nPrefix: 2, bad: client(Header{Opcode: OpContinuation}, "x"), wantCode: 1002, wantInErr: "no message in progress"},
		{name: "continuation client role", role: RoleClient, bad: server(Header{Opcode: OpContinuation}, ""), wantCode: 1002, wantInErr: "no message in progress"},
		{name: "text inside message", prefix: textStart, nPrefix: 1, bad: client(Header{Fin: true, Opcode: OpText}, "x"), wantCode: 1002, wantInErr: "fragmented message is in progress"},
		{name: "binary inside message after ping", prefix: concat(textStart, client(Header{Fin: true, Opcode: OpPing}, "")), nPrefix: 2, bad: client(Header{Opcode: OpBinary}, "x"), wantCode: 1002, wantInErr: "fragmented message is in progress"},
		{name: "64-bit length top bit", bad: rawHeader(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4), wantCode: 1002, wantInErr: "most significant bit"},
		{name: "64-bit length all ones with limit", maxFrame: 10, bad: rawHeader(0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4), wantCode: 1002, wantInErr: "most significant bit"},
		{name: "16-bit form for 0", bad: rawHeader(0x82, 0xfe, 0, 0, 1, 2, 3, 4), wantCode: 1002, wantInErr: "minimal"},
		{name: "16-bit form for 125", bad: concat(rawHeader(0x82, 0xfe, 0, 125, 1, 2, 3, 4), make([]byte, 125)), wantCode: 1002, wantInErr: "minimal"},
		{name: "64-bit form for 0", bad: rawHeader(0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4), wantCode: 1002, wantInErr: "minimal"},
		{name: "64-bit form for 125", bad: concat(rawHeader(0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 125, 1, 2, 3, 4), make([]byte, 125)), wantCode: 1002, wantInErr: "minimal"},
		{name: "64-bit form for 126", bad: concat(rawHeader(0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 126, 1, 2, 3, 4), make([]byte, 126)), wantCode: 1002, wantInErr: "minimal"},
		{name: "64-bit form for 65535", bad: concat(rawHeader(0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4), make([]byte, 65535)), wantCode: 1002, wantInErr: "minimal"},
		{name: "16-bit form client role", role: RoleClient, bad: concat(rawHeader(0x82, 0x7e, 0, 5), make([]byte, 5)), wantCode: 1002, wantInErr: "minimal"},
		{name: "over limit 7-bit", maxFrame: 100, bad: client(Header{Fin: true, Opcode: OpBinary}, strings.Repeat("x", 101)), wantCode: 1009, wantInErr: "size limit"},
		{name: "over limit 16-bit", maxFrame: 1000, prefix: client(Header{Fin: true, Opcode: OpBinary}, strings.Repeat("y", 1000)), nPrefix: 1, bad: client(Header{Fin: true, Opcode: OpText}, strings.Repeat("x", 1001)), wantCode: 1009, wantInErr: "size limit"},
		{name: "over limit 64-bit header only", maxFrame: 1 << 20, bad: rawHeader(0x82, 0xff, 0, 0, 0, 0, 0x7f, 0, 0, 0, 1, 2, 3, 4), wantCode: 1009, wantInErr: "size limit"},
		{name: "over limit continuation", maxFrame: 2, prefix: textStart, nPrefix: 1, bad: client(Header{Fin: true, Opcode: OpContinuation}, "abc"), wantCode: 1009, wantInErr: "size limit"},
		{name: "over limit client role", role: RoleClient, maxFrame: 3, bad: server(Header{Fin: true, Opcode: OpBinary}, "abcd"), wantCode: 1009, wantInErr: "size limit"},
	}
	for op := Opcode(3); op <= 0xF; op++ {
		if op == OpClose || op == OpPing || op == OpPong {
			continue
		}
		tests = append(tests, tc{name: fmt.Sprintf("reserved opcode %d", op), bad: client(Header{Fin: true, Opcode: op}, "x"), wantCode: 1002, wantInErr: "reserved opcode"})
		tests = append(tests, tc{name: fmt.Sprintf("reserved opcode %d inside message", op), prefix: textStart, nPrefix: 1, bad: client(Header{Opcode: op}, ""), wantCode: 1002, wantInErr: "reserved opcode"})
	}

	for _, tt := range tests {
		for _, feed := range []string{"whole", "bytewise"} {
			t.Run(tt.name+"/"+feed, func(t *testing.T) {
				in := concat(tt.prefix, tt.bad)
				orig := bytes.Clone(in)
				d := Decoder{Role: tt.role, AllowRSV1: tt.rsv1, MaxFrameSize: tt.maxFrame}
				size := len(in)
				if feed == "bytewise" {
					size = 1
				}
				frames, err := decodeAll(t, &d, in, func() int { return size })

				var fe *Error
				if !errors.As(err, &fe) {
					t.Fatalf("error = %v, want a *frame.Error", err)
				}
				if fe.Code != tt.wantCode || !strings.Contains(fe.Reason, tt.wantInErr) {
					t.Errorf("error = %d %q, want %d containing %q", fe.Code, fe.Reason, tt.wantCode, tt.wantInErr)
				}
				if want := "websocket: " + fe.Reason; err.Error() != want {
					t.Errorf("Error() = %q, want %q", err.Error(), want)
				}
				if len(frames) != tt.nPrefix {
					t.Errorf("%d frames before the error, want %d", len(frames), tt.nPrefix)
				}
				if !bytes.Equal(in[len(tt.prefix):], orig[len(tt.prefix):]) {
					t.Errorf("the rejected frame's bytes were modified")
				}

				// The error is sticky: later input, even valid, gets
				// the same error and is not consumed.
				n, f, ok, err2 := d.Decode(client(Header{Fin: true, Opcode: OpText}, "ok"))
				if err2 != err || n != 0 || ok || f.Start {
					t.Errorf("after the error Decode = (%d, %+v, %v, %v), want (0, zero, false, %v)", n, f, ok, err2, err)
				}
			})
		}
	}
}

// TestDecodeAccepts covers the limits' edges: exactly MaxFrameSize, the
// largest control frame, RSV1 on the first frame of a message with the
// extension, and a non-positive limit meaning none.
func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name     string
		role     Role
		rsv1     bool
		maxFrame int64
		in       []byte
		want     int // frames
	}{
		{"at limit", RoleServer, false, 100, client(Header{Fin: true, Opcode: OpBinary}, strings.Repeat("x", 100)), 1},
		{"at 16-bit limit", RoleServer, false, 126, client(Header{Fin: true, Opcode: OpBinary}, strings.Repeat("x", 126)), 1},
		{"negative limit", RoleServer, false, -1, client(Header{Fin: true, Opcode: OpBinary}, strings.Repeat("x", 70000)), 1},
		{"ping 125", RoleServer, false, 0, client(Header{Fin: true, Opcode: OpPing}, strings.Repeat("p", 125)), 1},
		{"close 125 client role", RoleClient, false, 0, server(Header{Fin: true, Opcode: OpClose}, strings.Repeat("p", 125)), 1},
		{"rsv1 first frames", RoleServer, true, 0, concat(
			client(Header{Fin: true, Rsv1: true, Opcode: OpText}, "a"),
			client(Header{Rsv1: true, Opcode: OpBinary}, "b"),
			client(Header{Fin: true, Opcode: OpPing}, ""),
			client(Header{Fin: true, Opcode: OpContinuation}, "c"),
		), 4},
		{"interleaved controls", RoleClient, false, 0, concat(
			server(Header{Opcode: OpText}, "a"),
			server(Header{Fin: true, Opcode: OpPing}, "1"),
			server(Header{Opcode: OpContinuation}, "b"),
			server(Header{Fin: true, Opcode: OpPong}, "2"),
			server(Header{Fin: true, Opcode: OpClose}, ""),
			server(Header{Fin: true, Opcode: OpContinuation}, "c"),
			server(Header{Fin: true, Opcode: OpText}, "next"),
		), 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decoder{Role: tt.role, AllowRSV1: tt.rsv1, MaxFrameSize: tt.maxFrame}
			frames, err := decodeAll(t, &d, tt.in, func() int { return 3 })
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != tt.want {
				t.Errorf("decoded %d frames, want %d", len(frames), tt.want)
			}
		})
	}
}

// TestDecodeHeaderFirst checks that the first piece arrives as soon as the
// header is complete, before any payload byte, and that later pieces
// continue the key offset across reads.
func TestDecodeHeaderFirst(t *testing.T) {
	wire := client(Header{Fin: true, Opcode: OpText}, "hello, world")
	hdrLen := HeaderLen(12, true)
	d := Decoder{}

	type piece struct {
		N          int
		OK         bool
		Payload    string
		Start, End bool
	}
	var got []piece
	for _, p := range [][]byte{wire[:1], wire[1:hdrLen], wire[hdrLen : hdrLen+5], {}, wire[hdrLen+5:]} {
		n, f, ok, err := d.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, piece{n, ok, string(f.Payload), f.Start, f.End})
	}
	want := []piece{
		{N: 1},
		{N: hdrLen - 1, OK: true, Start: true},
		{N: 5, OK: true, Payload: "hello"},
		{N: 0},
		{N: 7, OK: true, Payload: ", world", End: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pieces (-want +got):\n%s", diff)
	}
}

// TestDecodeEmptyFrame checks that a frame without payload is one piece
// with Start and End both set, and that the header of the next frame in the
// same buffer is not consumed with it.
func TestDecodeEmptyFrame(t *testing.T) {
	in := concat(client(Header{Fin: true, Opcode: OpPing}, ""), client(Header{Fin: true, Opcode: OpText}, "x"))
	d := Decoder{}
	n, f, ok, err := d.Decode(in)
	if err != nil || !ok {
		t.Fatalf("Decode = (%d, %v, %v)", n, ok, err)
	}
	want := Chunk{Header: Header{Fin: true, Opcode: OpPing, Masked: true, Key: testKey}, Payload: []byte{}, Start: true, End: true}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("chunk (-want +got):\n%s", diff)
	}
	if n != 6 {
		t.Errorf("consumed %d bytes, want the 6 of the ping", n)
	}
}

// TestDecodeReset checks that Reset clears a sticky error, a partial header
// and a message in progress, and keeps the settings.
func TestDecodeReset(t *testing.T) {
	d := Decoder{Role: RoleClient, MaxFrameSize: 10, AllowRSV1: true}
	if _, _, _, err := d.Decode(server(Header{Fin: true, Opcode: OpContinuation}, "")); err == nil {
		t.Fatal("continuation without a message was accepted")
	}
	d.Reset()
	if d.Role != RoleClient || d.MaxFrameSize != 10 || !d.AllowRSV1 {
		t.Errorf("Reset changed the settings: %+v", d)
	}
	// Leave a fragmented message and half a header behind.
	start := server(Header{Rsv1: true, Opcode: OpText}, "ab")
	next := server(Header{Fin: true, Opcode: OpBinary}, strings.Repeat("z", 200))
	if _, err := decodeAll(t, &d, concat(start, next[:1]), func() int { return 100 }); err != nil {
		t.Fatal(err)
	}
	d.Reset()
	frames, err := decodeAll(t, &d, server(Header{Fin: true, Opcode: OpText}, "fresh"), func() int { return 100 })
	if err != nil || len(frames) != 1 || string(frames[0].Payload) != "fresh" {
		t.Errorf("after Reset: frames %+v, err %v", frames, err)
	}
}

// TestDecodeNoAllocs checks the steady state promised by the package
// comment: decoding frames, whole or split inside the header, allocates
// nothing.
func TestDecodeNoAllocs(t *testing.T) {
	wire := client(Header{Fin: true, Opcode: OpBinary}, strings.Repeat("x", 300))
	buf := make([]byte, len(wire))
	d := Decoder{}
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, wire)
		for _, p := range [][]byte{buf[:3], buf[3:]} {
			for {
				n, _, ok, err := d.Decode(p)
				if err != nil {
					t.Fatal(err)
				}
				p = p[n:]
				if !ok {
					break
				}
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per frame, want 0", allocs)
	}
}
