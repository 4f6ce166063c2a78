package permessagedeflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"testing"
)

// finalBlockMessages are messages of one connection: later ones repeat
// parts of earlier ones, so context takeover has something to refer to.
func finalBlockMessages() [][]byte {
	r := rand.New(rand.NewPCG(7, 2692))
	first := jsonLike(r, 400)
	return [][]byte{
		first,
		append(bytes.Clone(first[50:250]), text(r, 100)...),
		[]byte("Hello"),
		{},
		random(r, 120),
	}
}

// TestDecompressFinalBlock: a message whose DEFLATE data ends with a block
// that has BFINAL set instead of an empty stored block (RFC 7692 section
// 7.2.3.4) inflates, with and without context takeover, whole and fed in
// every split into two pieces and one byte at a time. The payloads are
// compress/flate's Close output as it is (its last block is an empty
// stored block with BFINAL set), at several levels, and the section's own
// "Hello" in a final fixed-code block without the empty block after it.
func TestDecompressFinalBlock(t *testing.T) {
	msgs := finalBlockMessages()
	type sequence struct {
		name     string
		takeover bool
		matches  bool // the sender refers back into earlier messages
		msgs     [][]byte
		payloads [][]byte
	}
	var seqs []sequence
	for _, takeover := range []bool{true, false} {
		for _, level := range []int{flate.NoCompression, flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
			var payloads [][]byte
			var dict []byte // what the sender's next stream starts from
			for _, m := range msgs {
				if !takeover {
					dict = nil
				}
				payloads = append(payloads, deflateClosed(t, level, m, dict))
				dict = append(dict, m...)
			}
			matches := takeover && level == flate.BestCompression // BestSpeed ignores a dictionary
			seqs = append(seqs, sequence{fmt.Sprintf("flate/level=%d/takeover=%v", level, takeover), takeover, matches, msgs, payloads})
		}
		hello := []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
		seqs = append(seqs, sequence{fmt.Sprintf("7.2.3.4 Hello/takeover=%v", takeover), takeover, false,
			[][]byte{[]byte("Hello"), []byte("Hello")}, [][]byte{hello, hello}})
	}
	for _, s := range seqs {
		t.Run(s.name, func(t *testing.T) {
			// prepared returns a Decompressor that has inflated the
			// messages before i.
			prepared := func(i int) *Decompressor {
				d := NewDecompressor(params(15, s.takeover))
				for j := range i {
					if _, err := d.Decompress(nil, s.payloads[j], len(s.msgs[j])); err != nil {
						t.Fatalf("message %d: %v", j, err)
					}
				}
				return d
			}
			if s.matches {
				// Without the earlier messages the second one does not
				// inflate: context takeover is exercised.
				if _, err := NewDecompressor(params(15, false)).Decompress(nil, s.payloads[1], len(s.msgs[1])); err == nil {
					t.Fatal("message 1 inflates without history")
				}
			}
			for i, p := range s.payloads {
				if got, err := prepared(i).Decompress(nil, p, len(s.msgs[i])); err != nil || !bytes.Equal(got, s.msgs[i]) {
					t.Fatalf("message %d (% x): Decompress: %v, %d bytes", i, p[:min(len(p), 16)], err, len(got))
				}
				for cut := 0; cut <= len(p); cut++ {
					pieces := []int{cut, len(p) - cut}
					k := 0
					next := func() int { k++; return pieces[k-1] }
					got, err := feed(t, prepared(i), p, len(s.msgs[i]), feedMode{chunk: next, fresh: cut%2 == 0})
					if err != nil || !bytes.Equal(got, s.msgs[i]) {
						t.Fatalf("message %d split at %d: %v, %d bytes", i, cut, err, len(got))
					}
				}
				got, err := feed(t, prepared(i), p, len(s.msgs[i]), feedMode{chunk: func() int { return 1 }})
				if err != nil || !bytes.Equal(got, s.msgs[i]) {
					t.Fatalf("message %d byte at a time: %v", i, err)
				}
			}
		})
	}
}

// deflateClosed compresses msg with compress/flate at level, dict as its
// dictionary, and returns Close's output as it is.
func deflateClosed(t *testing.T, level int, msg, dict []byte) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriterDict(&buf, level, dict)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
