package frame

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// frameData is one decoded frame: its header and its whole payload.
type frameData struct {
	Header  Header
	Payload []byte
}

// summarize makes cmp.Diff fast and readable on 64 KiB payloads: it
// compares byte slices by length and digest, spelling out only short ones.
var summarize = cmp.Transformer("summary", func(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d bytes, sha256 %x", len(b), sha256.Sum256(b))
})

// testPayload returns n bytes of deterministic, seed-dependent content.
func testPayload(seed, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*131 + seed*7 + i>>8)
	}
	return p
}

// decodeAll feeds stream to d in chunks of the sizes next returns and
// collects whole frames. It fails t when Decode breaks its contract: ok
// without progress, ok false without consuming everything, a frame without
// Start or a Start inside a frame, a header that changes between pieces, or
// a payload whose length disagrees with the header.
func decodeAll(t testing.TB, d *Decoder, stream []byte, next func() int) ([]frameData, error) {
	t.Helper()
	frames := []frameData{}
	inFrame := false
	for off := 0; off < len(stream); {
		size := min(max(next(), 1), len(stream)-off)
		p := stream[off : off+size]
		off += size
		for {
			n, f, ok, err := d.Decode(p)
			if err != nil {
				return frames, err
			}
			if n < 0 || n > len(p) {
				t.Fatalf("Decode consumed %d of %d bytes", n, len(p))
			}
			if !ok {
				if n != len(p) {
					t.Fatalf("Decode returned ok=false after consuming %d of %d bytes", n, len(p))
				}
				break
			}
			if n == 0 {
				t.Fatalf("Decode returned a chunk without consuming anything")
			}
			if len(f.Payload) > 0 && &f.Payload[len(f.Payload)-1] != &p[n-1] {
				t.Fatalf("payload does not alias the last consumed bytes of p")
			}
			switch {
			case f.Start && inFrame:
				t.Fatalf("Start inside frame %d", len(frames)-1)
			case f.Start:
				frames = append(frames, frameData{f.Header, []byte{}})
				inFrame = true
			case !inFrame:
				t.Fatalf("piece without Start after frame %d", len(frames)-1)
			case f.Header != frames[len(frames)-1].Header:
				t.Fatalf("header changed within frame %d: %+v then %+v", len(frames)-1, frames[len(frames)-1].Header, f.Header)
			}
			last := &frames[len(frames)-1]
			last.Payload = append(last.Payload, f.Payload...)
			if int64(len(last.Payload)) > last.Header.Length {
				t.Fatalf("frame %d: %d payload bytes, header says %d", len(frames)-1, len(last.Payload), last.Header.Length)
			}
			if f.End {
				if int64(len(last.Payload)) != last.Header.Length {
					t.Fatalf("frame %d ended after %d payload bytes, header says %d", len(frames)-1, len(last.Payload), last.Header.Length)
				}
				inFrame = false
			}
			p = p[n:]
		}
	}
	return frames, nil
}

// testStream returns a stream of valid frames as the given role receives
// them (masked for RoleServer, unmasked for RoleClient) and the frames a
// Decoder with AllowRSV1 must report: the three length forms at their
// boundaries, empty data and control frames, fragmented messages with
// control frames between fragments, an RSV1 message and 64 KiB frames.
func testStream(role Role) ([]byte, []frameData) {
	type spec struct {
		h Header
		n int
	}
	specs := []spec{
		{Header{Fin: true, Opcode: OpText}, 5},
		{Header{Fin: true, Opcode: OpBinary}, 0},
		{Header{Fin: true, Opcode: OpPing}, 0},
		{Header{Opcode: OpText}, 6},
		{Header{Fin: true, Opcode: OpPing}, 1},
		{Header{Opcode: OpContinuation}, 0},
		{Header{Fin: true, Opcode: OpPong}, 1},
		{Header{Fin: true, Opcode: OpContinuation}, 6},
		{Header{Fin: true, Opcode: OpBinary}, 125},
		{Header{Fin: true, Opcode: OpBinary}, 126},
		{Header{Fin: true, Opcode: OpBinary}, 127},
		{Header{Fin: true, Opcode: OpText}, 65535},
		{Header{Rsv1: true, Opcode: OpBinary}, 100},
		{Header{Fin: true, Opcode: OpContinuation}, 10},
		{Header{Opcode: OpBinary}, 65536},
		{Header{Fin: true, Opcode: OpPing}, 125},
		{Header{Opcode: OpContinuation}, 0},
		{Header{Fin: true, Opcode: OpContinuation}, 3},
		{Header{Fin: true, Rsv1: true, Opcode: OpText}, 1},
		{Header{Fin: true, Opcode: OpClose}, 5},
	}
	var wire []byte
	var want []frameData
	for i, s := range specs {
		h := s.h
		h.Masked = role == RoleServer
		if h.Masked {
			h.Key = [4]byte{byte(i*7 + 1), byte(i*13 + 2), byte(i*17 + 3), byte(i*19 + 4)}
		}
		payload := testPayload(i, s.n)
		wire = AppendFrame(wire, h, payload)
		h.Length = int64(s.n)
		want = append(want, frameData{h, payload})
	}
	return wire, want
}

// TestStreamChunking decodes one stream fed whole, one byte at a time and
// in random chunk sizes, for both roles, and expects the same frames.
func TestStreamChunking(t *testing.T) {
	for _, role := range []Role{RoleServer, RoleClient} {
		wire, want := testStream(role)
		feeds := map[string]func() func() int{
			"whole":    func() func() int { return func() int { return len(wire) } },
			"bytewise": func() func() int { return func() int { return 1 } },
		}
		for seed := range uint64(6) {
			// Chunk sizes up to 16, 300 and 100 000 bytes: inside
			// headers, around small frames and across large ones.
			limit := []int{16, 300, 100000}[seed%3]
			feeds[fmt.Sprintf("random%d", seed)] = func() func() int {
				r := rand.New(rand.NewPCG(seed, 0x5eed))
				return func() int { return 1 + r.IntN(limit) }
			}
		}
		for name, feed := range feeds {
			t.Run(fmt.Sprintf("%v/%s", role, name), func(t *testing.T) {
				d := Decoder{Role: role, AllowRSV1: true}
				got, err := decodeAll(t, &d, bytes.Clone(wire), feed())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, summarize); diff != "" {
					t.Errorf("frames (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// streamChecker compares decoded pieces against the expected frames as they
// arrive, without collecting them, so that a stream can be decoded once per
// split position cheaply.
type streamChecker struct {
	want    []frameData
	idx     int // frame being decoded
	off     int // payload bytes of want[idx] seen
	inFrame bool
}

func (c *streamChecker) feed(d *Decoder, p []byte) error {
	for {
		n, f, ok, err := d.Decode(p)
		if err != nil {
			return err
		}
		if !ok {
			if n != len(p) {
				return fmt.Errorf("ok=false after consuming %d of %d bytes", n, len(p))
			}
			return nil
		}
		if c.idx >= len(c.want) {
			return fmt.Errorf("extra frame %+v", f.Header)
		}
		w := &c.want[c.idx]
		if f.Start == c.inFrame || f.Header != w.Header {
			return fmt.Errorf("frame %d: piece Start=%v header %+v, want Start=%v header %+v", c.idx, f.Start, f.Header, !c.inFrame, w.Header)
		}
		c.inFrame = true
		if !bytes.Equal(f.Payload, w.Payload[c.off:min(c.off+len(f.Payload), len(w.Payload))]) {
			return fmt.Errorf("frame %d: payload differs at offset %d", c.idx, c.off)
		}
		c.off += len(f.Payload)
		if f.End != (c.off == len(w.Payload)) {
			return fmt.Errorf("frame %d: End=%v after %d of %d bytes", c.idx, f.End, c.off, len(w.Payload))
		}
		if f.End {
			c.idx++
			c.off = 0
			c.inFrame = false
		}
		p = p[n:]
	}
}

// TestStreamEverySplit splits the stream into two pieces at every position
// and expects the same frames each time. Each split decodes the whole
// stream again, so under the race detector, where that is some hundred
// times slower, only the positions within 20 bytes of a frame boundary and
// every 251st position are tried.
func TestStreamEverySplit(t *testing.T) {
	for _, role := range []Role{RoleServer, RoleClient} {
		t.Run(role.String(), func(t *testing.T) {
			wire, want := testStream(role)
			work := make([]byte, len(wire))
			d := Decoder{Role: role, AllowRSV1: true}
			near := nearBoundaries(want, 20)
			for split := 0; split <= len(wire); split++ {
				if raceEnabled && !near[split] && split%251 != 0 {
					continue
				}
				copy(work, wire) // Decode unmasks in place
				d.Reset()
				c := streamChecker{want: want}
				err := c.feed(&d, work[:split])
				if err == nil {
					err = c.feed(&d, work[split:])
				}
				if err == nil && c.idx != len(want) {
					err = fmt.Errorf("decoded %d frames, want %d", c.idx, len(want))
				}
				if err != nil {
					t.Fatalf("split at %d of %d: %v", split, len(wire), err)
				}
			}
		})
	}
}

// nearBoundaries marks the stream offsets within dist bytes of the start of
// a frame, of its payload, or of the stream's end.
func nearBoundaries(frames []frameData, dist int) map[int]bool {
	var marks []int
	off := 0
	for _, f := range frames {
		marks = append(marks, off, off+HeaderLen(f.Header.Length, f.Header.Masked))
		off += HeaderLen(f.Header.Length, f.Header.Masked) + len(f.Payload)
	}
	marks = append(marks, off)
	near := map[int]bool{}
	for _, m := range marks {
		for i := m - dist; i <= m+dist; i++ {
			near[i] = true
		}
	}
	return near
}
