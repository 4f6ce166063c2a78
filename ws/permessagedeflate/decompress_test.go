package permessagedeflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The examples of RFC 7692 section 7.2.3, "Hello" compressed in each way
// the section shows.
func TestDecompressRFCExamples(t *testing.T) {
	tests := []struct {
		name     string
		payloads [][]byte // successive messages on one connection
		want     []string
	}{
		{"7.2.3.1 one message", [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, []string{"Hello"}},
		{"7.2.3.1 fragments joined", [][]byte{append([]byte{0xf2, 0x48}, 0xcd, 0xc9, 0xc9, 0x07, 0x00)}, []string{"Hello"}},
		{"7.2.3.2 sharing the window", [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}}, []string{"Hello", "Hello"}},
		{"7.2.3.3 no compression", [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}, []string{"Hello"}},
		{"7.2.3.4 BFINAL set", [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}, []string{"Hello"}},
		{"7.2.3.4 BFINAL twice", [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}, []string{"HelloHello"}},
		{"7.2.3.5 two blocks", [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}, []string{"Hello"}},
		{"7.2.3.6 empty", [][]byte{{0x00}}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecompressor(Params{})
			var got []string
			for _, p := range tt.payloads {
				out, err := d.Decompress(nil, p, 100)
				if err != nil {
					t.Fatalf("Decompress(% x): %v", p, err)
				}
				got = append(got, string(out))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecompressWindowCarriesOverBFINAL: after a block with BFINAL set the
// next block may still refer to what came before it, within the message
// and from earlier messages.
func TestDecompressWindowCarriesOverBFINAL(t *testing.T) {
	hello := []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00} // final block "Hello"
	again := []byte{0xf2, 0x00, 0x11, 0x00, 0x00}             // "Hello" as a back-reference of 5
	for _, takeover := range []bool{true, false} {
		d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
		out, err := d.Decompress(nil, append(append([]byte{}, hello...), again...), 100)
		if err != nil || string(out) != "HelloHello" {
			t.Errorf("takeover=%v: got %q, %v; want HelloHello", takeover, out, err)
		}
		out, err = d.Decompress(nil, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 100)
		if takeover && (err != nil || string(out) != "Hello") {
			t.Errorf("takeover: next message got %q, %v; want Hello", out, err)
		}
		if !takeover && !errors.Is(err, ErrCorrupt) {
			t.Errorf("no takeover: a reference into the last message gave %q, %v; want ErrCorrupt", out, err)
		}
	}
}

func TestDecompressRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	msg := jsonLike(r, 4000)
	c := NewCompressor(nil, Params{})
	good, err := c.Compress(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	tests := []struct {
		name    string
		payload []byte
	}{
		// Even an empty message has a block header (section 7.2.3.6):
		// with 00 00 ff ff put back, nothing at all is a stored block
		// whose LEN and NLEN disagree.
		{"empty payload", []byte{}},
		{"reserved block type", []byte{0x06}},
		{"stored LEN NLEN mismatch", []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'H', 'e', 'l', 'l', 'o'}},
		{"truncated stored block", []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e'}},
		{"truncated Huffman block", good[:len(good)/2]},
		{"truncated by one byte", good[:len(good)-1]},
		{"corrupted", flipped},
		{"distance before the start", []byte{0x62, 0x04, 0x02, 0x00}}, // 'a' then a match at distance 2
		{"final block then garbage", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecompressor(Params{})
			dst := []byte("prefix")
			out, err := d.Decompress(dst, tt.payload, 1<<20)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if string(out) != "prefix" {
				t.Errorf("dst changed to %q on error", out)
			}
		})
	}
	t.Run("the good payload", func(t *testing.T) {
		out, err := NewDecompressor(Params{}).Decompress(nil, good, 1<<20)
		if err != nil || !bytes.Equal(out, msg) {
			t.Errorf("got %d bytes, %v", len(out), err)
		}
	})
}

// TestDecompressWindowLimit: with client_max_window_bits agreed, a client
// that refers back further than its window across messages is caught.
func TestDecompressWindowLimit(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	first := random(r, 1000)
	// A 15-bit compressor (the misbehaving client) repeats the first
	// message: the reference reaches 1000 bytes back.
	c := NewCompressor(nil, Params{})
	p1, _ := c.Compress(nil, first)
	p2, _ := c.Compress(nil, first)
	for _, bits := range []int{9, 10} {
		d := NewDecompressor(Params{ClientMaxWindowBits: bits})
		if _, err := d.Decompress(nil, p1, 1<<20); err != nil {
			t.Fatal(err)
		}
		out, err := d.Decompress(nil, p2, 1<<20)
		if bits == 9 && !errors.Is(err, ErrCorrupt) {
			t.Errorf("bits=9: a 1000-byte reference gave %v, want ErrCorrupt", err)
		}
		if bits == 10 && (err != nil || !bytes.Equal(out, first)) {
			t.Errorf("bits=10: got %d bytes, %v", len(out), err)
		}
	}
}

func TestDecompressLimit(t *testing.T) {
	msg := bytes.Repeat([]byte("abcdefgh"), 1000)
	payload, _ := NewCompressor(nil, Params{}).Compress(nil, msg)
	tests := []struct {
		limit int
		err   error
	}{
		{len(msg), nil},
		{len(msg) + 1, nil},
		{len(msg) - 1, ErrMessageTooBig},
		{0, ErrMessageTooBig},
		{-1, ErrMessageTooBig},
	}
	for _, tt := range tests {
		d := NewDecompressor(Params{})
		out, err := d.Decompress(nil, payload, tt.limit)
		if !errors.Is(err, tt.err) {
			t.Errorf("limit %d: err = %v, want %v", tt.limit, err, tt.err)
		}
		if err == nil && !bytes.Equal(out, msg) {
			t.Errorf("limit %d: wrong output", tt.limit)
		}
		if err != nil && len(out) != 0 {
			t.Errorf("limit %d: %d bytes returned with the error", tt.limit, len(out))
		}
	}
	// An empty message fits a zero limit.
	if _, err := NewDecompressor(Params{}).Decompress(nil, []byte{0x00}, 0); err != nil {
		t.Errorf("empty message, limit 0: %v", err)
	}
}

// bomb returns n zero bytes compressed as a permessage-deflate payload,
// built by streaming zeros through a flate.Writer so the n bytes never
// exist at once.
func bomb(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(zeros) {
		if _, err := w.Write(zeros[:min(left, len(zeros))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return stripTail(buf.Bytes(), 0)
}

// TestDecompressBomb inflates 1 GiB of zeros with a 1 MiB limit and checks
// that the allocation stays near the limit, not the claimed size.
func TestDecompressBomb(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compressing 1 GiB takes seconds, minutes with the race detector")
	}
	const limit = 1 << 20
	payload := bomb(t, 1<<30)
	t.Logf("1 GiB of zeros compressed to %d bytes", len(payload))
	for _, takeover := range []bool{true, false} {
		d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		out, err := d.Decompress(nil, payload, limit)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMessageTooBig) {
			t.Fatalf("err = %v, want ErrMessageTooBig", err)
		}
		if len(out) != 0 {
			t.Errorf("%d bytes returned with the error", len(out))
		}
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("takeover=%v: allocated %d bytes inflating a 1 GiB bomb with a %d-byte limit", takeover, allocated, limit)
		// The output buffer grows to the limit (with append's slack) plus
		// a pooled reader at most.
		if allocated > 6*limit {
			t.Errorf("allocated %d bytes, more than 6 times the %d-byte limit", allocated, limit)
		}
	}
}

// TestDecompressManyFinalBlocks: a payload made of tiny blocks with BFINAL
// set (section 7.2.3.4 allows a final block to be followed by more) costs
// the decoder nothing more than any other block, so it is accepted however
// many there are.
func TestDecompressManyFinalBlocks(t *testing.T) {
	// 0x03 0x00 is a final fixed block holding only end-of-block.
	for _, n := range []int{10, 200000} {
		tiny := bytes.Repeat([]byte{0x03, 0x00}, n)
		out, err := NewDecompressor(Params{}).Decompress(nil, append(tiny, 0x00), 1<<20)
		if err != nil || len(out) != 0 {
			t.Errorf("%d final blocks: %q, %v", n, out, err)
		}
	}
}

func TestReleased(t *testing.T) {
	c := NewCompressor(nil, Params{})
	c.Release()
	c.Release()
	if _, err := c.Compress(nil, []byte("x")); err == nil {
		t.Error("Compress after Release succeeded")
	}
	d := NewDecompressor(Params{})
	d.Release()
	if _, err := d.Decompress(nil, []byte{0x00}, 10); err == nil {
		t.Error("Decompress after Release succeeded")
	}
}
