package frame

import "testing"

var benchSizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// BenchmarkDecode decodes masked frames as a server does, unmasking
// included, one frame per op. Decoding unmasks in place and the payload is
// not checked, so the same buffer is decoded over and over.
func BenchmarkDecode(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			frame := AppendFrame(nil, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: testKey}, testPayload(1, s.n))
			var buf []byte
			for len(buf) < 64<<10 || len(buf) == 0 {
				buf = append(buf, frame...)
			}
			d := Decoder{Role: RoleServer}
			p := buf
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				for {
					if len(p) == 0 {
						p = buf
					}
					n, f, _, err := d.Decode(p)
					if err != nil {
						b.Fatal(err)
					}
					p = p[n:]
					if f.End {
						break
					}
				}
			}
		})
	}
}

// BenchmarkEncode encodes frames as a server sends them (unmasked) into a
// reused buffer.
func BenchmarkEncode(b *testing.B) {
	benchEncode(b, Header{Fin: true, Opcode: OpBinary})
}

// BenchmarkEncodeMasked encodes frames as a client sends them, masking the
// copy.
func BenchmarkEncodeMasked(b *testing.B) {
	benchEncode(b, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: testKey})
}

func benchEncode(b *testing.B, h Header) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			payload := testPayload(2, s.n)
			buf := make([]byte, 0, MaxHeaderLen+s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendFrame(buf[:0], h, payload)
			}
		})
	}
}
