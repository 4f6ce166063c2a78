package frame

import (
	"bytes"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHeaderEncoding pins the byte layout of RFC 6455 section 5.2 at every
// boundary of the three length forms, each in its minimal form.
func TestHeaderEncoding(t *testing.T) {
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	tests := []struct {
		name string
		h    Header
		want []byte
	}{
		{"empty binary", Header{Fin: true, Opcode: OpBinary}, []byte{0x82, 0x00}},
		{"1", Header{Fin: true, Opcode: OpText, Length: 1}, []byte{0x81, 0x01}},
		{"125", Header{Fin: true, Opcode: OpBinary, Length: 125}, []byte{0x82, 0x7d}},
		{"126", Header{Fin: true, Opcode: OpBinary, Length: 126}, []byte{0x82, 0x7e, 0x00, 0x7e}},
		{"127", Header{Fin: true, Opcode: OpBinary, Length: 127}, []byte{0x82, 0x7e, 0x00, 0x7f}},
		{"65535", Header{Fin: true, Opcode: OpBinary, Length: 65535}, []byte{0x82, 0x7e, 0xff, 0xff}},
		{"65536", Header{Fin: true, Opcode: OpBinary, Length: 65536}, []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}},
		{"1<<40", Header{Fin: true, Opcode: OpBinary, Length: 1 << 40}, []byte{0x82, 0x7f, 0, 0, 1, 0, 0, 0, 0, 0}},
		{"max", Header{Fin: true, Opcode: OpBinary, Length: math.MaxInt64}, []byte{0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"masked 0", Header{Fin: true, Opcode: OpPing, Masked: true, Key: key}, []byte{0x89, 0x80, 0xa1, 0xb2, 0xc3, 0xd4}},
		{"masked 125", Header{Fin: true, Opcode: OpText, Masked: true, Key: key, Length: 125}, []byte{0x81, 0xfd, 0xa1, 0xb2, 0xc3, 0xd4}},
		{"masked 126", Header{Fin: true, Opcode: OpText, Masked: true, Key: key, Length: 126}, []byte{0x81, 0xfe, 0x00, 0x7e, 0xa1, 0xb2, 0xc3, 0xd4}},
		{"masked 65536", Header{Opcode: OpText, Masked: true, Key: key, Length: 65536}, []byte{0x01, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0xa1, 0xb2, 0xc3, 0xd4}},
		{"non-fin continuation", Header{Opcode: OpContinuation, Length: 3}, []byte{0x00, 0x03}},
		{"rsv bits", Header{Fin: true, Rsv1: true, Rsv2: true, Rsv3: true, Opcode: OpText}, []byte{0xf1, 0x00}},
		{"rsv1 only", Header{Rsv1: true, Opcode: OpBinary}, []byte{0x42, 0x00}},
		{"rsv2 only", Header{Rsv2: true, Opcode: OpBinary}, []byte{0x22, 0x00}},
		{"rsv3 only", Header{Rsv3: true, Opcode: OpBinary}, []byte{0x12, 0x00}},
		{"close", Header{Fin: true, Opcode: OpClose, Length: 2}, []byte{0x88, 0x02}},
		{"pong", Header{Fin: true, Opcode: OpPong}, []byte{0x8a, 0x00}},
		{"negative length", Header{Fin: true, Opcode: OpBinary, Length: -1}, []byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf [MaxHeaderLen + 4]byte
			n := PutHeader(buf[:], &tt.h)
			if diff := cmp.Diff(tt.want, buf[:n]); diff != "" {
				t.Errorf("PutHeader (-want +got):\n%s", diff)
			}
			if got := HeaderLen(tt.h.Length, tt.h.Masked); got != len(tt.want) {
				t.Errorf("HeaderLen(%d, %v) = %d, want %d", tt.h.Length, tt.h.Masked, got, len(tt.want))
			}
			got := AppendHeader([]byte("xy"), &tt.h)
			if diff := cmp.Diff(append([]byte("xy"), tt.want...), got); diff != "" {
				t.Errorf("AppendHeader (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppendFrame checks the header, the copy and the masking of the copy
// (RFC 6455 section 5.3), and that the caller's payload is left alone.
func TestAppendFrame(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	payload := []byte("abcdefghij")
	orig := bytes.Clone(payload)

	got := AppendFrame([]byte("pre"), Header{Fin: true, Opcode: OpText, Length: 999}, payload)
	want := append([]byte("pre\x81\x0a"), payload...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unmasked frame (-want +got):\n%s", diff)
	}

	got = AppendFrame(nil, Header{Fin: true, Opcode: OpText, Masked: true, Key: key}, payload)
	want = []byte{0x81, 0x8a, 1, 2, 3, 4}
	for i, c := range payload {
		want = append(want, c^key[i%4])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("masked frame (-want +got):\n%s", diff)
	}
	if !bytes.Equal(payload, orig) {
		t.Errorf("AppendFrame modified the payload: %q", payload)
	}
}

// TestRoundTrip encodes frames at every length boundary with AppendFrame,
// as a client (masked) for a server decoder and as a server (unmasked) for
// a client decoder, and decodes them back.
func TestRoundTrip(t *testing.T) {
	lengths := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 65537, 200000}
	for _, role := range []Role{RoleServer, RoleClient} {
		for _, op := range []Opcode{OpText, OpBinary, OpClose, OpPing, OpPong} {
			for _, n := range lengths {
				if op.IsControl() && n > 125 {
					continue
				}
				payload := testPayload(n, n)
				h := Header{Fin: true, Opcode: op, Masked: role == RoleServer}
				if h.Masked {
					h.Key = [4]byte{byte(n), 0x5a, 0xa5, 0xff}
				}
				wire := AppendFrame(nil, h, payload)
				if want := HeaderLen(int64(n), h.Masked) + n; len(wire) != want {
					t.Fatalf("%v %v %d: frame is %d bytes, want %d", role, op, n, len(wire), want)
				}

				d := Decoder{Role: role}
				got, err := decodeAll(t, &d, wire, func() int { return len(wire) })
				if err != nil {
					t.Fatalf("%v %v %d: %v", role, op, n, err)
				}
				h.Length = int64(n)
				want := []frameData{{h, payload}}
				if diff := cmp.Diff(want, got, summarize); diff != "" {
					t.Errorf("%v %v %d (-want +got):\n%s", role, op, n, diff)
				}
			}
		}
	}
}
