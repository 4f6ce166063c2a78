package permessagedeflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
