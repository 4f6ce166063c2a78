package permessagedeflate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"unievent.dev/internal/deflatetest"
)

// jsonLike returns n bytes of JSON records with repeated keys and varied
// values, like the messages of a typical WebSocket API.
func jsonLike(r *rand.Rand, n int) []byte {
	names := []string{"alice", "bob", "carol", "dave", "eve", "mallory"}
	events := []string{"join", "leave", "message", "typing", "presence"}
	b := []byte("[")
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"user":%q,"event":%q,"ts":%d,"text":%q,"seen":%v},`,
			r.IntN(1e6), names[r.IntN(len(names))], events[r.IntN(len(events))],
			1700000000000+r.Int64N(1e9), words(r, 3+r.IntN(12)), r.IntN(2) == 0)
	}
	return b[:n]
}

var vocabulary = []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
	"socket", "frame", "message", "server", "client", "window", "deflate", "compress",
	"stream", "buffer", "event", "loop", "of", "and", "to", "in", "a", "is"}

func words(r *rand.Rand, n int) string {
	var b []byte
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, vocabulary[r.IntN(len(vocabulary))]...)
	}
	return string(b)
}

func text(r *rand.Rand, n int) []byte {
	var b []byte
	for len(b) < n {
		b = append(b, words(r, 5+r.IntN(15))...)
		b = append(b, ".\n"...)
	}
	return b[:n]
}

func random(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestRoundTrip compresses sequences of messages at every window and both
// takeover settings and checks three things: the Decompressor restores
// them; an independent inflater reads the same bytes, never seeing a
// distance above 2^bits; and the messages inflate as one stream with
// context takeover, each on its own without.
func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 16, 1 << 10, 64 << 10, 128 << 10}
	kinds := []struct {
		name string
		gen  func(*rand.Rand, int) []byte
	}{{"random", random}, {"json", jsonLike}}
	for bits := 8; bits <= 15; bits++ {
		for _, takeover := range []bool{true, false} {
			for _, kind := range kinds {
				t.Run(fmt.Sprintf("bits=%d/takeover=%v/%s", bits, takeover, kind.name), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(bits), 7))
					var msgs [][]byte
					for _, n := range sizes {
						msgs = append(msgs, kind.gen(r, n))
					}
					// A repeat of the 1 KiB message right after it
					// makes context takeover visible.
					msgs = append(msgs[:4], append([][]byte{msgs[3]}, msgs[4:]...)...)
					roundTrip(t, bits, takeover, 1, msgs, 4)
				})
			}
		}
	}
}

func TestRoundTripLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	msgs := [][]byte{jsonLike(r, 20000), text(r, 5000), random(r, 3000), jsonLike(r, 70000)}
	for _, level := range []int{-2, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		for _, bits := range []int{8, 9, 12, 14, 15} {
			t.Run(fmt.Sprintf("level=%d/bits=%d", level, bits), func(t *testing.T) {
				roundTrip(t, bits, true, level, msgs, -1)
			})
		}
	}
}

// roundTrip sends msgs through a Compressor and a Decompressor agreed on
// bits and takeover and verifies each payload with deflatetest. msgs[repeat]
// (unless repeat is -1) repeats the message before it.
func roundTrip(t *testing.T, bits int, takeover bool, level int, msgs [][]byte, repeat int) {
	t.Helper()
	p := Params{
		ServerNoContextTakeover: !takeover, ServerMaxWindowBits: bits,
		// The decompressor plays the client, so it gets the server's side.
		ClientNoContextTakeover: !takeover, ClientMaxWindowBits: bits,
	}
	c := NewCompressor(&Config{Level: level}, p)
	defer c.Release()
	d := NewDecompressor(p)
	defer d.Release()
	var stream []byte // everything sent so far: the shared window
	var payload, out []byte
	for i, msg := range msgs {
		var err error
		payload, err = c.Compress(payload[:0], msg)
		if err != nil {
			t.Fatalf("message %d: Compress: %v", i, err)
		}
		out, err = d.Decompress(out[:0], payload, len(msg))
		if err != nil {
			t.Fatalf("message %d (%d bytes): Decompress: %v", i, len(msg), err)
		}
		if !bytes.Equal(out, msg) {
			t.Fatalf("message %d: Decompress returned %d bytes that differ from the %d sent", i, len(out), len(msg))
		}
		var history []byte
		if takeover {
			history = stream
		}
		got, maxDist, err := deflatetest.Inflate(append(payload[:len(payload):len(payload)], syncMarker...), history)
		if err != nil {
			t.Fatalf("message %d: independent inflater: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d: independent inflater returned %d bytes that differ from the %d sent", i, len(got), len(msg))
		}
		if maxDist > 1<<bits {
			t.Fatalf("message %d: back-reference distance %d beyond the %d-bit window", i, maxDist, bits)
		}
		if i == repeat {
			// With context takeover and a window that reaches the
			// previous message, the repeat is a reference to it and
			// must not inflate on its own.
			_, _, aloneErr := deflatetest.Inflate(append(payload[:len(payload):len(payload)], syncMarker...), nil)
			if takeover && 1<<bits >= len(msg) && aloneErr == nil {
				t.Errorf("repeated message inflates without history: context takeover not used")
			}
			if !takeover && aloneErr != nil {
				t.Errorf("message needs history without context takeover: %v", aloneErr)
			}
		}
		stream = append(stream, msg...)
	}
}

func TestShouldCompress(t *testing.T) {
	tests := []struct {
		threshold, n int
		want         bool
	}{
		{0, DefaultThreshold - 1, false},
		{0, DefaultThreshold, true},
		{1, 0, false},
		{1, 1, true},
		{1000, 999, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.threshold)+"/"+strconv.Itoa(tt.n), func(t *testing.T) {
			c := NewCompressor(&Config{Threshold: tt.threshold}, Params{})
			if got := c.ShouldCompress(tt.n); got != tt.want {
				t.Errorf("ShouldCompress(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

// TestInvalidSettingsDoNotPanic: NewCompressor and NewDecompressor accept
// any Config and Params; out-of-range values fall back to safe ones (a
// window below 8 bits to 8, so the output stays within any agreement).
func TestInvalidSettingsDoNotPanic(t *testing.T) {
	msg := bytes.Repeat([]byte("0123456789abcdef"), 100)
	for _, cfg := range []*Config{nil, {Level: 42}, {Level: -7, Threshold: -3}} {
		for _, bits := range []int{-1, 3, 0, 99} {
			p := Params{ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}
			c := NewCompressor(cfg, p)
			payload, err := c.Compress(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			got, maxDist, err := deflatetest.Inflate(append(payload, syncMarker...), nil)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("cfg %+v bits %d: %v", cfg, bits, err)
			}
			if bits != 0 && bits < 8 && maxDist > 256 {
				t.Errorf("bits %d: distance %d, want at most 256", bits, maxDist)
			}
			out, err := NewDecompressor(p).Decompress(nil, payload, len(msg))
			if err != nil || !bytes.Equal(out, msg) {
				t.Errorf("cfg %+v bits %d: Decompress: %v", cfg, bits, err)
			}
			if cfg != nil && !c.ShouldCompress(DefaultThreshold) {
				t.Errorf("threshold %d: a %d-byte message not compressed", cfg.Threshold, DefaultThreshold)
			}
		}
	}
}
