package reliability

import (
	"runtime"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

// fragmenter yields the frames of one message: a first frame, then
// continuations; fin marks the last.
type fragmenter struct {
	op   byte
	sent int
}

var floodKey = [4]byte{1, 2, 3, 4}

func (f *fragmenter) next(dst, payload []byte, fin bool) []byte {
	op := byte(0)
	if f.sent == 0 {
		op = f.op
	}
	f.sent++
	return wstest.AppendFrameKey(dst, fin, 0, op, floodKey, payload)
}

// Item 6: a message sent as a million one-byte fragments, and messages
// that never end (no FIN): the fragment count, the message limit or the
// message timeout stops each, with a defined close code, at a bounded
// cost.
func TestFragmentFlood(t *testing.T) {
	cases := []struct {
		name     string
		cfg      func(*server.Config)
		frames   int // how many the client sends at most; the last has FIN
		payload  int
		gap      time.Duration // between batches of frames
		code     int
		reason   string
		maxAlloc int64
	}{
		{"a million one-byte fragments", nil, 1_000_000, 1, 0, 1009, "message has too many fragments", 1 << 20},
		{"no FIN, 16 KiB fragments", nil, 1 << 30, 16 << 10, 0, 1009, "message too big", 3 * int64(ws.DefaultConfig().MaxMessageSize)},
		{"no FIN, empty fragments", nil, 1 << 30, 0, 0, 1009, "message has too many fragments", 1 << 20},
		{"no FIN, a trickle under a message timeout", func(c *server.Config) { c.MessageTimeout = 300 * time.Millisecond },
			1 << 30, 1, 20 * time.Millisecond, 1008, "message took too long", 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := servertest.TakeBaseline()
			var cfg server.Config
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			h := start(t, cfg, echo)
			c := h.dial("/", nil)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			started := time.Now()
			sent := make(chan int, 1)
			go func() {
				f := fragmenter{op: 2}
				payload := make([]byte, tc.payload)
				perBatch := min(1000, max(1, (256<<10)/(14+tc.payload)))
				batch := make([]byte, 0, perBatch*(14+tc.payload))
				for f.sent < tc.frames {
					batch = batch[:0]
					for range perBatch {
						batch = f.next(batch, payload, f.sent == tc.frames-1)
						if f.sent == tc.frames {
							break
						}
					}
					if c.Write(batch) != nil {
						break // the server closed
					}
					time.Sleep(tc.gap) // the trickle is the case under test
				}
				sent <- f.sent
			}()
			code, reason, err := c.ExpectClose(wait + 5*time.Second)
			took := time.Since(started)
			if err != nil || code != tc.code || reason != tc.reason {
				t.Fatalf("close %d %q %v, want %d %q", code, reason, err, tc.code, tc.reason)
			}
			c.Close()
			frames := <-sent
			runtime.ReadMemStats(&after)
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("closed %d %q after %v; the client got %d frames out; %s allocated meanwhile", code, reason, took.Round(time.Millisecond), frames, kib(allocated))
			maxAlloc := tc.maxAlloc
			if raceEnabled {
				maxAlloc *= 4
			}
			if allocated > maxAlloc {
				t.Errorf("%s allocated, want at most %s", kib(allocated), kib(maxAlloc))
			}
			h.ev.waitDisconnections(t, 1, wait)
			h.stop()
			base.Check(t, 0, wait)
		})
	}
}
