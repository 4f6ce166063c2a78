package deflate

import (
	"encoding/binary"
	"math/bits"
)

// Encoder compresses with a window of 2^bits bytes (8 to 15 bits), for the
// windows below 15 bits that compress/flate cannot honour (it always uses
// 32 KiB). Matches come from hash chains and never reach further back than
// 2^bits bytes (RFC 7692 section 7.1.2.1); they are written with the fixed
// Huffman codes of RFC 1951 section 3.2.6, or as stored blocks where those
// would be larger (random data). It is not safe for concurrent use.
//
// The buffer holds the window followed by not yet encoded input, like
// zlib's: history of at least 2^bits bytes stays in front of the next
// position, and the buffer slides down by multiples of 2^bits when full,
// so the state does not grow with the message and positions fit in uint16.
type Encoder struct {
	bits  int
	wsize int // 1 << bits: the farthest a match may reach
	buf   []byte
	cur   int // next position to encode
	end   int // end of the data in buf
	// head maps a hash of three bytes to the last position+1 with that
	// hash; prev maps a position (modulo wsize) to the position+1 before
	// it in the same chain. 0 means none.
	head     []uint16
	prev     []uint16
	hashBits uint
	lvl      lzLevel
}

// lzLevel tunes the match search for a compression level.
type lzLevel struct {
	chain int  // candidates to try per position
	nice  int  // stop searching at a match this long
	lazy  bool // look one position ahead before taking a match
}

// lzLevels follows the shape of zlib's table: more candidates and lazy
// matching as the level rises. Index 0 is flate.HuffmanOnly.
var lzLevels = [10]lzLevel{
	0: {},
	1: {chain: 4, nice: 16},
	2: {chain: 8, nice: 32},
	3: {chain: 16, nice: 64},
	4: {chain: 16, nice: 64, lazy: true},
	5: {chain: 32, nice: 128, lazy: true},
	6: {chain: 128, nice: 258, lazy: true},
	7: {chain: 256, nice: 258, lazy: true},
	8: {chain: 1024, nice: 258, lazy: true},
	9: {chain: 4096, nice: 258, lazy: true},
}

const (
	minMatch = 3
	maxMatch = 258
	// tooFar: a match of minimum length further than this costs as many
	// bits with the fixed codes as the three literals it replaces.
	tooFar = 4096
	// minSpan is the least input encoded between slides; it also bounds
	// how much a block holds before the stored-or-fixed decision.
	minSpan = 4096
)

// NewEncoder returns an Encoder with a window of 2^bits bytes, bits from 8
// to 15, at level 0 (Huffman only) until SetLevel.
func NewEncoder(bits int) *Encoder {
	bits = min(max(bits, 8), 15)
	wsize := 1 << bits
	hashBits := uint(min(max(bits+1, 10), 15))
	return &Encoder{
		bits:     bits,
		wsize:    wsize,
		buf:      make([]byte, wsize+max(wsize, minSpan)+maxMatch),
		head:     make([]uint16, 1<<hashBits),
		prev:     make([]uint16, wsize),
		hashBits: hashBits,
	}
}

// Bits returns the base-2 logarithm of the window.
func (z *Encoder) Bits() int { return z.bits }

// SetLevel tunes the match search as compress/flate's levels do, from 1
// (fastest) to 9 (smallest); any other level is Huffman only (literals
// only, like flate.HuffmanOnly).
func (z *Encoder) SetLevel(level int) {
	if level < 0 || level >= len(lzLevels) {
		level = 0 // flate.HuffmanOnly
	}
	z.lvl = lzLevels[level]
}

// Reset forgets all history. Stale prev entries need no clearing: a chain
// starts at head, and every position reachable from there was inserted
// after the reset, together with its prev entry.
func (z *Encoder) Reset() {
	z.cur, z.end = 0, 0
	clear(z.head)
}

// Encode appends msg to dst as DEFLATE blocks that are not final, using
// and extending the history the Encoder keeps, then a sync flush: an empty
// stored block, which ends the data on a byte boundary with 00 00 ff ff.
// It returns the extended slice.
func (z *Encoder) Encode(dst, msg []byte) []byte {
	w := bitWriter{out: dst}
	z.compress(&w, msg)
	w.writeStored(nil)
	return w.out
}

// compress appends msg to w as blocks that are not final.
func (z *Encoder) compress(w *bitWriter, msg []byte) {
	for {
		if len(msg) > 0 && z.end == len(z.buf) {
			z.slide()
		}
		n := copy(z.buf[z.end:], msg)
		msg = msg[n:]
		z.end += n
		limit := z.end
		if len(msg) > 0 {
			// Keep a full match length of lookahead until the input
			// is all in.
			limit -= maxMatch
		}
		if limit > z.cur {
			z.block(w, limit)
		}
		if len(msg) == 0 {
			return
		}
	}
}

// slide drops the oldest part of the buffer, keeping at least wsize bytes
// before cur. The shift is a multiple of wsize so that prev, indexed by
// position modulo wsize, stays valid.
func (z *Encoder) slide() {
	shift := (z.cur - z.wsize) / z.wsize * z.wsize
	if shift <= 0 {
		// Cannot happen: cur is at least wsize+minSpan when the buffer
		// is full. Forgetting history keeps the output correct anyway.
		shift = z.cur
	}
	copy(z.buf, z.buf[shift:z.end])
	z.end -= shift
	z.cur -= shift
	s := uint16(shift)
	for i, v := range z.head {
		z.head[i] = v - min(v, s)
	}
	for i, v := range z.prev {
		z.prev[i] = v - min(v, s)
	}
}

// block encodes positions cur..limit (a final match may run on to end)
// as one fixed-code block, or as stored blocks when that is smaller.
func (z *Encoder) block(w *bitWriter, limit int) {
	start := z.cur
	m := w.mark()
	w.writeBits(headerFixed, 3)
	switch {
	case z.lvl.chain == 0:
		for ; z.cur < limit; z.cur++ {
			w.writeLiteral(z.buf[z.cur])
		}
	case z.lvl.lazy:
		z.lazyMatches(w, limit)
	default:
		z.greedyMatches(w, limit)
	}
	w.endOfBlock()
	n := z.cur - start
	// A stored block costs its bytes plus at most 5 bytes of header and
	// padding per 65535 bytes.
	if w.bitLen(m) > 8*(n+5*(n/65535+1)) {
		w.rollback(m)
		w.writeStored(z.buf[start:z.cur])
	}
}

func (z *Encoder) greedyMatches(w *bitWriter, limit int) {
	for z.cur < limit {
		length, dist := z.findMatch(z.cur, minMatch-1)
		if length >= minMatch {
			w.writeMatch(length, dist)
			for p := z.cur; p < z.cur+length; p++ {
				z.insert(p)
			}
			z.cur += length
			continue
		}
		w.writeLiteral(z.buf[z.cur])
		z.insert(z.cur)
		z.cur++
	}
}

// lazyMatches defers each match by one position to see whether a longer
// one starts there (RFC 1951 section 4 describes this "lazy matching").
func (z *Encoder) lazyMatches(w *bitWriter, limit int) {
	prevLen, prevDist := 0, 0 // a match starting at cur-1, or 0
	pending := false          // the byte at cur-1 is not yet written
	for z.cur < limit {
		length, dist := 0, 0
		if prevLen < z.lvl.nice {
			length, dist = z.findMatch(z.cur, max(prevLen, minMatch-1))
		}
		z.insert(z.cur)
		if prevLen >= minMatch && length <= prevLen {
			w.writeMatch(prevLen, prevDist)
			end := z.cur - 1 + prevLen
			for p := z.cur + 1; p < end; p++ {
				z.insert(p)
			}
			z.cur = end
			prevLen, pending = 0, false
			continue
		}
		if pending {
			w.writeLiteral(z.buf[z.cur-1])
		}
		prevLen, prevDist, pending = length, dist, true
		z.cur++
	}
	if !pending {
		return
	}
	if prevLen >= minMatch {
		w.writeMatch(prevLen, prevDist)
		end := z.cur - 1 + prevLen
		for p := z.cur; p < end; p++ {
			z.insert(p)
		}
		z.cur = end
		return
	}
	w.writeLiteral(z.buf[z.cur-1])
}

func (z *Encoder) hash(p int) uint32 {
	b := z.buf[p : p+3]
	v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	return (v * 0x9e3779b1) >> (32 - z.hashBits)
}

// insert adds position p to its hash chain. Positions whose three bytes
// are not all in the buffer yet are left out; that only loses a match.
func (z *Encoder) insert(p int) {
	if p+minMatch > z.end {
		return
	}
	h := z.hash(p)
	z.prev[p&(z.wsize-1)] = z.head[h]
	z.head[h] = uint16(p + 1)
}

// findMatch returns the longest match for position p longer than atLeast,
// or length 0. Candidates come from the hash chain, newest first, and stop
// at the window: a distance never exceeds wsize. p itself is not yet in the
// chain, so the prev slot of a candidate, shared with candidate+wsize, has
// not been overwritten.
func (z *Encoder) findMatch(p, atLeast int) (length, dist int) {
	maxLen := min(maxMatch, z.end-p)
	if maxLen < minMatch || atLeast >= maxLen {
		return 0, 0
	}
	lowest := p - z.wsize
	best, bestDist := atLeast, 0
	cand := int(z.head[z.hash(p)]) - 1
	for chain := z.lvl.chain; chain > 0 && cand >= 0 && cand >= lowest; chain-- {
		if z.buf[cand+best] == z.buf[p+best] {
			if l := matchLen(z.buf[cand:], z.buf[p:p+maxLen]); l > best {
				best, bestDist = l, p-cand
				if l >= z.lvl.nice || l == maxLen {
					break
				}
			}
		}
		next := int(z.prev[cand&(z.wsize-1)]) - 1
		if next >= cand {
			break // not a chain: only a stale entry could point forward
		}
		cand = next
	}
	if bestDist == 0 || best == minMatch && bestDist > tooFar {
		return 0, 0
	}
	return best, bestDist
}

// matchLen counts the leading bytes a and b share; len(a) >= len(b).
func matchLen(a, b []byte) int {
	n := 0
	for len(b)-n >= 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
		n += 8
	}
	for n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
