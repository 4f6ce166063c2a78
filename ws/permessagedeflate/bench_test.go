package permessagedeflate

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchMessages returns enough distinct JSON messages of size n to fill a
// 64 KiB history, so context takeover sees realistic, not identical,
// predecessors.
func benchMessages(n int) [][]byte {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	msgs := make([][]byte, max(4, (64<<10)/n))
	for i := range msgs {
		msgs[i] = jsonLike(r, n)
	}
	return msgs
}

var benchSizes = []struct {
	name string
	n    int
}{{"1KiBJSON", 1 << 10}, {"16KiBJSON", 16 << 10}}

func BenchmarkCompress(b *testing.B)        { benchCompress(b, 15) }
func BenchmarkCompressWindow9(b *testing.B) { benchCompress(b, 9) }

func benchCompress(b *testing.B, bits int) {
	for _, size := range benchSizes {
		msgs := benchMessages(size.n)
		for _, takeover := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/%s", size.name, takeoverName(takeover)), func(b *testing.B) {
				c := NewCompressor(nil, Params{ServerNoContextTakeover: !takeover, ServerMaxWindowBits: bits})
				defer c.Release()
				var out []byte
				var in, compressed int
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					var err error
					out, err = c.Compress(out[:0], msgs[i%len(msgs)])
					if err != nil {
						b.Fatal(err)
					}
					in += size.n
					compressed += len(out)
					i++
				}
				b.ReportMetric(float64(compressed)/float64(in), "ratio")
			})
		}
	}
}

func BenchmarkDecompress(b *testing.B)        { benchDecompress(b, 15) }
func BenchmarkDecompressWindow9(b *testing.B) { benchDecompress(b, 9) }

// benchDecompress inflates a cycle of payloads. With context takeover the
// payloads are those of the second pass over the messages: the first pass
// filled the window with the same text that precedes every later pass, so
// the cycle can repeat.
func benchDecompress(b *testing.B, bits int) {
	for _, size := range benchSizes {
		msgs := benchMessages(size.n)
		for _, takeover := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/%s", size.name, takeoverName(takeover)), func(b *testing.B) {
				p := Params{
					ServerNoContextTakeover: !takeover, ServerMaxWindowBits: bits,
					ClientNoContextTakeover: !takeover, ClientMaxWindowBits: bits,
				}
				c := NewCompressor(nil, p)
				var first, second [][]byte
				for _, m := range msgs {
					out, _ := c.Compress(nil, m)
					first = append(first, out)
				}
				for _, m := range msgs {
					out, _ := c.Compress(nil, m)
					second = append(second, out)
				}
				c.Release()
				d := NewDecompressor(p)
				defer d.Release()
				var out []byte
				for _, payload := range first {
					if _, err := d.Decompress(out[:0], payload, size.n); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					var err error
					out, err = d.Decompress(out[:0], second[i%len(second)], size.n)
					if err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

func takeoverName(takeover bool) string {
	if takeover {
		return "takeover"
	}
	return "notakeover"
}
