package deflate

import "math/bits"

// bitWriter appends a DEFLATE bit stream to a byte slice, least significant
// bit first (RFC 1951 section 3.1.1).
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

// writeBits appends the n (<= 32) low bits of v.
func (w *bitWriter) writeBits(v uint32, n uint) {
	w.acc |= uint64(v) << w.nacc
	w.nacc += n
	if w.nacc >= 32 {
		w.out = append(w.out, byte(w.acc), byte(w.acc>>8), byte(w.acc>>16), byte(w.acc>>24))
		w.acc >>= 32
		w.nacc -= 32
	}
}

// alignByte pads with zero bits to the next byte boundary and writes out
// every whole byte.
func (w *bitWriter) alignByte() {
	for w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc = w.nacc - min(w.nacc, 8)
	}
	w.acc = 0
}

// mark is a position in the stream to roll back to.
type mark struct {
	n    int
	acc  uint64
	nacc uint
}

func (w *bitWriter) mark() mark { return mark{len(w.out), w.acc, w.nacc} }

func (w *bitWriter) rollback(m mark) { w.out, w.acc, w.nacc = w.out[:m.n], m.acc, m.nacc }

// bitLen is the number of bits written since m.
func (w *bitWriter) bitLen(m mark) int {
	return (len(w.out)-m.n)*8 + int(w.nacc) - int(m.nacc)
}

// code is a Huffman code ready to write: bits already reversed, because
// DEFLATE sends Huffman codes most significant bit first (section 3.1.1)
// while the writer fills bytes from the least significant bit. Extra bits
// may be folded in above the code.
type code struct {
	bits uint32
	n    uint8
}

// The fixed codes of RFC 1951 section 3.2.6, and per match length 3..258
// the length code with its extra bits folded in (section 3.2.5).
var (
	fixedLit    [288]code
	fixedLength [259]code
	fixedDist   [30]uint32 // five bits each, reversed
)

func init() {
	for sym := range fixedDist {
		fixedDist[sym] = reverse(sym, 5)
	}
	for sym := range fixedLit {
		var c, n int
		switch {
		case sym < 144:
			c, n = 0x30+sym, 8
		case sym < 256:
			c, n = 0x190+sym-144, 9
		case sym < 280:
			c, n = sym-256, 7
		default:
			c, n = 0xc0+sym-280, 8
		}
		fixedLit[sym] = code{reverse(c, n), uint8(n)}
	}
	sym, base := 257, 3
	for sym <= 285 {
		extra := lengthExtra(sym)
		span := 1 << extra
		if sym == 285 {
			// 258 has a code of its own, so 284 stops at 257 although
			// its five extra bits could reach 258.
			base, span = 258, 1
		}
		for l := base; l < base+span && (l < 258 || sym == 285); l++ {
			c := fixedLit[sym]
			fixedLength[l] = code{c.bits | uint32(l-base)<<c.n, c.n + uint8(extra)}
		}
		base += span
		sym++
	}
}

// lengthExtra is the number of extra bits of length symbol sym.
func lengthExtra(sym int) int {
	if sym < 265 || sym == 285 {
		return 0
	}
	return (sym - 261) / 4
}

func reverse(c, n int) uint32 {
	return uint32(bits.Reverse16(uint16(c)) >> (16 - n))
}

// writeLiteral appends literal b with the fixed code.
func (w *bitWriter) writeLiteral(b byte) {
	c := fixedLit[b]
	w.writeBits(c.bits, uint(c.n))
}

// writeMatch appends a back-reference with the fixed codes: the length
// code, then the 5-bit distance code and its extra bits (section 3.2.5).
func (w *bitWriter) writeMatch(length, dist int) {
	c := fixedLength[length]
	w.writeBits(c.bits, uint(c.n))
	d := uint32(dist - 1)
	var sym, extra uint32
	if d < 4 {
		sym = d
	} else {
		nb := uint32(bits.Len32(d)) - 1 // d >= 4, so nb >= 2
		extra = nb - 1
		sym = 2*nb + (d>>(nb-1))&1
	}
	// The extra bits hold the offset from the code's base distance.
	w.writeBits(fixedDist[sym]|(d&(1<<extra-1))<<5, uint(5+extra))
}

// Block headers (section 3.2.3): BFINAL is never set, every message leaves
// the stream open for the next (RFC 7692 section 7.2.1).
const (
	headerStored = 0 // BFINAL 0, BTYPE 00
	headerFixed  = 2 // BFINAL 0, BTYPE 01
)

// endOfBlock is symbol 256, seven zero bits.
func (w *bitWriter) endOfBlock() { w.writeBits(0, 7) }

// writeStored appends data as stored blocks of at most 65535 bytes; empty
// data is one empty stored block, the sync flush that ends an Encode.
func (w *bitWriter) writeStored(data []byte) {
	for {
		n := min(len(data), 65535)
		w.writeBits(headerStored, 3)
		w.alignByte()
		w.out = append(w.out, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		w.out = append(w.out, data[:n]...)
		data = data[n:]
		if len(data) == 0 {
			return
		}
	}
}
