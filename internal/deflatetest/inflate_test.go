package deflatetest

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sample returns n bytes that mix random bytes with repeated phrases, so
// every level finds matches at many distances.
func sample(r *rand.Rand, n int) []byte {
	words := []string{"alpha ", "beta ", "gamma ", "{\"id\":", "\"name\":\"x\",", "0123456789"}
	var b []byte
	for len(b) < n {
		switch r.IntN(3) {
		case 0:
			b = append(b, words[r.IntN(len(words))]...)
		case 1:
			b = append(b, byte(r.Uint32()))
		default:
			if len(b) > 0 {
				start := r.IntN(len(b))
				end := min(len(b), start+r.IntN(300))
				b = append(b, b[start:end]...)
			}
		}
	}
	return b[:n]
}

func compress(t *testing.T, level int, dict []byte, parts ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriterDict(&buf, level, dict)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInflateMatchesCompressFlate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	levels := []int{flate.HuffmanOnly, flate.NoCompression, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	sizes := []int{0, 1, 100, 5000, 70000, 200000}
	for _, level := range levels {
		for _, size := range sizes {
			for _, withDict := range []bool{false, true} {
				t.Run(fmt.Sprintf("level=%d/size=%d/dict=%v", level, size, withDict), func(t *testing.T) {
					var dict []byte
					if withDict {
						dict = sample(r, 40000)
					}
					plain := sample(r, size)
					// Two flushes in the middle give stored sync blocks
					// between Huffman blocks.
					data := compress(t, level, dict, plain[:size/3], plain[size/3:size/2], plain[size/2:])
					got, maxDist, err := Inflate(data, dict)
					if err != nil {
						t.Fatalf("Inflate: %v", err)
					}
					if !bytes.Equal(got, plain) {
						t.Fatalf("Inflate returned %d bytes that differ from the %d compressed", len(got), len(plain))
					}
					if maxDist > 32768 {
						t.Errorf("maxDistance = %d, above the 32 KiB window", maxDist)
					}
				})
			}
		}
	}
}

func TestInflateMaxDistance(t *testing.T) {
	tests := []struct {
		name    string
		history []byte
		plain   []byte
		want    int
	}{
		{"no repeats", nil, []byte("abcdefgh"), 0},
		{"period three", nil, bytes.Repeat([]byte("abc"), 40), 3},
		{"into history", []byte("0123456789abcdefghijklmnopqrstuvwxyz"), []byte("0123456789"), 36},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := compress(t, 9, tt.history, tt.plain)
			got, maxDist, err := Inflate(data, tt.history)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(tt.plain), string(got)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if maxDist != tt.want {
				t.Errorf("maxDistance = %d, want %d", maxDist, tt.want)
			}
		})
	}
}

// TestInflateStreams covers the stream shapes permessage-deflate produces
// (RFC 7692 section 7.2.3): sync-flushed payloads with 00 00 ff ff put back,
// a block with BFINAL set followed by more blocks, and the empty message.
func TestInflateStreams(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		history []byte
		want    string
	}{
		{"RFC 7692 7.2.3.1 Hello", []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff}, nil, "Hello"},
		{"RFC 7692 7.2.3.2 shared window", []byte{0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff}, []byte("Hello"), "Hello"},
		{"RFC 7692 7.2.3.3 stored", []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00, 0xff, 0xff}, nil, "Hello"},
		{"RFC 7692 7.2.3.4 BFINAL", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff}, nil, "Hello"},
		{"RFC 7692 7.2.3.5 two blocks", []byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff}, nil, "Hello"},
		{"RFC 7692 7.2.3.6 empty", []byte{0x00, 0x00, 0x00, 0xff, 0xff}, nil, ""},
		{"nothing at all", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Inflate(tt.data, tt.history)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInflateRejects(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff}
	tests := []struct {
		name      string
		data      []byte
		truncated bool
	}{
		{"reserved block type", []byte{0x07}, false},
		{"LEN does not match NLEN", []byte{0x01, 0x05, 0x00, 0x00, 0x00}, false},
		{"stored block cut short", []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'a'}, true},
		{"Huffman block cut short", hello[:4], true},
		// A fixed block: literal 'a' then length 3 at distance 2, where
		// only one byte exists.
		{"distance before the window", fixedBlock(t, []int{'a'}, 3, 2), false},
		{"distance code 30", fixedBlockRaw(t, 'a', 257, 30), false},
		{"length code 286", fixedBlockRaw(t, 'a', 286, 0), false},
		// Dynamic header declaring HLIT=287 (bits 11110).
		{"too many length codes", []byte{0x05 | 0x1e<<3, 0xff, 0xff}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Inflate(tt.data, nil)
			if err == nil {
				t.Fatal("Inflate accepted invalid data")
			}
			var fe *FormatError
			if tt.truncated != errors.Is(err, ErrTruncated) || !tt.truncated && !errors.As(err, &fe) {
				t.Errorf("error %v: want truncated=%v", err, tt.truncated)
			}
		})
	}
}

// bitWriter packs bits least significant first, Huffman codes most
// significant bit first, for hand-made test streams.
type bitWriter struct {
	out  []byte
	acc  uint32
	nacc uint
}

func (w *bitWriter) bits(v int, n uint) {
	w.acc |= uint32(v) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

func (w *bitWriter) code(c int, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>i&1, 1)
	}
}

func (w *bitWriter) fixedLit(sym int) {
	switch {
	case sym < 144:
		w.code(0x30+sym, 8)
	case sym < 256:
		w.code(0x190+sym-144, 9)
	case sym < 280:
		w.code(sym-256, 7)
	default:
		w.code(0xc0+sym-280, 8)
	}
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
	}
	return w.out
}

// fixedBlock writes a final fixed-code block of literals and one match
// whose length and distance need no extra bits.
func fixedBlock(t *testing.T, lits []int, length, dist int) []byte {
	t.Helper()
	if length > 10 || dist > 4 {
		t.Fatal("fixedBlock handles only codes without extra bits")
	}
	var w bitWriter
	w.bits(1, 1)
	w.bits(1, 2)
	for _, l := range lits {
		w.fixedLit(l)
	}
	w.fixedLit(257 + length - 3)
	w.code(dist-1, 5)
	w.fixedLit(256)
	return w.flush()
}

// fixedBlockRaw writes a literal, then the raw length and distance symbols
// (no extra bits), then end-of-block.
func fixedBlockRaw(t *testing.T, lit, lenSym, distSym int) []byte {
	t.Helper()
	var w bitWriter
	w.bits(1, 1)
	w.bits(1, 2)
	w.fixedLit(lit)
	w.fixedLit(lenSym)
	w.code(distSym, 5)
	w.fixedLit(256)
	return w.flush()
}

func TestFixedBlockHelper(t *testing.T) {
	// The helper itself must produce what compress/flate can read, or the
	// rejection tests above would pass for the wrong reason.
	data := fixedBlock(t, []int{'a', 'b'}, 4, 2)
	got, maxDist, err := Inflate(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "ababab"
	if string(got) != want || maxDist != 2 {
		t.Errorf("got %q, maxDistance %d; want %q, 2", got, maxDist, want)
	}
	fr := flate.NewReader(bytes.NewReader(data))
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(fr); err != nil || buf.String() != want {
		t.Errorf("compress/flate read %q, %v; want %q", buf.String(), err, want)
	}
}

func TestInflateMaxOutput(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("inflates 64 MiB a byte at a time")
	}
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range MaxOutput/len(zeros) + 1 {
		w.Write(zeros)
	}
	w.Close()
	out, _, err := Inflate(buf.Bytes(), []byte("history"))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if len(out) > MaxOutput+258 {
		t.Errorf("%d bytes out, cap %d", len(out), MaxOutput)
	}
}

// TestInflateMessage: a permessage-deflate payload inflates whether it
// ends with the header of an empty stored block (RFC 7692 section 7.2.1)
// or with a block that has BFINAL set (section 7.2.3.4), and one that ends
// inside a block does not.
func TestInflateMessage(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    string
		ok      bool
	}{
		{"sync flush", []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, "Hello", true},
		{"final fixed block", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, "Hello", true},
		{"final empty stored block", []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}, "Hello", true},
		{"cut inside a block", []byte{0xf3, 0x48, 0xcd}, "", false},
	}
	for _, tt := range tests {
		out, _, err := InflateMessage(tt.payload, nil)
		if (err == nil) != tt.ok || tt.ok && string(out) != tt.want {
			t.Errorf("%s: %q, %v", tt.name, out, err)
		}
	}
}
