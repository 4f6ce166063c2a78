package mask

import "testing"

const benchSize = 64 << 10

func BenchmarkXOR(b *testing.B) {
	buf := make([]byte, benchSize)
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b.Run("64KiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for b.Loop() {
			XOR(buf, key, 1)
		}
	})
	// One byte in, so that every load and store straddles a word boundary.
	b.Run("64KiB/unaligned", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		u := make([]byte, benchSize+1)[1:]
		for b.Loop() {
			XOR(u, key, 1)
		}
	})
}

// BenchmarkMemmove is the yardstick for BenchmarkXOR: a copy of the same size
// touches as many bytes, and XOR is required to stay within 2x of it.
func BenchmarkMemmove(b *testing.B) {
	src := make([]byte, benchSize)
	dst := make([]byte, benchSize)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		copy(dst, src)
	}
}
