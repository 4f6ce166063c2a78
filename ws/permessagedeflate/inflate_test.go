package permessagedeflate

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"unievent.dev/internal/deflatetest"
)

// flateReference inflates payload with compress/flate: payload and tail
// read as one stream, a final block inside it followed by a fresh reader
// at the next byte with the last window bytes as dictionary, a final block
// that ends the payload ending the message. history is the output of
// earlier messages (context takeover), nil without. It is the reference the
// inflater must agree with, apart from one difference: compress/flate lets
// a back-reference reach 32 KiB back within a message whatever the window,
// where the inflater holds it to the window.
func flateReference(payload, history []byte, window, limit int) ([]byte, error) {
	src := bytes.NewReader(append(bytes.Clone(payload), tail[:]...)) // an io.ByteReader: no read-ahead
	dict := history[max(0, len(history)-window):]
	fr := flate.NewReaderDict(src, dict)
	var out []byte
	chunk := make([]byte, 4096)
	for {
		n, err := fr.Read(chunk)
		out = append(out, chunk[:n]...)
		if len(out) > limit {
			return nil, ErrMessageTooBig
		}
		if err == nil {
			continue
		}
		if err != io.EOF {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if src.Len() == 0 || src.Len() == len(tail) {
			return out, nil
		}
		all := append(bytes.Clone(history), out...)
		if err := fr.(flate.Resetter).Reset(src, all[max(0, len(all)-window):]); err != nil {
			return nil, err
		}
	}
}

// compareWithReference checks the inflater's result (got, err) for payload
// against flateReference: the same success or failure, the same output on
// success. The one allowed difference is a payload that reaches further
// back than a window below 32 KiB, which only the inflater refuses.
func compareWithReference(got []byte, err error, payload, history []byte, window, limit int) error {
	want, wantErr := flateReference(payload, history, window, limit)
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrMessageTooBig) {
		return fmt.Errorf("untyped error %v", err)
	}
	switch {
	case wantErr == nil && err == nil:
		if !bytes.Equal(got, want) {
			return fmt.Errorf("output differs from compress/flate's: got %d bytes, want %d", len(got), len(want))
		}
	case wantErr == nil:
		if window < 1<<15 && errors.Is(err, ErrCorrupt) {
			_, maxDist, ierr := deflatetest.InflateMessage(payload, history)
			if ierr == nil && maxDist > window {
				return nil // beyond the agreed window: refused on purpose
			}
		}
		return fmt.Errorf("failed with %v where compress/flate inflates %d bytes", err, len(want))
	case err == nil:
		return fmt.Errorf("inflated %d bytes where compress/flate fails with %v", len(got), wantErr)
	}
	return nil
}

// feedMode says how feed hands a payload to the Decompressor.
type feedMode struct {
	chunk func() int // size of the next piece; 0 is allowed
	fresh bool       // each Feed into an empty buffer full of stale bytes, not appended to the message
}

// feed inflates one message with Begin, Feed and End, returning the
// message's output. It checks what the API promises on the way: output
// only grows, and nothing is ever returned beyond the limit.
func feed(t testing.TB, d *Decompressor, payload []byte, limit int, m feedMode) ([]byte, error) {
	t.Helper()
	d.Begin(limit)
	var out []byte
	scratch := bytes.Repeat([]byte{0xa5}, 1<<10)
	step := func(piece []byte, end bool) error {
		var got []byte
		var err error
		if m.fresh {
			dst := scratch[:0]
			if end {
				got, err = d.End(dst)
			} else {
				got, err = d.Feed(dst, piece)
			}
			if err == nil {
				out = append(out, got...)
			}
		} else {
			before := len(out)
			if end {
				got, err = d.End(out)
			} else {
				got, err = d.Feed(out, piece)
			}
			if !bytes.Equal(got[:before], out) {
				t.Fatalf("Feed changed output already returned")
			}
			if err != nil && len(got) != before {
				t.Fatalf("Feed returned %d new bytes with error %v", len(got)-before, err)
			}
			if err == nil {
				out = got
			}
		}
		if len(out) > max(limit, 0) {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
		return err
	}
	for len(payload) > 0 {
		n := min(m.chunk(), len(payload))
		if err := step(payload[:n], false); err != nil {
			return out, err
		}
		payload = payload[n:]
	}
	return out, step(nil, true)
}

func randomChunks(r *rand.Rand, maxSize int) func() int {
	return func() int {
		switch r.IntN(8) {
		case 0:
			return 0
		case 1:
			return 1
		default:
			return r.IntN(maxSize + 1)
		}
	}
}

func wholeChunks() int { return 1 << 30 }

// flatePayloads compresses msgs with compress/flate at level, as one
// stream with context takeover or one stream each without, each ending
// with a sync flush whose 00 00 ff ff is removed (RFC 7692 section 7.2.1).
func flatePayloads(t testing.TB, level int, takeover bool, msgs [][]byte) [][]byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	for _, m := range msgs {
		if !takeover {
			w.Reset(&buf)
		}
		buf.Reset()
		if _, err := w.Write(m); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, stripTail(bytes.Clone(buf.Bytes()), 0))
	}
	return payloads
}

// ownPayloads compresses msgs with this package's Compressor.
func ownPayloads(t testing.TB, bits, level int, takeover bool, msgs [][]byte) [][]byte {
	c := NewCompressor(&Config{Level: level}, Params{ServerMaxWindowBits: bits, ServerNoContextTakeover: !takeover})
	defer c.Release()
	var payloads [][]byte
	for _, m := range msgs {
		p, err := c.Compress(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
	}
	return payloads
}

func runs(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, bytes.Repeat([]byte{byte(r.IntN(4))}, 1+r.IntN(300))...)
	}
	return b[:n]
}

// corpusCase is a sequence of messages on one connection and their
// payloads.
type corpusCase struct {
	name     string
	bits     int
	takeover bool
	msgs     [][]byte
	payloads [][]byte
}

var dataKinds = []struct {
	name string
	gen  func(*rand.Rand, int) []byte
}{{"random", random}, {"json", jsonLike}, {"text", text}, {"runs", runs}}

// inflateCorpus covers compress/flate at every level (stored blocks at
// level 0, Huffman only at -2) and this package's encoder at every window
// and a range of levels, with and without context takeover, on random,
// JSON-like, text and run-heavy data, in messages from empty to beyond a
// 32 KiB window.
func inflateCorpus(t testing.TB, sizes []int) []corpusCase {
	var cases []corpusCase
	for ki, kind := range dataKinds {
		r := rand.New(rand.NewPCG(uint64(ki), 99))
		var msgs [][]byte
		for _, n := range sizes {
			msgs = append(msgs, kind.gen(r, n))
		}
		// A repeat reaches into the previous message with context
		// takeover.
		msgs = append(msgs, msgs[len(msgs)/2])
		for _, takeover := range []bool{true, false} {
			for level := -2; level <= 9; level++ {
				cases = append(cases, corpusCase{
					name: fmt.Sprintf("%s/flate/level=%d/takeover=%v", kind.name, level, takeover),
					bits: 15, takeover: takeover, msgs: msgs,
					payloads: flatePayloads(t, level, takeover, msgs),
				})
			}
			for bits := 8; bits <= 15; bits++ {
				for _, level := range []int{-2, 1, 4, 9} {
					cases = append(cases, corpusCase{
						name: fmt.Sprintf("%s/own/bits=%d/level=%d/takeover=%v", kind.name, bits, level, takeover),
						bits: bits, takeover: takeover, msgs: msgs,
						payloads: ownPayloads(t, bits, level, takeover, msgs),
					})
				}
			}
		}
	}
	return cases
}

func params(bits int, takeover bool) Params {
	return Params{ClientMaxWindowBits: bits, ClientNoContextTakeover: !takeover}
}

// TestInflateCorpus inflates the corpus whole with Decompress and in
// random pieces with Feed, into the growing message and into a fresh
// buffer each time, and checks each message against the original and
// against internal/deflatetest, which also shows that every distance
// stays within the window. The payloads end with a sync flush, so all
// their output is there before End, which adds nothing.
func TestInflateCorpus(t *testing.T) {
	sizes := []int{0, 1, 7, 300, 2000, 20000, 70000}
	if testing.Short() || raceEnabled {
		sizes = []int{0, 1, 300, 5000, 40000}
	}
	for ci, c := range inflateCorpus(t, sizes) {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci), 3))
			whole := NewDecompressor(params(c.bits, c.takeover))
			defer whole.Release()
			modes := []feedMode{
				{chunk: randomChunks(r, 64)},
				{chunk: randomChunks(r, 5000), fresh: true},
			}
			streams := []*Decompressor{NewDecompressor(params(c.bits, c.takeover)), NewDecompressor(params(c.bits, c.takeover))}
			var stream []byte
			for i, p := range c.payloads {
				msg := c.msgs[i]
				got, err := whole.Decompress([]byte("x"), p, len(msg))
				if err != nil || !bytes.Equal(got[1:], msg) {
					t.Fatalf("message %d (%d bytes): Decompress: %v", i, len(msg), err)
				}
				for k, m := range modes {
					got, err := feed(t, streams[k], p, len(msg), m)
					if err != nil || !bytes.Equal(got, msg) {
						t.Fatalf("message %d (%d bytes), feed mode %d: %v, %d bytes", i, len(msg), k, err, len(got))
					}
				}
				// All output before End.
				d := NewDecompressor(params(c.bits, false))
				d.Begin(len(msg))
				early, err := d.Feed(nil, p)
				if !c.takeover && (err != nil || !bytes.Equal(early, msg)) {
					t.Fatalf("message %d: Feed of the whole payload gave %d of %d bytes, %v", i, len(early), len(msg), err)
				}
				var history []byte
				if c.takeover {
					history = stream
				}
				ref, maxDist, err := deflatetest.Inflate(append(bytes.Clone(p), syncMarker...), history)
				if err != nil || !bytes.Equal(ref, msg) {
					t.Fatalf("message %d: deflatetest: %v", i, err)
				}
				if maxDist > 1<<c.bits {
					t.Fatalf("message %d: distance %d in a %d-bit window", i, maxDist, c.bits)
				}
				stream = append(stream, msg...)
			}
		})
	}
}

// TestInflateSplitEverywhere feeds small messages split into two pieces at
// every byte, and into three at every pair of bytes some way apart, after
// earlier messages that context takeover refers back to.
func TestInflateSplitEverywhere(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	first := jsonLike(r, 700)
	second := append(append(bytes.Clone(first[100:400]), jsonLike(r, 300)...), bytes.Repeat([]byte("ab"), 200)...)
	msgs := [][]byte{first, second, text(r, 200), random(r, 300), {}}
	var cases []corpusCase
	for _, takeover := range []bool{true, false} {
		for _, level := range []int{0, -2, 1, 6, 9} {
			cases = append(cases, corpusCase{name: fmt.Sprintf("flate/level=%d/takeover=%v", level, takeover),
				bits: 15, takeover: takeover, msgs: msgs, payloads: flatePayloads(t, level, takeover, msgs)})
		}
		for _, bits := range []int{8, 9, 12} {
			cases = append(cases, corpusCase{name: fmt.Sprintf("own/bits=%d/takeover=%v", bits, takeover),
				bits: bits, takeover: takeover, msgs: msgs, payloads: ownPayloads(t, bits, 4, takeover, msgs)})
		}
	}
	step := 1
	if raceEnabled || testing.Short() {
		step = 7
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// prepared returns a Decompressor that has inflated the
			// messages before i.
			prepared := func(i int) *Decompressor {
				d := NewDecompressor(params(c.bits, c.takeover))
				for j := range i {
					if _, err := d.Decompress(nil, c.payloads[j], len(c.msgs[j])); err != nil {
						t.Fatal(err)
					}
				}
				return d
			}
			for i, p := range c.payloads {
				for cut := 0; cut <= len(p); cut += step {
					for _, cut2 := range []int{-1, cut + 1, cut + 5, cut + 13} {
						if cut2 > len(p) {
							continue
						}
						var pieces []int
						if cut2 < 0 {
							pieces = []int{cut, len(p) - cut}
						} else {
							pieces = []int{cut, cut2 - cut, len(p) - cut2}
						}
						k := 0
						next := func() int { k++; return pieces[k-1] }
						got, err := feed(t, prepared(i), p, len(c.msgs[i]), feedMode{chunk: next, fresh: cut%2 == 0})
						if err != nil || !bytes.Equal(got, c.msgs[i]) {
							t.Fatalf("message %d split at %v: %v", i, pieces, err)
						}
					}
				}
			}
		})
	}
}

// TestInflateByteAtATime feeds whole connections one byte at a time.
func TestInflateByteAtATime(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	msgs := [][]byte{jsonLike(r, 3000), text(r, 40000), random(r, 2000), runs(r, 10000)}
	for _, takeover := range []bool{true, false} {
		for _, c := range []corpusCase{
			{bits: 15, payloads: flatePayloads(t, 6, takeover, msgs)},
			{bits: 10, payloads: ownPayloads(t, 10, 6, takeover, msgs)},
		} {
			d := NewDecompressor(params(c.bits, takeover))
			for i, p := range c.payloads {
				got, err := feed(t, d, p, len(msgs[i]), feedMode{chunk: func() int { return 1 }, fresh: i%2 == 0})
				if err != nil || !bytes.Equal(got, msgs[i]) {
					t.Fatalf("bits=%d takeover=%v message %d: %v", c.bits, takeover, i, err)
				}
			}
		}
	}
}

// TestInflateMutations damages valid payloads (bit flips, truncation,
// bytes appended or dropped, spliced blocks) and checks that the inflater,
// whole and fed in pieces, agrees with compress/flate on success, failure
// and output.
func TestInflateMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(77, 1))
	msgs := [][]byte{jsonLike(r, 1500), text(r, 400), random(r, 200), runs(r, 3000)}
	var payloads [][]byte
	for _, level := range []int{0, -2, 1, 9} {
		payloads = append(payloads, flatePayloads(t, level, false, msgs)...)
	}
	for _, bits := range []int{8, 11, 14} {
		payloads = append(payloads, ownPayloads(t, bits, 5, false, msgs)...)
	}
	history := jsonLike(r, 40000)
	n := 6000
	if raceEnabled || testing.Short() {
		n = 600
	}
	outcomes := map[string]int{}
	for i := range n {
		p := bytes.Clone(payloads[r.IntN(len(payloads))])
		switch r.IntN(6) {
		case 0, 1:
			for range 1 + r.IntN(3) {
				if len(p) > 0 {
					p[r.IntN(len(p))] ^= 1 << r.IntN(8)
				}
			}
		case 2:
			p = p[:r.IntN(len(p)+1)]
		case 3:
			p = append(p, random(r, 1+r.IntN(8))...)
		case 4:
			if len(p) > 1 {
				k := r.IntN(len(p) - 1)
				p = append(p[:k], p[k+1:]...)
			}
		case 5:
			q := payloads[r.IntN(len(payloads))]
			p = append(p[:r.IntN(len(p)+1)], q[r.IntN(len(q)+1):]...)
		}
		takeover := r.IntN(2) == 0
		bits := 8 + r.IntN(8)
		limit := r.IntN(5000)
		var hist []byte
		if takeover {
			hist = history[len(history)-min(len(history), 1<<bits):]
		}
		prime := func() *Decompressor {
			d := NewDecompressor(params(bits, takeover))
			if takeover {
				// The history arrives as one message without
				// back-references.
				c := NewCompressor(&Config{Level: flate.HuffmanOnly}, Params{ServerMaxWindowBits: 8, ServerNoContextTakeover: true})
				hp, err := c.Compress(nil, hist)
				c.Release()
				if err != nil {
					t.Fatal(err)
				}
				if out, err := d.Decompress(nil, hp, len(hist)); err != nil || !bytes.Equal(out, hist) {
					t.Fatalf("history: %v", err)
				}
			}
			return d
		}
		got, err := prime().Decompress(nil, p, limit)
		if e := compareWithReference(got, err, p, hist, 1<<bits, limit); e != nil {
			t.Fatalf("case %d (bits %d, takeover %v, limit %d, payload % x): Decompress: %v", i, bits, takeover, limit, p, e)
		}
		fed, ferr := feed(t, prime(), p, limit, feedMode{chunk: randomChunks(r, 16), fresh: r.IntN(2) == 0})
		if (ferr == nil) != (err == nil) || err == nil && !bytes.Equal(fed, got) {
			t.Fatalf("case %d: Feed gave %d bytes, %v; Decompress %d bytes, %v", i, len(fed), ferr, len(got), err)
		}
		switch {
		case err == nil:
			outcomes["ok"]++
		case errors.Is(err, ErrMessageTooBig):
			outcomes["too big"]++
		default:
			outcomes["corrupt"]++
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestFeedLimit: the limit holds across Feed calls, and ErrMessageTooBig
// comes as soon as the output passes it, before the rest of the payload.
func TestFeedLimit(t *testing.T) {
	msg := bytes.Repeat([]byte("abcdefgh"), 10000)
	p := flatePayloads(t, 6, false, [][]byte{msg})[0]
	for _, limit := range []int{0, 1, 100, 79999, 80000} {
		d := NewDecompressor(Params{})
		d.Begin(limit)
		var out []byte
		var err error
		fed := 0
		for fed < len(p) && err == nil {
			n := min(7, len(p)-fed)
			out, err = d.Feed(out, p[fed:fed+n])
			fed += n
		}
		if err == nil {
			out, err = d.End(out)
		}
		if limit < len(msg) {
			if !errors.Is(err, ErrMessageTooBig) {
				t.Errorf("limit %d: %v, want ErrMessageTooBig", limit, err)
			}
			if fed == len(p) && limit < 79000 {
				t.Errorf("limit %d: the error came only after the whole payload", limit)
			}
		} else if err != nil || !bytes.Equal(out, msg) {
			t.Errorf("limit %d: %v", limit, err)
		}
		if len(out) > limit {
			t.Errorf("limit %d: %d bytes", limit, len(out))
		}
	}
}

// TestFeedAPI covers the calls around a message.
func TestFeedAPI(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	d := NewDecompressor(Params{})
	if _, err := d.Feed(nil, hello); err == nil {
		t.Error("Feed before Begin succeeded")
	}
	if _, err := d.End(nil); err == nil {
		t.Error("End before Begin succeeded")
	}
	// A message abandoned half way is forgotten by Begin.
	d.Begin(100)
	if _, err := d.Feed(nil, hello[:3]); err != nil {
		t.Fatal(err)
	}
	d.Begin(100)
	out, err := d.Feed(nil, hello)
	if err == nil {
		out, err = d.End(out)
	}
	if err != nil || string(out) != "Hello" {
		t.Fatalf("%q, %v", out, err)
	}
	if _, err := d.End(nil); err == nil {
		t.Error("End twice succeeded")
	}
	// Errors stay.
	d.Begin(100)
	if _, err := d.Feed([]byte("keep"), []byte{0x07}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reserved block type: %v", err)
	}
	d.Begin(100)
	if _, err := d.Feed(nil, hello); !errors.Is(err, ErrCorrupt) {
		t.Errorf("after an error: %v, want the same error", err)
	}
	if _, err := d.Decompress(nil, hello, 100); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decompress after an error: %v", err)
	}
	d.Release()
	d.Release()
	if _, err := d.Feed(nil, hello); err == nil {
		t.Error("Feed after Release succeeded")
	}
	// Feed and Decompress mix on one connection with context takeover.
	d = NewDecompressor(Params{})
	again := []byte{0xf2, 0x00, 0x11, 0x00, 0x00}
	for i, p := range [][]byte{hello, again, again, hello} {
		var out []byte
		var err error
		if i%2 == 0 {
			out, err = feed(t, d, p, 5, feedMode{chunk: func() int { return 2 }})
		} else {
			out, err = d.Decompress(nil, p, 5)
		}
		if err != nil || string(out) != "Hello" {
			t.Fatalf("message %d: %q, %v", i, out, err)
		}
	}
}

// TestFeedBomb streams a 1 GiB bomb through Feed, 16 KiB at a time: the
// error comes as soon as the output passes the limit, after little of the
// payload, and memory stays near the limit (a single piece may inflate to
// it: the output buffer grows up to the limit, not beyond).
func TestFeedBomb(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compressing 1 GiB takes seconds")
	}
	const limit = 1 << 20
	payload := bomb(t, 1<<30)
	for _, takeover := range []bool{true, false} {
		d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d.Begin(limit)
		buf := make([]byte, 0, 64<<10)
		var err error
		total, fed := 0, 0
		for fed < len(payload) && err == nil {
			n := min(16<<10, len(payload)-fed)
			var out []byte
			out, err = d.Feed(buf[:0], payload[fed:fed+n])
			total += len(out)
			fed += n
		}
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMessageTooBig) {
			t.Fatalf("err = %v, want ErrMessageTooBig", err)
		}
		if total > limit {
			t.Errorf("%d bytes returned, limit %d", total, limit)
		}
		if fed > 4<<10+16<<10 {
			t.Errorf("%d bytes of payload read before the error", fed)
		}
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("takeover=%v: allocated %d bytes streaming a 1 GiB bomb with a %d-byte limit", takeover, allocated, limit)
		if allocated > 4*limit {
			t.Errorf("allocated %d bytes, more than 4 times the limit", allocated)
		}
	}
}

// TestZlibVectorsFed feeds what zlib compressed in random pieces.
func TestZlibVectorsFed(t *testing.T) {
	raw, err := os.ReadFile("testdata/zlib_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v zlibVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for ci, c := range v.Cases {
		d := NewDecompressor(Params{ClientNoContextTakeover: !c.Takeover, ClientMaxWindowBits: c.WBits})
		for i, p := range c.Payloads {
			got, err := feed(t, d, p, len(v.Messages[i]), feedMode{chunk: randomChunks(r, 300), fresh: ci%2 == 0})
			if err != nil || !bytes.Equal(got, v.Messages[i]) {
				t.Fatalf("case %d (wbits %d, takeover %v) message %d: %v", ci, c.WBits, c.Takeover, i, err)
			}
		}
	}
}
