package permessagedeflate

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"unievent.dev/internal/deflatetest"
)

// flateReference inflates payload with compress/flate the way this
// package did before it had its own inflater: payload and tail read as one
// stream, a final block inside it followed by a fresh reader at the next
// byte with the last window bytes as dictionary. history is the output of
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
		if src.Len() == 0 {
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
			_, maxDist, ierr := deflatetest.Inflate(append(bytes.Clone(payload), tail[:]...), history)
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
				// The history arrives as one stored message.
				c := NewCompressor(&Config{Level: 1}, Params{ServerMaxWindowBits: 8, ServerNoContextTakeover: true})
				var w bitWriter
				w.writeStored(hist)
				w.syncFlush()
				c.Release()
				if out, err := d.Decompress(nil, w.out, len(hist)); err != nil || !bytes.Equal(out, hist) {
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

// blockWriter writes blocks with arbitrary codes, for data no encoder
// would produce.
type blockWriter struct {
	w                  bitWriter
	litLens, distLens  []uint8
	litCodes, distCode []uint32
}

// canonical returns the codes (most significant bit first) of the
// canonical Huffman code with the given lengths (RFC 1951 section 3.2.2).
func canonical(lens []uint8) []uint32 {
	var count [16]uint32
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]uint32
	code := uint32(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	codes := make([]uint32, len(lens))
	for s, l := range lens {
		if l != 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

// The length and distance codes of RFC 1951 section 3.2.5, as a table.
var (
	testLengthBase  = []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	testLengthExtra = []int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	testDistBase    = []int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	testDistExtra   = []int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

func (bw *blockWriter) code(code uint32, n uint8) {
	bw.w.writeBits(reverse(int(code), int(n)), uint(n))
}

func (bw *blockWriter) symbol(sym int) { bw.code(bw.litCodes[sym], bw.litLens[sym]) }

// match writes a length/distance pair with the length symbol lsym and
// distance symbol dsym (the caller checks they have codes).
func (bw *blockWriter) match(lsym, lextra, dsym, dextra int) {
	bw.symbol(lsym)
	bw.w.writeBits(uint32(lextra), uint(testLengthExtra[lsym-257]))
	bw.code(bw.distCode[dsym], bw.distLens[dsym])
	bw.w.writeBits(uint32(dextra), uint(testDistExtra[dsym]))
}

// testCLLens is a complete code length code: 0-12 in 4 bits, the rest in 5.
var testCLLens = [19]uint8{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5}

// dynamicHeader writes a block header with dynamic codes: nlit and ndist
// as counted (HLIT+257, HDIST+1), the code length code clLens, then seq,
// pairs of a code length symbol and its extra bits.
func (bw *blockWriter) dynamicHeader(final bool, nlit, ndist int, clLens [19]uint8, seq [][2]int) {
	hdr := uint32(4) // BTYPE 10
	if final {
		hdr |= 1
	}
	bw.w.writeBits(hdr, 3)
	bw.w.writeBits(uint32(nlit-257), 5)
	bw.w.writeBits(uint32(ndist-1), 5)
	bw.w.writeBits(15, 4) // all 19 code length code lengths
	for _, s := range clOrder {
		bw.w.writeBits(uint32(clLens[s]), 3)
	}
	codes := canonical(clLens[:])
	for _, s := range seq {
		bw.code(codes[s[0]], clLens[s[0]])
		bw.w.writeBits(uint32(s[1]), map[int]uint{16: 2, 17: 3, 18: 7}[s[0]])
	}
}

// dynamic starts a block whose codes have the given lengths, each written
// as itself.
func (bw *blockWriter) dynamic(final bool, lit, dist []uint8) {
	var seq [][2]int
	for _, l := range append(bytes.Clone(lit), dist...) {
		seq = append(seq, [2]int{int(l), 0})
	}
	bw.dynamicHeader(final, len(lit), len(dist), testCLLens, seq)
	bw.litLens, bw.litCodes = lit, canonical(lit)
	bw.distLens, bw.distCode = dist, canonical(dist)
}

func (bw *blockWriter) fixed(final bool) {
	hdr := uint32(2)
	if final {
		hdr |= 1
	}
	bw.w.writeBits(hdr, 3)
	lit := make([]uint8, 288)
	for s := range lit {
		lit[s] = [4]uint8{8, 9, 7, 8}[btoi(s >= 144)+btoi(s >= 256)+btoi(s >= 280)]
	}
	dist := bytes.Repeat([]uint8{5}, 32)
	bw.litLens, bw.litCodes = lit, canonical(lit)
	bw.distLens, bw.distCode = dist, canonical(dist)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// payload ends the data as a permessage-deflate payload: a sync flush
// without its 00 00 ff ff.
func (bw *blockWriter) payload() []byte {
	bw.w.syncFlush()
	return bw.w.out
}

// chain returns code lengths 1, 2, ..., 14, 15, 15 for the given symbols:
// a complete code as deep as DEFLATE allows.
func chain(n int, syms ...int) []uint8 {
	lens := make([]uint8, n)
	for i, s := range syms {
		lens[s] = uint8(min(i+1, 15))
	}
	return lens
}

// TestInflateCorrupt: data that breaks each rule of RFC 1951 fails with
// ErrCorrupt, as compress/flate also refuses it, whole and split at every
// byte; and the boundary cases that are valid inflate.
func TestInflateCorrupt(t *testing.T) {
	lit := func() []uint8 { // 16 symbols, 1 to 15 bits
		return chain(286, 'a', 'b', 256, 'c', 'd', 257, 258, 259, 260, 265, 270, 280, 284, 285, 'e', 'f')
	}
	dist := chain(30, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
	// build writes the blocks and returns the expected output, or ""
	// with err set.
	tests := []struct {
		name  string
		err   bool
		build func(bw *blockWriter) string
	}{
		{"reserved block type", true, func(bw *blockWriter) string { bw.w.writeBits(6, 3); return "" }},
		{"HLIT 287", true, func(bw *blockWriter) string { bw.dynamicHeader(false, 287, 1, testCLLens, nil); return "" }},
		{"HLIT 288", true, func(bw *blockWriter) string { bw.dynamicHeader(false, 288, 1, testCLLens, nil); return "" }},
		{"HDIST 31", true, func(bw *blockWriter) string { bw.dynamicHeader(false, 257, 31, testCLLens, nil); return "" }},
		{"HDIST 32", true, func(bw *blockWriter) string { bw.dynamicHeader(false, 257, 32, testCLLens, nil); return "" }},
		{"code length code over-subscribed", true, func(bw *blockWriter) string {
			cl := testCLLens
			cl[18] = 3
			bw.dynamicHeader(false, 257, 1, cl, nil)
			return ""
		}},
		{"code length code incomplete", true, func(bw *blockWriter) string {
			cl := testCLLens
			cl[18] = 0
			bw.dynamicHeader(false, 257, 1, cl, nil)
			return ""
		}},
		{"code length code of one code", true, func(bw *blockWriter) string {
			bw.dynamicHeader(false, 257, 1, [19]uint8{18: 1}, [][2]int{{18, 127}, {18, 127}, {18, 1}})
			return ""
		}},
		{"code length code empty", true, func(bw *blockWriter) string {
			bw.dynamicHeader(false, 257, 1, [19]uint8{}, nil)
			return ""
		}},
		{"repeat with no previous length", true, func(bw *blockWriter) string {
			bw.dynamicHeader(false, 257, 1, testCLLens, [][2]int{{16, 0}})
			return ""
		}},
		{"repeat past the last length", true, func(bw *blockWriter) string {
			// 255 zeros, two ones, then six more for 258 lengths.
			bw.dynamicHeader(false, 257, 1, testCLLens, [][2]int{{18, 127}, {18, 106}, {1, 0}, {1, 0}, {16, 3}})
			return ""
		}},
		{"zeros past the last length", true, func(bw *blockWriter) string {
			bw.dynamicHeader(false, 257, 1, testCLLens, [][2]int{{18, 127}, {18, 106}, {1, 0}, {1, 0}, {17, 0}})
			return ""
		}},
		{"literal/length code over-subscribed", true, func(bw *blockWriter) string {
			l := lit()
			l['z'] = 2
			bw.dynamic(false, l, dist)
			return ""
		}},
		{"literal/length code incomplete", true, func(bw *blockWriter) string {
			l := lit()
			l['f'] = 0
			bw.dynamic(false, l, dist)
			return ""
		}},
		{"no end-of-block code", true, func(bw *blockWriter) string {
			bw.dynamic(false, chain(286, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p'), dist)
			bw.symbol('a')
			return ""
		}},
		{"distance code over-subscribed", true, func(bw *blockWriter) string {
			d := bytes.Clone(dist)
			d[20] = 3
			bw.dynamic(false, lit(), d)
			return ""
		}},
		{"distance code incomplete", true, func(bw *blockWriter) string {
			d := bytes.Clone(dist)
			d[15] = 0
			bw.dynamic(false, lit(), d)
			return ""
		}},
		{"one distance code of two bits", true, func(bw *blockWriter) string {
			bw.dynamic(false, lit(), []uint8{0, 0, 0, 0, 0, 2})
			return ""
		}},
		{"the unused half of one one-bit distance code", true, func(bw *blockWriter) string {
			bw.dynamic(false, lit(), []uint8{0, 0, 0, 1})
			for _, c := range "abcd" {
				bw.symbol(int(c))
			}
			bw.symbol(258)
			bw.w.writeBits(1, 1)
			bw.symbol(256)
			return ""
		}},
		{"a length with no distance code", true, func(bw *blockWriter) string {
			bw.dynamic(true, lit(), make([]uint8, 1))
			bw.symbol('a')
			bw.symbol(257)
			bw.w.writeBits(0, 8)
			return ""
		}},
		{"fixed code literal/length 286", true, func(bw *blockWriter) string {
			bw.fixed(false)
			bw.symbol('a')
			bw.symbol(286)
			bw.w.writeBits(0, 5)
			return ""
		}},
		{"fixed code literal/length 287", true, func(bw *blockWriter) string {
			bw.fixed(false)
			bw.symbol('a')
			bw.symbol(287)
			bw.w.writeBits(0, 5)
			return ""
		}},
		{"fixed code distance 30", true, func(bw *blockWriter) string {
			bw.fixed(false)
			bw.symbol('a')
			bw.symbol(257)
			bw.code(bw.distCode[30], 5)
			bw.symbol(256)
			return ""
		}},
		{"fixed code distance 31", true, func(bw *blockWriter) string {
			bw.fixed(false)
			bw.symbol('a')
			bw.symbol(257)
			bw.code(bw.distCode[31], 5)
			bw.symbol(256)
			return ""
		}},
		{"distance before the start", true, func(bw *blockWriter) string {
			bw.fixed(false)
			bw.symbol('a')
			bw.match(257, 0, 1, 0) // distance 2
			bw.symbol(256)
			return ""
		}},
		{"distance 32768 after 32767 bytes", true, func(bw *blockWriter) string {
			bw.w.writeStored(bytes.Repeat([]byte{'x'}, 32767))
			bw.fixed(false)
			bw.match(257, 0, 29, 8191)
			bw.symbol(256)
			return ""
		}},
		{"stored LEN and NLEN disagree", true, func(bw *blockWriter) string {
			bw.w.writeBits(0, 3)
			bw.w.alignByte()
			bw.w.out = append(bw.w.out, 5, 0, 0xfa, 0xfe, 'a', 'b', 'c', 'd', 'e')
			return ""
		}},
		{"ends inside a stored block", true, func(bw *blockWriter) string {
			bw.w.writeBits(0, 3)
			bw.w.alignByte()
			bw.w.out = append(bw.w.out, 5, 0, 0xfa, 0xff, 'a', 'b')
			return ""
		}},
		{"final block then a reserved one", true, func(bw *blockWriter) string {
			bw.fixed(true)
			bw.symbol('a')
			bw.symbol(256)
			bw.w.alignByte()
			bw.w.writeBits(7, 3)
			return ""
		}},

		// Valid boundary cases.
		{"distance 32768 after 32768 bytes", false, func(bw *blockWriter) string {
			data := bytes.Repeat([]byte("xyz"), 32768/3+1)[:32768]
			bw.w.writeStored(data)
			bw.fixed(false)
			bw.match(257, 0, 29, 8191)
			bw.symbol(256)
			return string(data) + string(data[:3])
		}},
		{"one distance code of one bit", false, func(bw *blockWriter) string {
			bw.dynamic(false, lit(), []uint8{0, 0, 0, 1}) // distance 4 only
			for _, c := range "abcd" {
				bw.symbol(int(c))
			}
			bw.match(258, 0, 3, 0) // length 4, distance 4
			bw.symbol(256)
			return "abcdabcd"
		}},
		{"no distance codes, literals only", false, func(bw *blockWriter) string {
			bw.dynamic(false, lit(), []uint8{0})
			bw.symbol('a')
			bw.symbol('b')
			bw.symbol(256)
			return "ab"
		}},
		{"a literal/length code of one code", false, func(bw *blockWriter) string {
			l := make([]uint8, 257)
			l[256] = 1
			bw.dynamic(false, l, []uint8{0})
			bw.symbol(256)
			bw.fixed(false)
			bw.symbol('z')
			bw.symbol(256)
			return "z"
		}},
		{"15-bit codes and long matches", false, func(bw *blockWriter) string {
			// Deep codes reach the secondary tables.
			syms := []int{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 257, 285, 256, 284}
			bw.dynamic(false, chain(286, syms...), dist)
			var want []byte
			for _, s := range syms[:12] {
				bw.symbol(s)
				want = append(want, byte(s))
			}
			match := func(lsym, lextra, dsym, dextra int) {
				bw.match(lsym, lextra, dsym, dextra)
				d := testDistBase[dsym] + dextra
				for range testLengthBase[lsym-257] + lextra {
					want = append(want, want[len(want)-d])
				}
			}
			match(285, 0, 0, 0)   // 258 at distance 1
			match(284, 31, 14, 3) // 258 through code 284, distance 132, a 15-bit code
			match(257, 0, 15, 0)  // 3 at distance 193, the other 15-bit code
			bw.symbol(256)
			return string(want)
		}},
		{"final blocks followed by more", false, func(bw *blockWriter) string {
			bw.fixed(true)
			bw.symbol('a')
			bw.symbol(256)
			bw.w.alignByte()
			bw.w.writeStored([]byte("b"))
			bw.fixed(true)
			bw.match(257, 0, 1, 0) // length 3 at distance 2, across the final block
			bw.symbol(256)
			bw.w.alignByte()
			return "ababa"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bw blockWriter
			want := []byte(tt.build(&bw))
			p := bw.payload()
			got, err := NewDecompressor(Params{}).Decompress(nil, p, 1<<20)
			if tt.err {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("got %q, %v; want ErrCorrupt", abbrev(got), err)
				}
			} else if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("got %q, %v; want %q", abbrev(got), err, abbrev(want))
			}
			if e := compareWithReference(got, err, p, nil, 1<<15, 1<<20); e != nil {
				t.Fatal(e)
			}
			step := 1
			if len(p) > 1000 {
				step = 997
			}
			for cut := 0; cut <= len(p); cut += step {
				pieces := []int{cut, len(p) - cut}
				k := 0
				fed, ferr := feed(t, NewDecompressor(Params{}), p, 1<<20, feedMode{chunk: func() int { k++; return pieces[k-1] }})
				if (ferr == nil) != (err == nil) || err == nil && !bytes.Equal(fed, got) {
					t.Fatalf("split at %d: %q, %v", cut, abbrev(fed), ferr)
				}
			}
		})
	}
}

// TestInflateRandomCodes writes blocks with random complete codes (random
// tree shapes up to 15 bits, over random symbols) and random content, and
// checks the output against the content and compress/flate.
func TestInflateRandomCodes(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 41))
	n := 400
	if raceEnabled || testing.Short() {
		n = 60
	}
	for i := range n {
		var bw blockWriter
		var want []byte
		for blk := range 1 + r.IntN(4) {
			litSyms := r.Perm(286)[:2+r.IntN(284)]
			if !contains(litSyms, 256) {
				litSyms[0] = 256
			}
			lit := randomCode(r, 286, litSyms)
			var dist []uint8
			switch r.IntN(6) {
			case 0:
				dist = make([]uint8, 1+r.IntN(30)) // no distance codes
			case 1:
				dist = make([]uint8, 30)
				dist[r.IntN(30)] = 1 // the single one-bit code
			default:
				dist = randomCode(r, 30, r.Perm(30)[:2+r.IntN(28)])
			}
			if r.IntN(5) == 0 {
				bw.fixed(false)
			} else {
				bw.dynamic(false, lit, dist)
			}
			for range r.IntN(3000) {
				sym := r.IntN(len(bw.litLens))
				if bw.litLens[sym] == 0 || sym == 256 || sym >= 286 {
					continue
				}
				if sym < 256 {
					bw.symbol(sym)
					want = append(want, byte(sym))
					continue
				}
				dsym := r.IntN(len(bw.distLens))
				if bw.distLens[dsym] == 0 || dsym >= 30 {
					continue
				}
				lextra := r.IntN(1 << testLengthExtra[sym-257])
				dextra := r.IntN(1 << testDistExtra[dsym])
				length := testLengthBase[sym-257] + lextra
				d := testDistBase[dsym] + dextra
				if d > len(want) {
					continue
				}
				bw.match(sym, lextra, dsym, dextra)
				for range length {
					want = append(want, want[len(want)-d])
				}
			}
			bw.symbol(256)
			if blk%2 == 1 {
				data := random(r, r.IntN(100))
				bw.w.writeStored(data)
				want = append(want, data...)
			}
		}
		p := bw.payload()
		ref, _, err := deflatetest.Inflate(append(bytes.Clone(p), syncMarker...), nil)
		if err != nil || !bytes.Equal(ref, want) {
			t.Fatalf("case %d: deflatetest: %v", i, err)
		}
		got, err := NewDecompressor(Params{}).Decompress(nil, p, len(ref))
		if err != nil || !bytes.Equal(got, ref) {
			t.Fatalf("case %d: %v, %d bytes, want %d", i, err, len(got), len(ref))
		}
		if e := compareWithReference(got, err, p, nil, 1<<15, len(ref)); e != nil {
			t.Fatalf("case %d: %v", i, e)
		}
		fed, err := feed(t, NewDecompressor(Params{}), p, len(ref), feedMode{chunk: randomChunks(r, 20), fresh: i%2 == 0})
		if err != nil || !bytes.Equal(fed, ref) {
			t.Fatalf("case %d: fed in pieces: %v", i, err)
		}
	}
}

// abbrev abbreviates b for a failure message.
func abbrev(b []byte) []byte {
	if len(b) > 64 {
		return append(bytes.Clone(b[:60]), "..."...)
	}
	return b
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// randomCode returns code lengths of a random complete prefix code over
// syms (at least two), at most 15 bits deep: leaves of a random binary
// tree, grown by splitting random leaves.
func randomCode(r *rand.Rand, n int, syms []int) []uint8 {
	depths := []uint8{1, 1}
	for len(depths) < len(syms) {
		i := r.IntN(len(depths))
		if depths[i] >= 15 {
			// Find a leaf that can still split.
			found := false
			for j, d := range depths {
				if d < 15 {
					i, found = j, true
					break
				}
			}
			if !found {
				break
			}
		}
		depths[i]++
		depths = append(depths, depths[i])
	}
	lens := make([]uint8, n)
	for i, d := range depths {
		lens[syms[i]] = d
	}
	return lens
}

// TestInflateWindow: references are held to 2^ClientMaxWindowBits within a
// message too, and may reach exactly that far.
func TestInflateWindow(t *testing.T) {
	for _, bits := range []int{8, 9, 12, 15} {
		w := 1 << bits
		for _, dist := range []int{w, w + 1} {
			if dist > 32768 {
				continue
			}
			var bw blockWriter
			data := bytes.Repeat([]byte("0123456789"), (dist+9)/10)[:dist]
			bw.w.writeStored(data)
			bw.fixed(false)
			dsym := 0
			for dsym+1 < 30 && testDistBase[dsym+1] <= dist {
				dsym++
			}
			bw.match(257, 0, dsym, dist-testDistBase[dsym])
			bw.symbol(256)
			p := bw.payload()
			for _, takeover := range []bool{true, false} {
				got, err := NewDecompressor(params(bits, takeover)).Decompress(nil, p, 1<<20)
				want := append(bytes.Clone(data), data[:3]...)
				if dist <= w && (err != nil || !bytes.Equal(got, want)) {
					t.Errorf("bits %d, distance %d: %v", bits, dist, err)
				}
				if dist > w && !errors.Is(err, ErrCorrupt) {
					t.Errorf("bits %d, distance %d: %v, want ErrCorrupt", bits, dist, err)
				}
			}
		}
	}
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

// TestBuildTableSizes builds the complete literal/length code that needs
// the most secondary table space: as many 10-bit prefixes as possible each
// lead to six codes of 11 to 15 bits (a 32-entry table), the rest of the
// code space is taken by the remaining symbols.
func TestBuildTableSizes(t *testing.T) {
	lens := make([]uint8, 286)
	const prefixes = 46 // 47 would leave 4 codes for 977/1024 of the space
	s := 0
	for range prefixes {
		for _, l := range []uint8{11, 12, 13, 14, 15, 15} {
			lens[s] = l
			s++
		}
	}
	// The remaining 1024-46 units of 2^-10 as powers of two, split until
	// there is one per symbol left.
	var parts []int
	for bit := 9; bit >= 0; bit-- {
		if (1024-prefixes)&(1<<bit) != 0 {
			parts = append(parts, 1<<bit)
		}
	}
	for len(parts) < 286-s {
		for i, p := range parts {
			if p > 1 {
				parts[i] = p / 2
				parts = append(parts, p/2)
				break
			}
		}
	}
	for _, p := range parts {
		lens[s] = uint8(10 - bits.Len(uint(p)) + 1)
		s++
	}
	var tab [litTableSize]uint32
	var count [maxCodeLen + 1]int
	countLengths(&count, lens)
	ok, complete := buildTable(tab[:], lens, &count, litInfo[:], litRootBits)
	if !ok || !complete {
		t.Fatalf("ok %v, complete %v", ok, complete)
	}
	// Every code decodes to its symbol.
	codes := canonical(lens)
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		in := uint(reverse(int(codes[sym]), int(l)))
		e := tab[in&litMask]
		if e&kSub != 0 {
			e = tab[e>>16+uint32(in>>litRootBits)&(1<<(e>>8&15)-1)]
		}
		if e&63 != uint32(l) || e&0xf000 != litInfo[sym]&0xf000 || e>>16 != litInfo[sym]>>16 {
			t.Errorf("symbol %d: entry %#x", sym, e)
		}
	}
}
