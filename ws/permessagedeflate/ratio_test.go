package permessagedeflate

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCompressionRatio reports compressed size over original size of
// compress/flate level 1 (15 bits) and this package's encoder at level 1
// for smaller windows, each message compressed alone, and checks bounds
// that hold for any sane encoder: repetitive JSON and text shrink, random
// data grows by no more than the stored-block framing.
func TestCompressionRatio(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	inputs := []struct {
		name string
		data []byte
		max  float64 // ratio bound for every window
	}{
		{"1KiB JSON", jsonLike(r, 1<<10), 0.85},
		{"16KiB JSON", jsonLike(r, 16<<10), 0.75},
		{"16KiB text", text(r, 16<<10), 0.75},
		{"16KiB random", random(r, 16<<10), 1.01},
	}
	bitsList := []int{15, 14, 12, 10, 9, 8}
	header := "input        "
	for _, bits := range bitsList {
		header += fmt.Sprintf("  bits=%-2d", bits)
	}
	t.Log(header)
	for _, in := range inputs {
		line := fmt.Sprintf("%-13s", in.name)
		for _, bits := range bitsList {
			c := NewCompressor(nil, Params{ServerNoContextTakeover: true, ServerMaxWindowBits: bits})
			out, err := c.Compress(nil, in.data)
			if err != nil {
				t.Fatal(err)
			}
			ratio := float64(len(out)) / float64(len(in.data))
			line += fmt.Sprintf("  %7.3f", ratio)
			if ratio > in.max {
				t.Errorf("%s at %d bits: ratio %.3f above %.2f", in.name, bits, ratio, in.max)
			}
		}
		t.Log(line)
	}
}
