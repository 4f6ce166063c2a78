package reliability

import (
	"bytes"
	"compress/flate"
	"io"
	"net/http"
	"runtime"
	"testing"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// Item 5: a compressed message that would inflate to 1 GiB closes the
// connection with 1009, and the heap's peak stays near the message limit
// (the limit applies to the inflated size, while inflating).
func TestDecompressionBomb(t *testing.T) {
	// Check the construction on a small one.
	if n, _ := io.Copy(io.Discard, flate.NewReader(bytes.NewReader(append(wstest.DeflateBomb(4), 0, 0, 0xff, 0xff)))); n != 4<<20 {
		t.Fatalf("the bomb inflates to %d bytes, want 4 MiB", n)
	}
	cases := []struct {
		name      string
		limit     int64
		inflated  int // MiB
		fragments int
		op        byte
	}{
		{"1 GiB, default limit", 0, 1024, 1, 2},
		{"1 GiB of text in 64 KiB fragments", 0, 1024, 0, 1},
		{"64 MiB, 256 KiB limit", 256 << 10, 64, 1, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := servertest.TakeBaseline()
			var cfg server.Config
			cfg.Deflate = &permessagedeflate.Config{}
			cfg.MaxMessageSize = int(tc.limit)
			limit := tc.limit
			if limit == 0 {
				limit = int64(ws.DefaultConfig().MaxMessageSize)
			}
			h := start(t, cfg, echo)
			c := h.dial("/", http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate"}})
			bomb := wstest.DeflateBomb(tc.inflated)
			var wire []byte
			if tc.fragments == 1 {
				wire = wstest.AppendFrame(nil, true, 4, tc.op, bomb)
			} else {
				for off, op := 0, tc.op; off < len(bomb); off, op = off+64<<10, 0 {
					end := min(off+64<<10, len(bomb))
					rsv := byte(0)
					if off == 0 {
						rsv = 4
					}
					wire = wstest.AppendFrame(wire, end == len(bomb), rsv, op, bomb[off:end])
				}
			}
			mem0 := goMemory()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := samplePeak()
			go c.Write(wire)
			code, reason, err := c.ExpectClose(wait)
			peakMem := peak.Peak() - mem0
			runtime.ReadMemStats(&after)
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			if err != nil || code != 1009 {
				t.Fatalf("close %d %q %v, want 1009", code, reason, err)
			}
			t.Logf("%s compressed, %d MiB inflated, limit %s: close %d %q; %s allocated meanwhile (%.1f times the limit), heap peak %s over the baseline",
				kib(int64(len(bomb))), tc.inflated, kib(limit), code, reason, mib(allocated), float64(allocated)/float64(limit), mib(peakMem))
			// Everything allocated while the bomb went off, garbage
			// included, bounds the peak: the inflated output, in a
			// buffer that grows up to the limit, and the compressed
			// bytes (under the limit themselves) in read buffers.
			if bound := limit + 4*int64(len(bomb)) + 1<<20; allocated > bound {
				t.Errorf("%s allocated, want at most %s", mib(allocated), mib(bound))
			}
			c.Close()
			h.stop()
			base.Check(t, 0, wait)
		})
	}
}
