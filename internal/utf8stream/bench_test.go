package utf8stream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Benchmark inputs: English (pure ASCII), chat-like text that is mostly
// ASCII with Latin accents, Greek, CJK and emoji, and Chinese with only a
// little ASCII punctuation.
var benchTexts = []struct{ name, text string }{
	{"ascii", "The quick brown fox jumps over the lazy dog; {\"id\": 42, \"ok\": true}\n"},
	{"mixed", "{\"user\": \"José Müller\", \"text\": \"Grüße aus Köln, naïve café — " +
		"καλημέρα, 你好 🎉\", \"tags\": [\"news\", \"résumé\"], \"seq\": 1024}\n"},
	{"cjk", "天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。寒来暑往，秋收冬藏。闰余成岁，律吕调阳。 "},
}

var benchSizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// benchInput repeats text to exactly n bytes of valid UTF-8, padding with
// spaces where a code point would be cut.
func benchInput(text string, n int) []byte {
	b := []byte(strings.Repeat(text, n/len(text)+1)[:n])
	for !utf8.Valid(b) {
		i := len(b) - 1
		for i > 0 && !utf8.RuneStart(b[i]) {
			i--
		}
		for ; i < len(b); i++ {
			b[i] = ' '
		}
	}
	return b
}

func benchEach(b *testing.B, valid func([]byte) bool) {
	for _, text := range benchTexts {
		for _, size := range benchSizes {
			in := benchInput(text.text, size.n)
			b.Run(text.name+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if !valid(in) {
						b.Fatal("input reported invalid")
					}
				}
			})
		}
	}
}

func BenchmarkValid(b *testing.B) { benchEach(b, Valid) }

func BenchmarkStdValid(b *testing.B) { benchEach(b, utf8.Valid) }

// BenchmarkValidatorWrite feeds each input in one Write, as a connection
// does with an unfragmented text frame.
func BenchmarkValidatorWrite(b *testing.B) {
	var v Validator
	benchEach(b, func(p []byte) bool {
		v.Reset()
		return v.Write(p) && v.Done()
	})
}

// BenchmarkValidatorWrite4K feeds 64 KiB in 4 KiB pieces cut without regard
// to code points, as reads from a socket arrive.
func BenchmarkValidatorWrite4K(b *testing.B) {
	for _, text := range benchTexts {
		in := benchInput(text.text, 64<<10)
		b.Run(text.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var v Validator
			for b.Loop() {
				v.Reset()
				for p := in; len(p) > 0; p = p[min(len(p), 4093):] {
					v.Write(p[:min(len(p), 4093)])
				}
				if !v.Done() {
					b.Fatal("input reported invalid")
				}
			}
		})
	}
}
