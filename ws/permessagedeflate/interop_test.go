package permessagedeflate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"

	"unievent.dev/internal/deflatetest"
)

// zlibVectors is testdata/zlib_vectors.json, written by
// testdata/zlib_vectors.py with Python's zlib.
type zlibVectors struct {
	ZlibVersion string   `json:"zlib_version"`
	Messages    [][]byte `json:"messages"`
	Refused     []struct {
		WBits int    `json:"wbits"`
		Error string `json:"error"`
	} `json:"refused"`
	Cases []struct {
		WBits    int      `json:"wbits"`
		Takeover bool     `json:"takeover"`
		Level    int      `json:"level"`
		MemLevel int      `json:"mem_level"`
		Strategy int      `json:"strategy"`
		Payloads [][]byte `json:"payloads"`
	} `json:"cases"`
}

// TestZlibVectors inflates what zlib compressed, at every window it
// compresses with and with and without context takeover, to the exact
// plaintext.
func TestZlibVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/zlib_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v zlibVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 20 || len(v.Messages) < 5 {
		t.Fatalf("only %d cases of %d messages: regenerate the vectors", len(v.Cases), len(v.Messages))
	}
	// zlib refuses a raw 256-byte window for compression; this package's
	// own tests cover 8 bits.
	for _, r := range v.Refused {
		t.Logf("zlib %s refused wbits -%d: %s", v.ZlibVersion, r.WBits, r.Error)
	}
	windows := map[int]bool{}
	for _, c := range v.Cases {
		windows[c.WBits] = true
		name := fmt.Sprintf("wbits=%d/takeover=%v/level=%d/memlevel=%d/strategy=%d", c.WBits, c.Takeover, c.Level, c.MemLevel, c.Strategy)
		t.Run(name, func(t *testing.T) {
			d := NewDecompressor(Params{ClientNoContextTakeover: !c.Takeover, ClientMaxWindowBits: c.WBits})
			var stream []byte
			for i, payload := range c.Payloads {
				want := v.Messages[i]
				got, err := d.Decompress(nil, payload, len(want))
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d: got %d bytes that differ from the %d expected", i, len(got), len(want))
				}
				var history []byte
				if c.Takeover {
					history = stream
				}
				got, maxDist, err := deflatetest.Inflate(append(bytes.Clone(payload), syncMarker...), history)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("message %d: independent inflater: %v", i, err)
				}
				if maxDist > 1<<c.WBits {
					t.Fatalf("message %d: zlib used distance %d in a %d-bit window", i, maxDist, c.WBits)
				}
				stream = append(stream, want...)
			}
		})
	}
	for bits := 9; bits <= 15; bits++ {
		if !windows[bits] {
			t.Errorf("no vectors for %d-bit windows", bits)
		}
	}
}

// TestZlibInflatesOurs checks the other direction: zlib, given the window
// this package was told to stay within, inflates what it compressed.
// zlib's inflater accepts an 8-bit window, so this covers all of 8..15.
// zlib checks distances only against the window it keeps between calls
// (within one call its output buffer serves as history), so this catches
// a reference into an earlier message beyond the window; TestRoundTrip
// checks every distance. It needs python3 and skips without it.
func TestZlibInflatesOurs(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	r := rand.New(rand.NewPCG(21, 22))
	msgs := [][]byte{[]byte("Hello"), []byte("Hello"), jsonLike(r, 5000), text(r, 40000), random(r, 3000), jsonLike(r, 300)}
	type job struct {
		WBits    int      `json:"wbits"`
		Takeover bool     `json:"takeover"`
		Payloads [][]byte `json:"payloads"`
		Messages [][]byte `json:"messages"`
	}
	var jobs []job
	for bits := 8; bits <= 15; bits++ {
		for _, takeover := range []bool{true, false} {
			for _, level := range []int{1, 9} {
				c := NewCompressor(&Config{Level: level}, Params{ServerMaxWindowBits: bits, ServerNoContextTakeover: !takeover})
				j := job{WBits: bits, Takeover: takeover, Messages: msgs}
				for _, m := range msgs {
					p, err := c.Compress(nil, m)
					if err != nil {
						t.Fatal(err)
					}
					j.Payloads = append(j.Payloads, p)
				}
				c.Release()
				jobs = append(jobs, j)
			}
		}
	}
	input, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	const script = `
import base64, json, sys, zlib
bad = 0
for j in json.load(sys.stdin):
    d = None
    for i, (p, m) in enumerate(zip(j["payloads"], j["messages"])):
        if d is None or not j["takeover"]:
            d = zlib.decompressobj(-j["wbits"])
        try:
            got = d.decompress(base64.b64decode(p) + b"\x00\x00\xff\xff")
        except zlib.error as e:
            got = repr(e).encode()
        if got != base64.b64decode(m):
            bad += 1
            print("wbits=%d takeover=%s message %d: zlib disagrees: %r" % (j["wbits"], j["takeover"], i, got[:60]))
print("zlib", zlib.ZLIB_VERSION, "disagreed on", bad, "messages")
sys.exit(1 if bad else 0)
`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zlib could not inflate our output: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
