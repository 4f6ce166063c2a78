package fuzz

import (
	"bytes"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/ws/frame"
)

// decodedFrame is one frame as the decoder reported it, with the span of
// input bytes it came from.
type decodedFrame struct {
	Header     frame.Header
	Payload    []byte
	Start, End int  // input offsets of the frame's first and past-last byte
	Complete   bool // the End piece was reported
}

// decodeResult is everything a decoder reported for one input.
type decodeResult struct {
	Frames   []decodedFrame
	Consumed int
	ErrCode  frame.CloseCode
	ErrText  string
}

// decodeStream feeds data (a copy; Decode unmasks in place) to d in chunks
// of the sizes next returns, and checks the Decode contract on every call.
func decodeStream(t *testing.T, d *frame.Decoder, data []byte, next func() int) decodeResult {
	t.Helper()
	work := bytes.Clone(data)
	res := decodeResult{Frames: []decodedFrame{}}
	frameStart := 0 // where the frame after the last complete one begins
	inFrame := false
	pos := 0
	for pos < len(work) {
		p := work[pos : pos+min(next(), len(work)-pos)]
		for {
			n, f, ok, err := d.Decode(p)
			if err != nil {
				var fe *frame.Error
				if !errors.As(err, &fe) {
					t.Fatalf("error %v (%T) is not a *frame.Error", err, err)
				}
				if fe.Code != frame.CloseProtocolError && fe.Code != frame.CloseMessageTooBig {
					t.Fatalf("decoder failed with close code %d", fe.Code)
				}
				if n != 0 || ok {
					t.Fatalf("error with n=%d ok=%v", n, ok)
				}
				if n2, _, ok2, err2 := d.Decode(work[pos:]); err2 != err || n2 != 0 || ok2 {
					t.Fatalf("error is not sticky: second call gave (%d, %v, %v), first %v", n2, ok2, err2, err)
				}
				// Headers are validated before any payload byte is
				// unmasked: nothing from the bad frame on has changed.
				if !bytes.Equal(work[frameStart:], data[frameStart:]) {
					t.Fatalf("rejected frame at offset %d was modified", frameStart)
				}
				res.ErrCode, res.ErrText = fe.Code, fe.Reason
				res.Consumed = frameStart // the bad header may have begun in an earlier chunk
				return res
			}
			if n < 0 || n > len(p) {
				t.Fatalf("consumed %d of %d bytes", n, len(p))
			}
			pos += n
			if !ok {
				if n != len(p) {
					t.Fatalf("ok=false after consuming %d of %d bytes", n, len(p))
				}
				break
			}
			if n == 0 {
				t.Fatalf("a chunk without progress")
			}
			switch {
			case f.Start == inFrame:
				t.Fatalf("Start=%v with a frame in progress=%v", f.Start, inFrame)
			case f.Start:
				res.Frames = append(res.Frames, decodedFrame{Header: f.Header, Payload: []byte{}, Start: frameStart})
				inFrame = true
			case f.Header != res.Frames[len(res.Frames)-1].Header:
				t.Fatalf("header changed inside a frame")
			}
			last := &res.Frames[len(res.Frames)-1]
			last.Payload = append(last.Payload, f.Payload...)
			last.End = pos
			if f.End {
				if int64(len(last.Payload)) != last.Header.Length {
					t.Fatalf("frame ended with %d payload bytes, header says %d", len(last.Payload), last.Header.Length)
				}
				last.Complete = true
				inFrame = false
				frameStart = pos
			}
			p = p[n:]
		}
	}
	res.Consumed = pos
	return res
}

// chunker returns chunk sizes derived from the input itself, mixing single
// bytes, header-sized pieces and larger reads.
func chunker(data []byte) func() int {
	h := fnv.New64a()
	h.Write(data)
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(len(data))))
	return func() int {
		switch r.IntN(3) {
		case 0:
			return 1
		case 1:
			return 1 + r.IntN(16)
		}
		return 1 + r.IntN(512)
	}
}

// FuzzFrameDecoder feeds arbitrary bytes to a server-role and a client-role
// decoder, whole and in input-derived chunks. Decoding must not panic, the
// two feedings must agree exactly, and every frame accepted must re-encode
// with AppendFrame (same header, same key, payload masked again) to exactly
// the bytes it was decoded from, which holds because the decoder accepts
// only minimal length encodings.
func FuzzFrameDecoder(f *testing.F) {
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	masked := func(h frame.Header, p string) []byte {
		h.Masked, h.Key = true, key
		return frame.AppendFrame(nil, h, []byte(p))
	}
	plain := func(h frame.Header, p string) []byte { return frame.AppendFrame(nil, h, []byte(p)) }
	big := string(make([]byte, 300))
	for _, enc := range []func(frame.Header, string) []byte{masked, plain} {
		stream := bytes.Join([][]byte{
			enc(frame.Header{Fin: true, Opcode: frame.OpText}, "hello"),
			enc(frame.Header{Rsv1: true, Opcode: frame.OpBinary}, "frag"),
			enc(frame.Header{Fin: true, Opcode: frame.OpPing}, ""),
			enc(frame.Header{Fin: true, Opcode: frame.OpContinuation}, big),
			enc(frame.Header{Fin: true, Opcode: frame.OpClose}, string(frame.AppendClosePayload(nil, frame.CloseNormal, "bye"))),
		}, nil)
		f.Add(stream, true, uint16(0))
		f.Add(stream, false, uint16(200))
		f.Add(enc(frame.Header{Fin: true, Opcode: frame.OpBinary}, string(make([]byte, 70000)))[:20], false, uint16(0))
	}
	f.Add([]byte{0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0, 0}, false, uint16(0)) // non-minimal 16-bit length
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, false, uint16(0)) // 64-bit length, top bit set
	f.Add([]byte{0x89, 0xfe, 0x00, 0x80, 1, 2, 3, 4}, false, uint16(0))                // ping over 125 bytes
	f.Add([]byte{0x80, 0x80, 1, 2, 3, 4, 0x01, 0x00, 0x81, 0x00}, false, uint16(0))    // continuation first

	f.Fuzz(func(t *testing.T, data []byte, allowRSV1 bool, maxFrame uint16) {
		for _, role := range []frame.Role{frame.RoleServer, frame.RoleClient} {
			newDecoder := func() *frame.Decoder {
				return &frame.Decoder{Role: role, AllowRSV1: allowRSV1, MaxFrameSize: int64(maxFrame)}
			}
			whole := decodeStream(t, newDecoder(), data, func() int { return len(data) })
			chunked := decodeStream(t, newDecoder(), data, chunker(data))
			if diff := cmp.Diff(whole, chunked); diff != "" {
				t.Fatalf("%v: whole and chunked feeding disagree (-whole +chunked):\n%s", role, diff)
			}
			for i, fr := range whole.Frames {
				if !fr.Complete {
					continue
				}
				if fr.Header.Masked != (role == frame.RoleServer) {
					t.Fatalf("%v accepted frame %d with Masked=%v", role, i, fr.Header.Masked)
				}
				if maxFrame > 0 && fr.Header.Length > int64(maxFrame) {
					t.Fatalf("frame %d of %d bytes passed MaxFrameSize %d", i, fr.Header.Length, maxFrame)
				}
				re := frame.AppendFrame(nil, fr.Header, fr.Payload)
				if !bytes.Equal(re, data[fr.Start:fr.End]) {
					t.Fatalf("%v: frame %d re-encodes to %x, was decoded from %x", role, i, re, data[fr.Start:fr.End])
				}
			}
		}
	})
}
