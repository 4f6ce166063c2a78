// Package mask applies the RFC 6455 section 5.3 masking transform: payload
// byte i is XORed with byte i mod 4 of a 4-byte key. The transform is its own
// inverse, so the same function masks (client side) and unmasks (server
// side).
//
// XOR works a 64-bit word at a time in portable Go; on the machines this
// project is measured on it runs at roughly half the speed of memmove (see
// BenchmarkXOR next to BenchmarkMemmove), so no assembly is needed.
package mask

import (
	"encoding/binary"
	"math/bits"
)

// XOR masks or unmasks b in place with key, starting at key offset pos, and
// returns the key offset for the byte that follows b.
//
// One frame's payload may arrive over many reads, and RFC 6455 section 5.3
// indexes the key by the byte's offset within the whole payload, not within
// one read: pos is that payload offset mod 4 (only its low two bits are
// used), and the result, (pos+len(b))&3, is the pos for the next piece.
func XOR(b []byte, key [4]byte, pos int) int {
	pos &= 3
	next := (pos + len(b)) & 3
	if len(b) < 8 {
		for i := range b {
			b[i] ^= key[(pos+i)&3]
		}
		return next
	}
	// Rotate the key so that its first byte is the one for b[0], and repeat
	// it to 64 bits. The key period (4) divides the word size (8), so every
	// word, and the tail after the last one, starts at the same key offset.
	// Little-endian order matches the byte order of the loads below.
	k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
	k := uint64(k32)<<32 | uint64(k32)
	xorWords(b, k)
	return next
}

// xorWords XORs b with the repeating little-endian 8-byte pattern k. The
// 64-byte loop compiles to eight memory-operand XORs per iteration with no
// bounds checks; encoding/binary loads and stores have no alignment
// requirement, so b may start anywhere.
func xorWords(b []byte, k uint64) {
	le := binary.LittleEndian
	for len(b) >= 64 {
		w := b[:64:64]
		le.PutUint64(w[0:], le.Uint64(w[0:])^k)
		le.PutUint64(w[8:], le.Uint64(w[8:])^k)
		le.PutUint64(w[16:], le.Uint64(w[16:])^k)
		le.PutUint64(w[24:], le.Uint64(w[24:])^k)
		le.PutUint64(w[32:], le.Uint64(w[32:])^k)
		le.PutUint64(w[40:], le.Uint64(w[40:])^k)
		le.PutUint64(w[48:], le.Uint64(w[48:])^k)
		le.PutUint64(w[56:], le.Uint64(w[56:])^k)
		b = b[64:]
	}
	for len(b) >= 8 {
		le.PutUint64(b, le.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(k >> (8 * i))
	}
}
