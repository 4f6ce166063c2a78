package server

import (
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// The close for invalid UTF-8 comes as soon as the invalid byte arrives,
// while the rest of the frame (and message) is still outstanding
// (Autobahn 6.4.x).
func TestUTF8FailFastMidFrame(t *testing.T) {
	h := start(t, Config{}, echo)
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"inside one frame", wstest.AppendFrame(nil, true, 0, 1, append([]byte("κόσμε"), 0xf4, 0x90, 0x80, 0x80, 'a', 'b', 'c'))},
		{"in a first fragment", wstest.AppendFrame(nil, false, 0, 1, []byte{'o', 'k', 0xc0})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(nil)
			// Send the frame up to and including the invalid byte only.
			cut := len(tc.raw) - 3
			if tc.name == "in a first fragment" {
				cut = len(tc.raw)
			}
			if err := c.Write(tc.raw[:cut]); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			code, _, err := c.ExpectClose(2 * time.Second)
			if err != nil || code != 1007 {
				t.Fatalf("close %d %v after %v, want 1007 during the pause", code, err, time.Since(start))
			}
		})
	}
}
