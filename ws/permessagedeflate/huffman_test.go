package permessagedeflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/internal/deflatetest"
)

// TestEveryLengthAndDistance writes a fixed-code block with every match
// length 3..258 and distances across every distance code, then checks the
// stream with the independent inflater and compress/flate.
func TestEveryLengthAndDistance(t *testing.T) {
	var plain []byte
	for i := range 40000 {
		plain = append(plain, byte(i*7+i/251))
	}
	w := bitWriter{}
	w.writeStored(plain)
	w.writeBits(headerFixed, 3)
	want := bytes.Clone(plain)
	emit := func(length, dist int) {
		w.writeMatch(length, dist)
		for range length {
			want = append(want, want[len(want)-dist])
		}
	}
	for length := 3; length <= 258; length++ {
		emit(length, 1+length%7)
	}
	for _, dist := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 24, 25, 32, 33, 48, 49,
		64, 65, 96, 97, 128, 129, 192, 193, 256, 257, 384, 385, 512, 513, 768, 769, 1024, 1025,
		1536, 1537, 2048, 2049, 3072, 3073, 4096, 4097, 6144, 6145, 8192, 8193, 12288, 12289,
		16384, 16385, 24576, 24577, 32767, 32768} {
		emit(258, dist)
		emit(3, dist)
	}
	for b := range 256 {
		w.writeLiteral(byte(b))
		want = append(want, byte(b))
	}
	w.endOfBlock()
	w.syncFlush()
	data := append(w.out, syncMarker...)

	got, maxDist, err := deflatetest.Inflate(data, nil)
	if err != nil {
		t.Fatalf("independent inflater: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("independent inflater: output differs")
	}
	if maxDist != 32768 {
		t.Errorf("maxDistance = %d, want 32768", maxDist)
	}
	got, err = io.ReadAll(flate.NewReader(bytes.NewReader(append(data, tail[4:]...))))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("compress/flate: %v", err)
	}
}

func TestStripTail(t *testing.T) {
	tests := []struct {
		name  string
		out   []byte
		start int
		want  []byte
	}{
		{"sync flush", []byte{0xf2, 0x48, 0x00, 0x00, 0xff, 0xff}, 0, []byte{0xf2, 0x48}},
		{"sync flush after dst", []byte{'d', 0x00, 0x00, 0x00, 0xff, 0xff}, 1, []byte{'d', 0x00}},
		{"marker only partly new", []byte{0x00, 0x00, 0xff, 0xff}, 1, []byte{0x00, 0x00, 0xff, 0xff, 0x00}},
		// Data that ends on a byte boundary without an empty stored block
		// gets one (7.2.1 step 2), of which only the header byte stays.
		{"no marker", []byte{0xf2, 0x48}, 0, []byte{0xf2, 0x48, 0x00}},
		{"nothing", nil, 0, []byte{0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stripTail(bytes.Clone(tt.out), tt.start)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCompressEndsWithEmptyStoredBlock: every payload ends inside the
// header of an empty stored block, whose 00 00 ff ff the receiver puts
// back (section 7.2.1): without them the data is cut short, with them it
// is complete. The empty message is the single 00 of section 7.2.3.6.
func TestCompressEndsWithEmptyStoredBlock(t *testing.T) {
	for bits := 8; bits <= 15; bits++ {
		for _, msg := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("ab"), 5000)} {
			c := NewCompressor(nil, Params{ServerMaxWindowBits: bits, ServerNoContextTakeover: true})
			payload, err := c.Compress(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg) == 0 && !bytes.Equal(payload, []byte{0x00}) {
				t.Errorf("bits=%d: empty message compressed to % x, want 00", bits, payload)
			}
			_, err = io.ReadAll(flate.NewReader(bytes.NewReader(payload)))
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("bits=%d, %d bytes: payload alone: %v, want a block cut short", bits, len(msg), err)
			}
			// A final stored block after 00 00 ff ff parses only if the
			// marker completed a block on a byte boundary.
			full := append(append(bytes.Clone(payload), syncMarker...), tail[4:]...)
			got, err := io.ReadAll(flate.NewReader(bytes.NewReader(full)))
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("bits=%d, %d bytes: with 00 00 ff ff: %v", bits, len(msg), err)
			}
		}
	}
}
