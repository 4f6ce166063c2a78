package permessagedeflate

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestMemoryPerConnection measures the heap a connection holds between
// messages, compressor and decompressor together, after one 1 KiB message
// each way. Pools are emptied by the collections around the measurement,
// so what remains is what the connections themselves keep. The figures are
// in the package documentation; the bounds are loose on purpose.
func TestMemoryPerConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few hundred megabytes")
	}
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	tests := []struct {
		bits     int
		takeover bool
		max      int64
	}{
		{15, true, 2 << 20},
		{15, false, 1 << 10},
		{9, true, 16 << 10},
		{9, false, 1 << 10},
	}
	msg := jsonLike(rand.New(rand.NewPCG(1, 1)), 1<<10)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("bits=%d/takeover=%v", tt.bits, tt.takeover), func(t *testing.T) {
			comp := heldPerConnection(t, tt.bits, tt.takeover, msg, true, false)
			decomp := heldPerConnection(t, tt.bits, tt.takeover, msg, false, true)
			held := heldPerConnection(t, tt.bits, tt.takeover, msg, true, true)
			t.Logf("window %d bits, context takeover %-5v: %8d bytes per connection (compressor %d, decompressor %d)",
				tt.bits, tt.takeover, held, comp, decomp)
			if held > tt.max {
				t.Errorf("%d bytes per connection, want at most %d", held, tt.max)
			}
		})
	}
}

type connState struct {
	c *Compressor
	d *Decompressor
}

func heldPerConnection(t *testing.T, bits int, takeover bool, msg []byte, compress, decompress bool) int64 {
	const n = 100
	p := Params{
		ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover,
		ServerMaxWindowBits: bits, ClientMaxWindowBits: bits,
	}
	// The client's payload: what a peer compressor with the same window
	// sends.
	peer := NewCompressor(nil, p)
	payload, err := peer.Compress(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]connState, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range conns {
		if compress {
			conns[i].c = NewCompressor(nil, p)
			if _, err := conns[i].c.Compress(nil, msg); err != nil {
				t.Fatal(err)
			}
		}
		if decompress {
			conns[i].d = NewDecompressor(p)
			if _, err := conns[i].d.Decompress(nil, payload, len(msg)); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	return (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
}
