package mask

import (
	"bytes"
	"fmt"
	"testing"
)

// naiveXOR is the reference: RFC 6455 section 5.3 written out byte by byte.
func naiveXOR(b []byte, key [4]byte, pos int) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

// TestXORMatchesNaive covers every tail length around the 8- and 64-byte
// loops, every key offset and every misalignment of the slice start, and
// checks that bytes outside b are left alone.
func TestXORMatchesNaive(t *testing.T) {
	key := [4]byte{0x8a, 0x3c, 0xf1, 0x07}
	const guard = 16
	for length := 0; length <= 300; length++ {
		for pos := 0; pos < 4; pos++ {
			for align := 0; align < 8; align++ {
				buf := make([]byte, guard+align+length+guard)
				for i := range buf {
					buf[i] = byte(i*31 + 7)
				}
				want := bytes.Clone(buf)
				wantNext := naiveXOR(want[guard+align:guard+align+length], key, pos)

				gotNext := XOR(buf[guard+align:guard+align+length], key, pos)
				if gotNext != wantNext {
					t.Fatalf("len %d pos %d align %d: next offset %d, want %d", length, pos, align, gotNext, wantNext)
				}
				if !bytes.Equal(buf, want) {
					t.Fatalf("len %d pos %d align %d: XOR result differs from the byte-by-byte reference\n got %x\nwant %x", length, pos, align, buf, want)
				}
			}
		}
	}
}

// TestXORPieces checks the streaming contract: masking a payload in pieces,
// passing each returned offset to the next call, equals masking it whole.
func TestXORPieces(t *testing.T) {
	key := [4]byte{1, 2, 4, 8}
	payload := make([]byte, 1000)
	for i := range payload {
		payload[i] = byte(i)
	}
	want := bytes.Clone(payload)
	naiveXOR(want, key, 0)
	for _, sizes := range [][]int{{1}, {3}, {7}, {9}, {13, 5}, {64, 1}, {65}, {100, 250}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			got := bytes.Clone(payload)
			pos, off := 0, 0
			for i := 0; off < len(got); i++ {
				end := min(off+sizes[i%len(sizes)], len(got))
				pos = XOR(got[off:end], key, pos)
				off = end
			}
			if !bytes.Equal(got, want) {
				t.Errorf("masking in pieces of %v differs from masking whole", sizes)
			}
			if pos != len(got)%4 {
				t.Errorf("final offset %d, want %d", pos, len(got)%4)
			}
		})
	}
}

// TestXORInvolution checks the property the decoder relies on: masking twice
// restores the original.
func TestXORInvolution(t *testing.T) {
	orig := []byte("The quick brown fox jumps over the lazy dog, twice over.")
	b := bytes.Clone(orig)
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	XOR(b, key, 2)
	if bytes.Equal(b, orig) {
		t.Fatal("XOR left the data unchanged")
	}
	XOR(b, key, 2)
	if !bytes.Equal(b, orig) {
		t.Errorf("XOR twice = %q, want %q", b, orig)
	}
}

// TestXORPosHighBits checks that only the low two bits of pos matter.
func TestXORPosHighBits(t *testing.T) {
	key := [4]byte{9, 8, 7, 6}
	for _, pos := range []int{4, 5, 6, 7, 1 << 20, -1} {
		got := make([]byte, 20)
		want := make([]byte, 20)
		gotNext := XOR(got, key, pos)
		wantNext := naiveXOR(want, key, pos&3)
		if !bytes.Equal(got, want) || gotNext != wantNext {
			t.Errorf("pos %d: got %x next %d, want %x next %d", pos, got, gotNext, want, wantNext)
		}
	}
}
