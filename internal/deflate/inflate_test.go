package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"testing"

	"unievent.dev/internal/deflatetest"
)

// finalEmptyBlock is an empty stored block with BFINAL set, starting on a
// byte boundary: it ends a stream.
var finalEmptyBlock = []byte{0x01, 0x00, 0x00, 0xff, 0xff}

// flateReference inflates stream with compress/flate, a final block inside
// it followed by a fresh reader at the next byte whose dictionary is the
// last window bytes of history and output. It is the reference the
// Inflater must agree with, apart from one difference: compress/flate lets
// a back-reference reach 32 KiB back within a stream whatever the window,
// where the Inflater holds it to the window.
func flateReference(stream, history []byte, window, limit int) ([]byte, error) {
	src := bytes.NewReader(stream) // an io.ByteReader: no read-ahead
	fr := flate.NewReaderDict(src, history[max(0, len(history)-window):])
	var out []byte
	chunk := make([]byte, 4096)
	for {
		n, err := fr.Read(chunk)
		out = append(out, chunk[:n]...)
		if len(out) > limit {
			return nil, ErrTooBig
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

// compareWithReference checks the Inflater's result (got, err) for stream
// against flateReference: the same success or failure, the same output on
// success. The one allowed difference is a stream that reaches further
// back than a window below 32 KiB, which only the Inflater refuses.
func compareWithReference(got []byte, err error, stream, history []byte, window, limit int) error {
	want, wantErr := flateReference(stream, history, window, limit)
	if err != nil && err != ErrCorrupt && err != ErrTooBig {
		return fmt.Errorf("untyped error %v", err)
	}
	switch {
	case wantErr == nil && err == nil:
		if !bytes.Equal(got, want) {
			return fmt.Errorf("output differs from compress/flate's: got %d bytes, want %d", len(got), len(want))
		}
	case wantErr == nil:
		if window < 1<<15 && err == ErrCorrupt {
			_, maxDist, ierr := deflatetest.Inflate(stream, history)
			if ierr == nil && maxDist > window {
				return nil // beyond the window: refused on purpose
			}
		}
		return fmt.Errorf("failed with %v where compress/flate inflates %d bytes", err, len(want))
	case err == nil:
		return fmt.Errorf("inflated %d bytes where compress/flate fails with %v", len(got), wantErr)
	}
	return nil
}

// windowOf returns a Window of size bytes holding the end of hist.
func windowOf(hist []byte, size int) *Window {
	w := NewWindow(size)
	w.Write(hist)
	return w
}

// inflateWhole decodes stream in one call, back-references reaching
// window bytes, into history before it.
func inflateWhole(stream []byte, window, limit int, history []byte) ([]byte, error) {
	var f Inflater
	f.Reset(window, limit, windowOf(history, window))
	return f.Inflate(nil, 0, stream, true)
}

// inflatePieces decodes stream in pieces of the sizes chunk returns (0
// included), the last one with last set. With fresh, each call writes into
// a new buffer and the output reaches later calls through the Window, as
// a caller that passes each piece's output on does; otherwise each call
// appends to the output so far. It checks that output already returned
// never changes and never passes limit, and returns the output and the
// error of the failing call.
func inflatePieces(t testing.TB, stream []byte, window, limit int, history []byte, chunk func() int, fresh bool) ([]byte, error) {
	t.Helper()
	var f Inflater
	w := windowOf(history, window)
	f.Reset(window, limit, w)
	var out []byte
	scratch := bytes.Repeat([]byte{0xa5}, 1<<10)
	for {
		n := min(chunk(), len(stream))
		piece, last := stream[:n], n == len(stream)
		stream = stream[n:]
		if fresh {
			got, err := f.Inflate(scratch[:0], 0, piece, last)
			if err != nil {
				return out, err
			}
			out = append(out, got...)
			w.Write(got)
		} else {
			before := len(out)
			got, err := f.Inflate(out, 0, piece, last)
			if !bytes.Equal(got[:before], out) {
				t.Fatalf("Inflate changed output already returned")
			}
			if err != nil {
				return out, err
			}
			out = got
		}
		if len(out) > max(limit, 0) {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
		if last {
			return out, nil
		}
	}
}

// random returns n random bytes.
func random(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
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

// stream ends the data as a permessage-deflate message is read: a sync
// flush (an empty stored block), then an empty final block.
func (bw *blockWriter) stream() []byte {
	bw.w.writeStored(nil)
	return append(bw.w.out, finalEmptyBlock...)
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
			p := bw.stream()
			got, err := inflateWhole(p, 1<<15, 1<<20, nil)
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
				fed, ferr := inflatePieces(t, p, 1<<15, 1<<20, nil, func() int { k++; return pieces[k-1] }, cut%2 == 0)
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
		p := bw.stream()
		ref, _, err := deflatetest.Inflate(p, nil)
		if err != nil || !bytes.Equal(ref, want) {
			t.Fatalf("case %d: deflatetest: %v", i, err)
		}
		got, err := inflateWhole(p, 1<<15, len(ref), nil)
		if err != nil || !bytes.Equal(got, ref) {
			t.Fatalf("case %d: %v, %d bytes, want %d", i, err, len(got), len(ref))
		}
		if e := compareWithReference(got, err, p, nil, 1<<15, len(ref)); e != nil {
			t.Fatalf("case %d: %v", i, e)
		}
		fed, err := inflatePieces(t, p, 1<<15, len(ref), nil, func() int { return r.IntN(21) }, i%2 == 0)
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

// TestInflateWindow: references are held to the window within a stream
// too, and may reach exactly that far.
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
			p := bw.stream()
			got, err := inflateWhole(p, w, 1<<20, nil)
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

// TestInflateEnded: Ended is true exactly when the input so far ends with
// a block that has BFINAL set, which compress/flate's Close writes, and
// false in the middle of that input, after a sync flush, and once a bit of
// a further block has arrived.
func TestInflateEnded(t *testing.T) {
	msg := bytes.Repeat([]byte("a final block ends the stream; "), 20)
	for _, level := range []int{flate.NoCompression, flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		w.Write(msg)
		w.Flush()
		flushed := bytes.Clone(buf.Bytes())
		w.Close()
		closed := buf.Bytes()
		hello := []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00} // RFC 7692 section 7.2.3.4
		for _, tc := range []struct {
			name   string
			stream []byte
			want   []byte
			ended  bool
			endsAt int // where the final block ends, -1 for none
		}{
			{"closed", closed, msg, true, len(closed)},
			{"flushed", flushed, msg, false, -1},
			{"closed, then a block header", append(bytes.Clone(closed), 0x00), msg, false, len(closed)},
			{"final fixed block", hello, []byte("Hello"), true, len(hello)},
		} {
			for cut := 0; cut <= len(tc.stream); cut++ {
				var f Inflater
				f.Reset(1<<15, 1<<20, nil)
				out, err := f.Inflate(nil, 0, tc.stream[:cut], false)
				if err != nil {
					t.Fatalf("level %d, %s, first %d bytes: %v", level, tc.name, cut, err)
				}
				if f.Ended() != (cut == tc.endsAt) {
					t.Fatalf("level %d, %s: Ended() = %v after %d of %d bytes", level, tc.name, f.Ended(), cut, len(tc.stream))
				}
				out, err = f.Inflate(out, 0, tc.stream[cut:], false)
				if err != nil || !bytes.Equal(out, tc.want) {
					t.Fatalf("level %d, %s, split at %d: %v, %d bytes", level, tc.name, cut, err, len(out))
				}
				if f.Ended() != tc.ended {
					t.Fatalf("level %d, %s, split at %d: Ended() = %v, want %v", level, tc.name, cut, f.Ended(), tc.ended)
				}
			}
		}
	}
}
