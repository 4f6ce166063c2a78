package deflate

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// ErrCorrupt reports data that is not valid DEFLATE, a stream that ends
// inside a block, or a back-reference beyond the window.
var ErrCorrupt = errors.New("deflate: invalid compressed data")

// ErrTooBig reports output that would pass the limit given to Reset.
var ErrTooBig = errors.New("deflate: output exceeds the limit")

const (
	maxCodeLen   = 15
	litRootBits  = 10
	distRootBits = 8
	clRootBits   = 7 // code length codes are at most 7 bits: one level

	litMask  = 1<<litRootBits - 1
	distMask = 1<<distRootBits - 1

	// Secondary table space. A secondary table of width w serves a subtree
	// of depth w of a complete code, which holds at least w+1 codes; the
	// most table space n codes can claim is reached with the widest
	// tables. Literal/length: 286 codes, w <= 5: 47 tables of 32 entries
	// and one of 8. Distance: 30 codes, w <= 7: three tables of 128 and one
	// of 32. Incomplete codes (a single code of one bit) need none.
	litTableSize  = 1<<litRootBits + 47*32 + 8
	distTableSize = 1<<distRootBits + 3*128 + 32

	maxLitSyms  = 286 // HLIT + 257 beyond this is invalid (section 3.2.5)
	maxDistSyms = 30
	endOfBlock  = 256

	// The longest step of a Huffman block: a 15-bit length code, 5 extra
	// bits, a 15-bit distance code and 13 extra bits.
	maxSymbolBits = 15 + 5 + 15 + 13
)

// A table entry: bits 0-7 the code length to consume (0 for an unused
// code), bits 8-11 the number of extra bits (length and distance codes) or
// the width of a secondary table, bits 12-15 the kind, bits 16-31 the value:
// the literal byte, the base length or distance, the symbol of a code length
// code, or the offset of a secondary table.
const (
	kLit = 1 << 15 // literal byte
	kSub = 1 << 14 // pointer to a secondary table
	kEOB = 1 << 13 // end of block
	kBad = 1 << 12 // unused code (incomplete code) or invalid symbol
)

// Per symbol, the entry without its code length.
var (
	litInfo  [288]uint32
	distInfo [32]uint32
	clInfo   [19]uint32
)

// The fixed codes of section 3.2.6, shared read-only by every inflater.
var (
	fixedLitTable  [litTableSize]uint32
	fixedDistTable [distTableSize]uint32
)

// clOrder is the order of the code length code lengths (section 3.2.7).
var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func init() {
	for sym := range 256 {
		litInfo[sym] = kLit | uint32(sym)<<16
	}
	litInfo[endOfBlock] = kEOB
	base := 3
	for sym := 257; sym < 285; sym++ {
		extra := lengthExtra(sym)
		litInfo[sym] = uint32(base)<<16 | uint32(extra)<<8
		base += 1 << extra
	}
	litInfo[285] = 258 << 16
	litInfo[286], litInfo[287] = kBad, kBad // in the fixed code only; never valid
	base = 1
	for sym := range maxDistSyms {
		extra := max(0, sym/2-1)
		distInfo[sym] = uint32(base)<<16 | uint32(extra)<<8
		base += 1 << extra
	}
	distInfo[30], distInfo[31] = kBad, kBad
	for sym := range clInfo {
		clInfo[sym] = uint32(sym) << 16
	}

	var lens [288]uint8
	for sym := range lens {
		switch {
		case sym < 144:
			lens[sym] = 8
		case sym < 256:
			lens[sym] = 9
		case sym < 280:
			lens[sym] = 7
		default:
			lens[sym] = 8
		}
	}
	if ok, _ := buildTable(fixedLitTable[:], lens[:], countLengths(new([maxCodeLen + 1]int), lens[:]), litInfo[:], litRootBits); !ok {
		panic("deflate: fixed literal/length code")
	}
	for sym := range 32 {
		lens[sym] = 5
	}
	if ok, _ := buildTable(fixedDistTable[:], lens[:32], countLengths(new([maxCodeLen + 1]int), lens[:32]), distInfo[:], distRootBits); !ok {
		panic("deflate: fixed distance code")
	}
}

// buildTable fills t with the decoding table of the canonical Huffman code
// that lens describe (section 3.2.2): a code length per symbol, 0 for a
// symbol not used; count[l] is the number of codes of length l (the caller
// counts as it reads the lengths, which is cheaper than a second pass).
// info holds each symbol's entry without its length.
//
// It reports ok false for an over-subscribed code, and for an incomplete
// one other than the two that DEFLATE decoders accept: no code at all (a
// block of literals only has no distance code) and a single code of one bit
// (section 3.2.7: "one distance code of one bit"; zlib and compress/flate
// accept it for literal/length codes too). complete reports whether every
// bit sequence decodes; entries of unused codes hold kBad with length 0.
func buildTable(t []uint32, lens []uint8, count *[maxCodeLen + 1]int, info []uint32, root uint) (ok, complete bool) {
	left, total, minLen := 1, 0, uint(0)
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return false, false // over-subscribed
		}
		if minLen == 0 && count[l] != 0 {
			minLen = uint(l)
		}
		total += count[l]
	}
	complete = left == 0
	rootSize := 1 << root
	if !complete {
		if total > 1 || total == 1 && count[1] != 1 {
			return false, false
		}
		for i := range t[:rootSize] {
			t[i] = kBad
		}
		if total == 0 {
			return true, false
		}
	}

	// Symbols sorted by code length, then by value: the order in which
	// canonical codes are assigned, consecutive integers within a length
	// starting at first[l].
	var start, first [maxCodeLen + 2]int
	for l := 1; l <= maxCodeLen; l++ {
		start[l+1] = start[l] + count[l]
		first[l+1] = (first[l] + count[l]) << 1
	}
	var sorted [288]uint16
	next := start
	for sym, l := range lens {
		if l != 0 {
			sorted[next[l]] = uint16(sym)
			next[l]++
		}
	}

	// Codes up to root bits, shortest first: the table for l bits is the
	// one for l-1 bits twice (a shorter code fills every entry that starts
	// with it), plus the codes of length l, one entry each. The entries
	// left over are prefixes of longer codes, overwritten below.
	l0 := min(minLen, root)
	size := 1 << l0
	for l := l0; l <= root; l++ {
		if l > l0 {
			copy(t[size:2*size], t[:size])
			size <<= 1
		}
		c := uint(first[l])
		for j := start[l]; j < start[l+1]; j++ {
			t[reverseBits(c, l)] = info[sorted[j]] | uint32(l)
			c++
		}
	}

	// Longer codes go to secondary tables, one per root prefix.
	free := rootSize // next free secondary table entry
	prefix, sub, width := -1, 0, uint(0)
	for j := start[root+1]; j < total; j++ {
		sym := sorted[j]
		l := uint(lens[sym])
		c := uint(first[l] + j - start[l])
		if p := int(c >> (l - root)); p != prefix {
			// Codes sharing these root bits are consecutive, and the
			// last of them is the longest.
			prefix = p
			last := j
			for last+1 < total {
				ll := uint(lens[sorted[last+1]])
				if int(uint(first[ll]+last+1-start[ll])>>(ll-root)) != p {
					break
				}
				last++
			}
			width = uint(lens[sorted[last]]) - root
			sub = free
			free += 1 << width
			if free > len(t) {
				return false, false // cannot happen for a complete code
			}
			t[reverseBits(uint(p), root)] = kSub | uint32(sub)<<16 | uint32(width)<<8
		}
		ent := info[sym] | uint32(l)
		tail := l - root
		for i := reverseBits(c&(1<<tail-1), tail); i < 1<<width; i += 1 << tail {
			t[sub+int(i)] = ent
		}
	}
	return true, complete
}

// countLengths counts the code lengths in lens by length.
func countLengths(count *[maxCodeLen + 1]int, lens []uint8) *[maxCodeLen + 1]int {
	*count = [maxCodeLen + 1]int{}
	for _, l := range lens {
		count[l&15]++
	}
	return count
}

func reverseBits(c, n uint) uint {
	return uint(bits.Reverse16(uint16(c))) >> (16 - n)
}

// Decoder modes: where the next step starts.
const (
	modeHeader    = iota // BFINAL and BTYPE of the next block
	modeStoredLen        // LEN and NLEN of a stored block, at a byte boundary
	modeStored           // the data of a stored block
	modeDynCounts        // HLIT, HDIST, HCLEN
	modeDynCL            // the code length code lengths
	modeDynLens          // the literal/length and distance code lengths
	modeHuffman          // symbols of a fixed or dynamic block
)

// status is how a run of the decoder ended.
type status int

const (
	sInput   status = iota // all input used; more is needed
	sDone                  // last input: the stream ended after a final block
	sSpace                 // the output buffer is full; grow it and call again
	sTooBig                // the output would exceed the limit
	sCorrupt               // invalid data, or last input that ends inside a block
	sNext                  // internal: the mode changed, go on
)

// Inflater is a resumable DEFLATE decoder (RFC 1951).
//
// Input arrives in pieces of any size, split anywhere, even inside a
// Huffman code. The decoder keeps a 64-bit bit buffer between pieces and
// takes a step (a block header field, one code length of a dynamic header,
// or one literal or length/distance pair) only when every bit of that step
// is already there; otherwise it keeps the few bits it has (fewer than 48,
// they fit the buffer) and waits for the next piece. So it never needs to
// hold input bytes apart from the bit buffer, and a step is never half
// done. Stored blocks are copied as their bytes arrive.
//
// Output is appended to the caller's slice. Back-references reach into
// what the current stream produced in that slice and, further back, into a
// Window holding the last bytes of earlier output.
//
// Huffman codes are decoded with tables indexed by the next bits of input
// (least significant bit first, so codes are stored bit-reversed): a
// primary table of litRootBits (distRootBits for distances) bits whose
// entries either give the symbol or point to a secondary table for the
// longer codes (section 3.2.2 limits codes to 15 bits).
//
// An Inflater is about 14 KiB, mostly tables; its zero value is ready for
// Reset. It is not safe for concurrent use.
type Inflater struct {
	b  uint64 // bit buffer: the next nb bits of input, least significant first
	nb uint

	mode       uint8
	final      bool // the current block has BFINAL set
	afterFinal bool // the last block ended was final (and the input realigned)
	stored     int  // bytes of the stored block still to copy

	// Dynamic block header in progress.
	nlit, ndist, nclen int
	idx                int // next code length to read
	lens               [maxLitSyms + maxDistSyms]uint8
	clLens             [19]uint8
	clTable            [1 << clRootBits]uint32
	litCount           [maxCodeLen + 1]int // code lengths read so far, by length
	distCount          [maxCodeLen + 1]int

	lit     *[litTableSize]uint32 // tables of the current block
	dist    *[distTableSize]uint32
	litOwn  [litTableSize]uint32
	distOwn [distTableSize]uint32

	wsize int     // the farthest a back-reference may reach
	hist  *Window // output from before the current call's output

	limit    int // most bytes the stream may inflate to
	produced int // bytes the stream inflated to so far
}

// noHistory is the window of a stream that has none. It is never written.
var noHistory Window

// Reset prepares f for a new stream whose back-references may reach window
// bytes back, into hist (nil for none) before the stream's own output, and
// whose output may be at most limit bytes (a negative limit counts as 0).
func (f *Inflater) Reset(window, limit int, hist *Window) {
	f.b, f.nb = 0, 0
	f.mode = modeHeader
	f.final, f.afterFinal = false, false
	f.stored = 0
	f.wsize = window
	f.SetHistory(hist)
	f.limit = max(limit, 0)
	f.produced = 0
}

// SetHistory replaces the window of output before the current call's
// output (nil for none): after a call, the caller may move that output
// into a Window and hand it over here for the next call.
func (f *Inflater) SetHistory(hist *Window) {
	if hist == nil {
		hist = &noHistory
	}
	f.hist = hist
}

// Ended reports whether the input so far ends a stream: a block with
// BFINAL set has ended, and not a bit of another block has arrived.
func (f *Inflater) Ended() bool {
	return f.mode == modeHeader && f.afterFinal && f.nb == 0
}

// Inflate decodes in, appending the output to dst, which it grows as
// needed but never past the stream's limit; dst[hs:] is output of the
// current stream that back-references may reach directly, anything further
// back comes from the Window. last says that in is the last of the input:
// the stream must then end (Ended) exactly at its end. Without last, a
// step cut short at the end of in waits for the next call.
//
// Bytes returned are final. On an error (ErrCorrupt, or ErrTooBig as soon
// as the output would pass the limit) dst holds what was decoded before
// it, and the stream is over.
func (f *Inflater) Inflate(dst []byte, hs int, in []byte, last bool) ([]byte, error) {
	src := input{b: in, last: last}
	for {
		left := f.limit - f.produced
		out := output{buf: dst[:cap(dst)], hs: hs, op: len(dst)}
		op0 := out.op
		out.end = len(out.buf)
		if op0+left <= out.end {
			out.end, out.atLimit = op0+left, true
		}
		st := f.run(&out, &src)
		f.produced += out.op - op0
		dst = out.buf[:out.op]
		switch st {
		case sInput, sDone:
			if src.ip != len(src.b) {
				// The decoder stops for input only once it has all of
				// it; anything else would lose data.
				return dst, ErrCorrupt
			}
			return dst, nil
		case sSpace:
			// Double the buffer (or make room for four times the input
			// left), never past the limit; once past half the limit the
			// next doubling would be followed by one to the limit, so
			// go there at once: a bomb then allocates about 1.5 times
			// the limit in all.
			room := left - (out.op - op0) // what the limit still allows
			grow := min(room, max(len(dst), 4*(len(src.b)-src.ip), 512))
			if len(dst)+grow >= (len(dst)+room)/2 {
				grow = room
			}
			// Not slices.Grow: append's growth steps would overshoot.
			nb := make([]byte, len(dst), len(dst)+grow)
			copy(nb, dst)
			dst = nb
		case sTooBig:
			return dst, ErrTooBig
		default:
			return dst, ErrCorrupt
		}
	}
}

// output is where a run of the decoder writes: buf[op:end], end <=
// len(buf). buf[hs:op] is output of the current stream that immediately
// precedes op and may be referred to; anything before it comes from the
// history. atLimit tells whether end is the stream's limit: running out of
// room is then sTooBig, not sSpace.
type output struct {
	buf     []byte
	hs      int
	op, end int
	atLimit bool
}

// noRoom is the status of a step whose output does not fit.
func (o *output) noRoom() status {
	if o.atLimit {
		return sTooBig
	}
	return sSpace
}

// input is what a run of the decoder reads: b[ip:]. last says that no
// input follows.
type input struct {
	b    []byte
	ip   int
	last bool
}

// short is the status of a step whose bits have not all arrived.
func (in *input) short() status {
	if in.last {
		return sCorrupt
	}
	return sInput
}

// run decodes until it needs input or room, or the stream ends or fails.
func (f *Inflater) run(out *output, in *input) status {
	st := sNext
	for st == sNext {
		switch f.mode {
		case modeHeader:
			st = f.header(in)
		case modeStoredLen:
			st = f.storedLen(in)
		case modeStored:
			st = f.copyStored(out, in)
		case modeDynCounts, modeDynCL, modeDynLens:
			st = f.dynamicHeader(in)
		case modeHuffman:
			st = f.huffman(out, in)
		}
	}
	if st == sInput {
		// Everything left is in the bit buffer; clear the bits above it
		// (a wide refill leaves part of the next byte there) before
		// another piece of input is added.
		if f.nb < 64 {
			f.b &= 1<<f.nb - 1
		}
	}
	return st
}

// fill moves input bytes into the bit buffer, one at a time, until it holds
// at least 56 bits (at most 63, as the wide refill needs) or the input is
// used up.
func (f *Inflater) fill(in *input) {
	for f.nb < 56 && in.ip < len(in.b) {
		f.b |= uint64(in.b[in.ip]) << f.nb
		f.nb += 8
		in.ip++
	}
}

// blockDone moves on after a block. After a final block, the next block
// (RFC 7692 section 7.2.3.4 allows more) starts at the next byte.
func (f *Inflater) blockDone() {
	f.mode = modeHeader
	if f.final {
		f.afterFinal = true
		k := f.nb & 7
		f.b >>= k
		f.nb -= k
	}
}

func (f *Inflater) header(in *input) status {
	f.fill(in)
	if f.afterFinal && f.nb == 0 {
		// Between blocks after a final one: the stream may end here.
		if in.last {
			return sDone
		}
		return sInput
	}
	if f.nb < 3 {
		return in.short()
	}
	f.final = f.b&1 != 0
	typ := f.b >> 1 & 3
	f.b >>= 3
	f.nb -= 3
	f.afterFinal = false
	switch typ {
	case 0:
		k := f.nb & 7 // stored: skip to the byte boundary
		f.b >>= k
		f.nb -= k
		f.mode = modeStoredLen
	case 1:
		f.lit, f.dist = &fixedLitTable, &fixedDistTable
		f.mode = modeHuffman
	case 2:
		f.mode = modeDynCounts
	default:
		return sCorrupt // reserved block type
	}
	return sNext
}

func (f *Inflater) storedLen(in *input) status {
	f.fill(in)
	if f.nb < 32 {
		return in.short()
	}
	n := uint16(f.b)
	if uint16(f.b>>16) != ^n {
		return sCorrupt
	}
	f.b >>= 32
	f.nb -= 32
	f.stored = int(n)
	f.mode = modeStored
	if n == 0 {
		f.blockDone()
	}
	return sNext
}

func (f *Inflater) copyStored(out *output, in *input) status {
	// Bytes already in the bit buffer come first; it holds whole bytes
	// here, as the block started at a byte boundary.
	for f.stored > 0 && f.nb >= 8 {
		if out.op >= out.end {
			return out.noRoom()
		}
		out.buf[out.op] = byte(f.b)
		out.op++
		f.b >>= 8
		f.nb -= 8
		f.stored--
	}
	if f.stored > 0 {
		f.b = 0 // drop what a wide refill left of in.b[in.ip]
		n := copy(out.buf[out.op:out.end], in.b[in.ip:min(len(in.b), in.ip+f.stored)])
		out.op += n
		in.ip += n
		f.stored -= n
		if f.stored > 0 {
			if in.ip == len(in.b) {
				return in.short()
			}
			return out.noRoom()
		}
	}
	f.blockDone()
	return sNext
}

// dynamicHeader reads the header of a block with dynamic codes (section
// 3.2.7), one field or code length at a time.
func (f *Inflater) dynamicHeader(in *input) status {
	if f.mode == modeDynCounts {
		f.fill(in)
		if f.nb < 14 {
			return in.short()
		}
		f.nlit = int(f.b&31) + 257
		f.ndist = int(f.b>>5&31) + 1
		f.nclen = int(f.b>>10&15) + 4
		f.b >>= 14
		f.nb -= 14
		if f.nlit > maxLitSyms || f.ndist > maxDistSyms {
			return sCorrupt
		}
		f.clLens = [19]uint8{}
		f.idx = 0
		f.mode = modeDynCL
	}
	if f.mode == modeDynCL {
		for f.idx < f.nclen {
			if f.nb < 3 {
				f.fill(in)
				if f.nb < 3 {
					return in.short()
				}
			}
			f.clLens[clOrder[f.idx]] = uint8(f.b & 7)
			f.b >>= 3
			f.nb -= 3
			f.idx++
		}
		// The code length code must be complete: the other cases (none,
		// or one code) cannot describe a valid block.
		if ok, complete := buildTable(f.clTable[:], f.clLens[:], countLengths(&f.litCount, f.clLens[:]), clInfo[:], clRootBits); !ok || !complete {
			return sCorrupt
		}
		f.idx = 0
		f.litCount, f.distCount = [maxCodeLen + 1]int{}, [maxCodeLen + 1]int{}
		f.mode = modeDynLens
	}
	n := f.nlit + f.ndist
	for f.idx < n {
		if f.nb < 14 {
			f.fill(in)
		}
		e := f.clTable[f.b&(1<<clRootBits-1)]
		l := uint(e & 0xff)
		if l > f.nb {
			return in.short()
		}
		sym := e >> 16
		if sym < 16 {
			f.b >>= l
			f.nb -= l
			f.lens[f.idx] = uint8(sym)
			if f.idx < f.nlit {
				f.litCount[sym]++
			} else {
				f.distCount[sym]++
			}
			f.idx++
			continue
		}
		var extra uint
		var rep int
		var val uint8
		switch sym {
		case 16: // the previous length, 3-6 times
			if f.idx == 0 {
				return sCorrupt
			}
			extra, rep, val = 2, 3, f.lens[f.idx-1]
		case 17: // zero, 3-10 times
			extra, rep = 3, 3
		default: // 18: zero, 11-138 times
			extra, rep = 7, 11
		}
		if l+extra > f.nb {
			return in.short()
		}
		rep += int(f.b >> l & (1<<extra - 1))
		f.b >>= l + extra
		f.nb -= l + extra
		if f.idx+rep > n {
			return sCorrupt
		}
		inLit := min(rep, max(0, f.nlit-f.idx))
		f.litCount[val&15] += inLit
		f.distCount[val&15] += rep - inLit
		for range rep {
			f.lens[f.idx] = val
			f.idx++
		}
	}
	// Every block ends with end-of-block, so a code without it cannot
	// describe a valid block.
	if f.lens[endOfBlock] == 0 {
		return sCorrupt
	}
	f.litCount[0], f.distCount[0] = 0, 0
	if ok, _ := buildTable(f.litOwn[:], f.lens[:f.nlit], &f.litCount, litInfo[:], litRootBits); !ok {
		return sCorrupt
	}
	if ok, _ := buildTable(f.distOwn[:], f.lens[f.nlit:n], &f.distCount, distInfo[:], distRootBits); !ok {
		return sCorrupt
	}
	f.lit, f.dist = &f.litOwn, &f.distOwn
	f.mode = modeHuffman
	return sNext
}

// huffman decodes the symbols of a block with Huffman codes. The fast loop
// runs while at least 8 bytes of input remain (the bit buffer is refilled 8
// bytes at a time, giving it the 48 bits of the longest step) and a match
// fits below out.end; the careful step after it decodes one symbol only
// once all of its bits are in the buffer and its output fits. The loops
// work on local copies of the bit buffer and positions, stored back once
// at the end.
func (f *Inflater) huffman(out *output, in *input) status {
	buf, hs, op, end := out.buf, out.hs, out.op, out.end
	src, ip := in.b, in.ip
	b, nb := f.b, f.nb
	lt, dt := f.lit, f.dist
	wsize := f.wsize
	fastOut := end - 1       // room for two literals
	chunkEnd := len(buf) - 8 // 8-byte copies may write up to 7 bytes past a match
	fastIn := len(src) - 8
	var st status
decode:
	for {
		for op < fastOut && ip <= fastIn {
			b |= binary.LittleEndian.Uint64(src[ip:]) << (nb & 63)
			ip += int((63 - nb) >> 3)
			nb |= 56
			e := lt[b&litMask]
			if e&kSub != 0 {
				e = lt[e>>16+uint32(b>>litRootBits)&(1<<(e>>8&15)-1)]
			}
			n := uint(e & 63)
			if e&kLit != 0 {
				b >>= n
				nb -= n
				buf[op] = byte(e >> 16)
				op++
				// A second literal without a refill: at least 41 bits
				// are left.
				e = lt[b&litMask]
				if e&kLit != 0 {
					n = uint(e & 63)
					b >>= n
					nb -= n
					buf[op] = byte(e >> 16)
					op++
				}
				continue
			}
			if e&(kEOB|kBad) != 0 {
				b >>= n
				nb -= n
				st = sCorrupt
				if e&kBad == 0 {
					st = sNext
				}
				break decode
			}
			extra := uint(e >> 8 & 15)
			length := int(e>>16) + int(b>>n&(1<<extra-1))
			if length > end-op {
				break // the careful step decides: grow or too big
			}
			b >>= n + extra
			nb -= n + extra
			e = dt[b&distMask]
			if e&kSub != 0 {
				e = dt[e>>16+uint32(b>>distRootBits)&(1<<(e>>8&15)-1)]
			}
			if e&kBad != 0 {
				st = sCorrupt
				break decode
			}
			n = uint(e & 63)
			extra = uint(e >> 8 & 15)
			dist := int(e>>16) + int(b>>n&(1<<extra-1))
			b >>= n + extra
			nb -= n + extra
			if dist > op-hs || dist > wsize {
				if !f.fromHistory(buf, hs, op, dist, length) {
					st = sCorrupt
					break decode
				}
			} else if dist >= 8 && op+length <= chunkEnd {
				// Eight bytes at a time: each load reads bytes at least
				// eight before the store, so overlap is harmless.
				from := op - dist
				for i := 0; i < length; i += 8 {
					binary.LittleEndian.PutUint64(buf[op+i:], binary.LittleEndian.Uint64(buf[from+i:]))
				}
			} else {
				repeatCopy(buf, op, op-dist, length)
			}
			op += length
		}

		// One careful step.
		f.b, f.nb = b, nb
		in.ip = ip
		f.fill(in)
		ip = in.ip
		b, nb = f.b, f.nb
		e := lt[b&litMask]
		if e&kSub != 0 {
			e = lt[e>>16+uint32(b>>litRootBits)&(1<<(e>>8&15)-1)]
		}
		n := uint(e & 63)
		if n > nb {
			st = in.short()
			break
		}
		if e&kBad != 0 {
			st = sCorrupt
			break
		}
		if e&kLit != 0 {
			if op >= end {
				st = out.noRoom()
				break
			}
			buf[op] = byte(e >> 16)
			op++
			b >>= n
			nb -= n
			continue
		}
		if e&kEOB != 0 {
			b >>= n
			nb -= n
			st = sNext
			break
		}
		extra := uint(e >> 8 & 15)
		used := n + extra
		if used > nb {
			st = in.short()
			break
		}
		length := int(e>>16) + int(b>>n&(1<<extra-1))
		d := b >> used
		e = dt[d&distMask]
		if e&kSub != 0 {
			e = dt[e>>16+uint32(d>>distRootBits)&(1<<(e>>8&15)-1)]
		}
		n = uint(e & 63)
		extra = uint(e >> 8 & 15)
		if used+n > nb {
			st = in.short()
			break
		}
		if e&kBad != 0 {
			st = sCorrupt
			break
		}
		if used+n+extra > nb {
			st = in.short()
			break
		}
		dist := int(e>>16) + int(d>>n&(1<<extra-1))
		used += n + extra
		if dist > wsize || dist > op-hs+f.hist.n {
			st = sCorrupt
			break
		}
		if length > end-op {
			st = out.noRoom()
			break
		}
		if dist > op-hs {
			f.fromHistory(buf, hs, op, dist, length)
		} else {
			repeatCopy(buf, op, op-dist, length)
		}
		op += length
		b >>= used
		nb -= used
	}
	f.b, f.nb = b, nb
	out.op, in.ip = op, ip
	if st == sNext {
		f.blockDone() // end of block
	}
	return st
}

// repeatCopy copies length bytes from buf[src:] to buf[op:], src < op,
// where the two may overlap: the bytes from src to op repeat.
func repeatCopy(buf []byte, op, src, length int) {
	end := op + length
	if op-src >= length {
		copy(buf[op:end], buf[src:])
		return
	}
	// Each copy doubles the repeated run, keeping its phase.
	for n := op; n < end; {
		n += copy(buf[n:end], buf[src:n])
	}
}

// fromHistory copies a match that starts before buf[hs], in the history,
// and may go on into buf. It reports false for a distance beyond the
// window or the history.
func (f *Inflater) fromHistory(buf []byte, hs, op, dist, length int) bool {
	back := dist - (op - hs) // bytes before buf[hs]
	if dist > f.wsize || back > f.hist.n {
		return false
	}
	if back <= 0 {
		repeatCopy(buf, op, op-dist, length)
		return true
	}
	n := min(length, back)
	f.hist.read(buf[op:op+n], back)
	if n < length {
		repeatCopy(buf, op+n, op+n-dist, length-n)
	}
	return true
}
