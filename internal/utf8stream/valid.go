package utf8stream

import (
	"encoding/binary"
	"math/bits"
)

// hiBits has the top bit of every byte of a word set: a word of ASCII bytes
// has none of them.
const hiBits = 0x8080808080808080

// Valid reports whether p is entirely valid UTF-8. It gives the same answer
// as unicode/utf8.Valid and is meant for payloads that arrive whole, such as
// a close reason.
func Valid(p []byte) bool {
	return scanWhole(p) == len(p)
}

// scanWhole returns the length of the longest prefix of p that consists of
// whole, valid sequences, stopping at the first sequence that is invalid or
// cut off by the end of p.
func scanWhole(p []byte) int {
	// A full slice expression makes cap equal len, and the "> n" loop
	// conditions keep every q = q[n:] non-empty: together they spare the
	// ASCII loop the capacity and end-of-array fix-ups the compiler would
	// otherwise emit for each step, which it measurably pays for.
	q := p[:len(p):len(p)]
scan:
	for {
		// Multi-byte sequences, back to back (as in CJK text), checked
		// against RFC 3629's table. A trailing byte b is in 80..BF exactly
		// when int8(b) < -64. For four bytes, the lead and the second byte
		// read as one 16-bit number must lie in F090..F48F: that excludes
		// overlong forms (F0 80..8F) and code points above U+10FFFF (F4
		// 90..BF, F5..FF).
		for len(q) > 0 && q[0] >= 0x80 {
			c := q[0]
			// Three-byte sequences first: they carry most scripts beyond
			// Latin, Greek and Cyrillic, and testing for them ahead of the
			// rest measured a third faster on CJK text.
			if c-0xE0 < 0x10 {
				if len(q) < 3 || q[1]-second3Lo[c&15] > second3Span[c&15] || int8(q[2]) >= -64 {
					return len(p) - len(q)
				}
				q = q[3:]
				continue
			}
			switch {
			case c < 0xC2: // trailing byte without a lead, or C0/C1
				return len(p) - len(q)
			case c < 0xE0:
				if len(q) < 2 || int8(q[1]) >= -64 {
					return len(p) - len(q)
				}
				q = q[2:]
			default: // F0..FF
				if len(q) < 4 || int8(q[1]) >= -64 || int8(q[2]) >= -64 || int8(q[3]) >= -64 {
					return len(p) - len(q)
				}
				if x := uint16(c)<<8 | uint16(q[1]); x < 0xF090 || x > 0xF48F {
					return len(p) - len(q)
				}
				q = q[4:]
			}
		}
		if len(q) == 0 {
			return len(p)
		}

		// ASCII. One word first: in mixed-script text the next non-ASCII
		// byte is usually within it, and a wider load would be wasted.
		// Then 64 bytes per step while no byte has its top bit set, and
		// one word at a time to land on the first byte that has.
		if len(q) > 8 {
			if w := binary.LittleEndian.Uint64(q) & hiBits; w != 0 {
				q = q[bits.TrailingZeros64(w)>>3:]
				continue scan
			}
			q = q[8:]
		}
		for len(q) > 64 {
			w := binary.LittleEndian.Uint64(q) | binary.LittleEndian.Uint64(q[8:]) |
				binary.LittleEndian.Uint64(q[16:]) | binary.LittleEndian.Uint64(q[24:]) |
				binary.LittleEndian.Uint64(q[32:]) | binary.LittleEndian.Uint64(q[40:]) |
				binary.LittleEndian.Uint64(q[48:]) | binary.LittleEndian.Uint64(q[56:])
			if w&hiBits != 0 {
				break
			}
			q = q[64:]
		}
		for len(q) > 8 {
			if w := binary.LittleEndian.Uint64(q) & hiBits; w != 0 {
				q = q[bits.TrailingZeros64(w)>>3:]
				continue scan
			}
			q = q[8:]
		}
		// The at most 8 bytes left are the top bytes of the last word of
		// p (little-endian), so one load finds the next non-ASCII byte.
		if len(p) >= 8 {
			w := (binary.LittleEndian.Uint64(p[len(p)-8:]) & hiBits) >> (64 - 8*len(q))
			if w == 0 {
				return len(p)
			}
			q = q[bits.TrailingZeros64(w)>>3:]
			continue
		}
		for len(q) > 0 && q[0] < 0x80 {
			q = q[1:]
		}
	}
}

// second3Lo and second3Span give, for a three-byte lead E0..EF indexed by
// its low four bits, the smallest second byte RFC 3629 allows and the width
// of the allowed range less one: A0..BF after E0 (no overlong forms), 80..9F
// after ED (no surrogates), 80..BF otherwise. With unsigned wrap-around,
// b-lo > span rejects b on either side of the range in one comparison.
var second3Lo, second3Span = makeSecond3()

func makeSecond3() (lo, span [16]uint8) {
	for i := range 16 {
		lo[i], span[i] = 0x80, 0x3F
	}
	lo[0xE0&15], span[0xE0&15] = 0xA0, 0x1F
	lo[0xED&15], span[0xED&15] = 0x80, 0x1F
	return lo, span
}
