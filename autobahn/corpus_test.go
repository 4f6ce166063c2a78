package autobahn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// corpus is the payload source of a compression case: Autobahn's 12.x
// send slices of five files (a JSON file, a 512x512 bitmap, Goethe's Faust
// as binary, an HTML file, a PDF). Those files are not ours to copy, so
// the suite generates stand-ins of the same kinds and sizes from a fixed
// seed: text that compresses well, an image that compresses a little, and
// a document whose compressed streams do not compress at all.
type corpus struct {
	name   string
	binary bool
	data   []byte
}

var corpora = sync.OnceValue(func() []corpus {
	return []corpus{
		{"JSON records (text)", false, jsonCorpus(194 << 10)},
		{"512x512 greyscale bitmap (binary)", true, bitmapCorpus()},
		{"German verse (binary)", true, verseCorpus(217 << 10)},
		{"HTML page (text)", false, htmlCorpus(257 << 10)},
		{"PDF with compressed streams (binary)", true, pdfCorpus(1 << 20)},
	}
})

var (
	firstNames = []string{"Anna", "Jürgen", "Zoë", "Łukasz", "Søren", "Amélie", "Håkon", "Ōta", "Chloé", "Dmitri", "Ines", "Björn"}
	lastNames  = []string{"Müller", "Nørgaard", "García", "Dvořák", "Østergaard", "Łęcki", "Smith", "Weiß", "Kovač", "Rossi"}
	cities     = []string{"Köln", "Zürich", "Malmö", "København", "Kraków", "Reykjavík", "São Paulo", "Lyon"}
	germans    = strings.Fields("Habe nun ach Philosophie Juristerei und Medizin leider auch Theologie durchaus studiert mit heißem Bemühn " +
		"da steh ich nun ich armer Tor und bin so klug als wie zuvor heiße Magister heiße Doktor gar und ziehe schon an die zehen Jahr " +
		"herauf herab und quer und krumm meine Schüler an der Nase herum und sehe daß wir nichts wissen können das will mir schier das Herz verbrennen")
)

func jsonCorpus(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString("[\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `  {"id": %d, "name": "%s %s", "email": "user%d@example.org", "active": %v, "score": %d.%02d, `+
			`"tags": ["%s", "%s"], "address": {"city": "%s", "zip": "%05d"}},`+"\n",
			i, firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))], r.IntN(100000), r.IntN(2) == 0,
			r.IntN(1000), r.IntN(100), germans[r.IntN(len(germans))], germans[r.IntN(len(germans))],
			cities[r.IntN(len(cities))], r.IntN(100000))
	}
	b.WriteString("  {}\n]\n")
	return b.Bytes()
}

// bitmapCorpus is a BMP file: a 512x512 8-bit image of soft gradients with
// noise, which deflate shrinks by a third or so.
func bitmapCorpus() []byte {
	const w, h = 512, 512
	r := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	b.WriteString("BM")
	binary.Write(&b, binary.LittleEndian, []uint32{14 + 40 + 1024 + w*h, 0, 14 + 40 + 1024, 40, w, h})
	binary.Write(&b, binary.LittleEndian, []uint16{1, 8})
	binary.Write(&b, binary.LittleEndian, []uint32{0, w * h, 2835, 2835, 256, 0})
	for i := range 256 {
		b.Write([]byte{byte(i), byte(i), byte(i), 0})
	}
	for y := range h {
		for x := range w {
			v := (x*x+y*y)/2048 + (x*3+y)/16 + r.IntN(12)
			b.WriteByte(byte(v))
		}
	}
	return b.Bytes()
}

func verseCorpus(n int) []byte {
	r := rand.New(rand.NewPCG(5, 6))
	var b bytes.Buffer
	for b.Len() < n {
		words := 5 + r.IntN(6)
		for i := range words {
			wd := germans[r.IntN(len(germans))]
			if i == 0 {
				wd = strings.ToUpper(wd[:1]) + wd[1:]
			}
			b.WriteString(wd)
			if i < words-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString([]string{",\n", ".\n", "!\n", ";\n"}[r.IntN(4)])
		if r.IntN(8) == 0 {
			b.WriteString("\nFAUST:\n")
		}
	}
	return b.Bytes()
}

func htmlCorpus(n int) []byte {
	r := rand.New(rand.NewPCG(7, 8))
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"de\">\n<head><meta charset=\"utf-8\"><title>Verzeichnis</title></head>\n<body>\n<table class=\"list\">\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<tr class=\"row-%d\"><td><a href=\"/people/%d\">%s %s</a></td><td>%s</td><td class=\"num\">%d</td></tr>\n",
			i%2, r.IntN(1<<20), firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))],
			cities[r.IntN(len(cities))], r.IntN(10000))
	}
	b.WriteString("</table>\n</body>\n</html>\n")
	return b.Bytes()
}

// pdfCorpus alternates text objects with random "compressed" streams.
func pdfCorpus(n int) []byte {
	r := rand.New(rand.NewPCG(9, 10))
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>\nendobj\n", i, i+1)
		k := 512 + r.IntN(4096)
		fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", i+1, k)
		chunk := make([]byte, k)
		for j := range chunk {
			chunk[j] = byte(r.Uint32())
		}
		b.Write(chunk)
		b.WriteString("\nendstream\nendobj\n")
	}
	return b.Bytes()
}

// slicer hands out consecutive slices of a corpus, wrapping around at its
// end, as Autobahn's 12.x do.
type slicer struct {
	c   corpus
	pos int
}

// next returns the next message of about n bytes. Text corpora are cut
// at code point boundaries (Autobahn cuts by characters), so a text
// message stays valid UTF-8.
func (s *slicer) next(n int) []byte {
	data := s.c.data
	out := make([]byte, 0, n+3)
	for len(out) < n {
		k := min(n-len(out), len(data)-s.pos)
		out = append(out, data[s.pos:s.pos+k]...)
		s.pos = (s.pos + k) % len(data)
	}
	if !s.c.binary {
		for s.pos != 0 && data[s.pos]&0xc0 == 0x80 {
			out = append(out, data[s.pos])
			s.pos = (s.pos + 1) % len(data)
		}
	}
	return out
}
