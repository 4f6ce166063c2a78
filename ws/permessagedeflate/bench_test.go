package permessagedeflate

import (
	"bytes"
	"compress/flate"
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

// BenchmarkInflate compares, on the payloads of BenchmarkDecompress (15-bit
// window), compress/flate reading each payload with the last 32 KiB of the
// stream as dictionary (what Decompress did before this package had its
// own inflater) with Decompress and with Begin, Feed in 512-byte pieces
// and End.
func BenchmarkInflate(b *testing.B) {
	for _, size := range benchSizes {
		msgs := benchMessages(size.n)
		for _, takeover := range []bool{true, false} {
			p := Params{ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover}
			c := NewCompressor(nil, p)
			var first, second, flushed [][]byte
			var dicts [][]byte // the history before each message of second
			var stream []byte
			for _, m := range msgs {
				out, _ := c.Compress(nil, m)
				first = append(first, out)
				stream = append(stream, m...)
			}
			for _, m := range msgs {
				out, _ := c.Compress(nil, m)
				second = append(second, out)
				flushed = append(flushed, append(bytes.Clone(out), syncMarker...))
				var dict []byte
				if takeover {
					dict = bytes.Clone(stream[max(0, len(stream)-32768):])
				}
				dicts = append(dicts, dict)
				stream = append(stream, m...)
			}
			c.Release()
			name := fmt.Sprintf("%s/%s", size.name, takeoverName(takeover))

			b.Run(name+"/flate", func(b *testing.B) {
				src := new(bytes.Reader)
				fr := flate.NewReader(src)
				out := make([]byte, 0, size.n)
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					k := i % len(second)
					src.Reset(flushed[k])
					if err := fr.(flate.Resetter).Reset(src, dicts[k]); err != nil {
						b.Fatal(err)
					}
					out = out[:0]
					for {
						n, err := fr.Read(out[len(out):cap(out)])
						out = out[:len(out)+n]
						if err != nil || len(out) == cap(out) {
							break
						}
					}
					if len(out) != size.n {
						b.Fatalf("%d bytes", len(out))
					}
					i++
				}
			})

			prepared := func(b *testing.B) *Decompressor {
				d := NewDecompressor(p)
				for _, payload := range first {
					if _, err := d.Decompress(nil, payload, size.n); err != nil {
						b.Fatal(err)
					}
				}
				return d
			}
			b.Run(name+"/Decompress", func(b *testing.B) {
				d := prepared(b)
				defer d.Release()
				out := make([]byte, 0, size.n)
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
			b.Run(name+"/Feed512", func(b *testing.B) {
				d := prepared(b)
				defer d.Release()
				out := make([]byte, 0, size.n)
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					payload := second[i%len(second)]
					d.Begin(size.n)
					out = out[:0]
					var err error
					for len(payload) > 0 && err == nil {
						n := min(512, len(payload))
						out, err = d.Feed(out, payload[:n])
						payload = payload[n:]
					}
					if err == nil {
						out, err = d.End(out)
					}
					if err != nil || len(out) != size.n {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
