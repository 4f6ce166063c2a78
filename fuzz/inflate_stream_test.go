package fuzz

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"

	"unievent.dev/internal/deflatetest"
	"unievent.dev/ws/permessagedeflate"
)

// streamTail is what a permessage-deflate payload is read with: the
// 00 00 ff ff of RFC 7692 section 7.2.2, then an empty final stored block
// that ends the stream exactly when the message ended between blocks.
var streamTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// flateInflate is the reference: compress/flate reading payload and
// streamTail as one stream, a final block inside it followed by a fresh
// reader at the next byte whose dictionary is the last window bytes of
// history and output, a final block that ends the payload ending the
// message (RFC 7692 section 7.2.3.4). tooBig reports output beyond limit.
func flateInflate(payload, history []byte, window, limit int) (out []byte, tooBig bool, err error) {
	src := bytes.NewReader(append(bytes.Clone(payload), streamTail...)) // a ByteReader: no read-ahead
	fr := flate.NewReaderDict(src, history[max(0, len(history)-window):])
	chunk := make([]byte, 4096)
	for {
		n, rerr := fr.Read(chunk)
		out = append(out, chunk[:n]...)
		if len(out) > limit {
			return nil, true, errors.New("too big")
		}
		switch {
		case rerr == nil:
			continue
		case rerr != io.EOF:
			return nil, false, rerr
		case src.Len() == 0, src.Len() == len(streamTail):
			return out, false, nil
		}
		all := append(bytes.Clone(history), out...)
		if err := fr.(flate.Resetter).Reset(src, all[max(0, len(all)-window):]); err != nil {
			return nil, false, err
		}
	}
}

// FuzzInflateStream feeds arbitrary payloads to the streaming inflater in
// fuzz-chosen pieces (each byte of cuts is the size of the next one, 0
// included; the rest goes in one piece), after a first message that gives
// context takeover a history. It never panics, never returns more than the
// limit, returns output only by appending, fails only with
// ErrMessageTooBig or ErrCorrupt and then returns dst unchanged. It agrees
// with Decompress on the same bytes, and with compress/flate on success,
// failure and output; the one allowed difference is a reference farther
// back than a window below 15 bits, which compress/flate does not check
// within a message and the inflater refuses.
func FuzzInflateStream(f *testing.F) {
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, []byte{1, 2, 0, 3}, false, uint8(7), uint16(100))
	f.Add([]byte{0xf2, 0x00, 0x11, 0x00, 0x00}, []byte{}, true, uint8(7), uint16(100))
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, []byte{7}, true, uint8(1), uint16(10))
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, []byte{2, 2, 2}, false, uint8(0), uint16(5))
	f.Add([]byte{0x00}, []byte{0}, true, uint8(3), uint16(0))
	for level := -2; level <= 9; level += 3 {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		w.Write(bytes.Repeat(inflateSeedMessage, 3))
		w.Write([]byte(`{"type":"bye","text":"see you, see you"}`))
		w.Flush()
		p := buf.Bytes()[:buf.Len()-4]
		f.Add(p, []byte{5, 1, 1, 9, 0, 30}, level%2 == 0, uint8(7), uint16(1000))
	}
	f.Fuzz(func(t *testing.T, payload, cuts []byte, takeover bool, bitsSel uint8, limitSel uint16) {
		bits := 8 + int(bitsSel%8)
		window := 1 << bits
		limit := int(limitSel)
		var history []byte
		prepared := func() *permessagedeflate.Decompressor {
			d, h := seededDecompressor(t, takeover, bits)
			history = h
			return d
		}

		// Streamed.
		d := prepared()
		defer d.Release()
		d.Begin(limit)
		out := []byte("keep")
		var err error
		rest := payload
		for i := 0; ; i++ {
			before := bytes.Clone(out)
			var got []byte
			end := len(rest) == 0
			if end {
				got, err = d.End(out)
			} else {
				n := len(rest)
				if i < len(cuts) {
					n = min(n, int(cuts[i]))
				}
				got, err = d.Feed(out, rest[:n])
				rest = rest[n:]
			}
			if !bytes.HasPrefix(got, before) {
				t.Fatalf("piece %d: output already returned changed", i)
			}
			if err != nil && len(got) != len(before) {
				t.Fatalf("piece %d: %d bytes returned with error %v", i, len(got)-len(before), err)
			}
			if len(got)-len("keep") > limit {
				t.Fatalf("%d bytes out, limit %d", len(got)-len("keep"), limit)
			}
			out = got
			if err != nil || end {
				break
			}
		}
		if err != nil && !errors.Is(err, permessagedeflate.ErrMessageTooBig) && !errors.Is(err, permessagedeflate.ErrCorrupt) {
			t.Fatalf("untyped error %v", err)
		}
		out = out[len("keep"):]

		// Whole.
		whole, werr := prepared().Decompress(nil, payload, limit)
		if (werr == nil) != (err == nil) || werr != nil && errors.Is(werr, permessagedeflate.ErrCorrupt) != errors.Is(err, permessagedeflate.ErrCorrupt) {
			t.Fatalf("streamed: %v; whole: %v", err, werr)
		}
		if err == nil && !bytes.Equal(out, whole) {
			t.Fatalf("streamed %q, whole %q", out, whole)
		}

		// compress/flate.
		want, _, ferr := flateInflate(payload, history, window, limit)
		switch {
		case ferr == nil && err == nil:
			if !bytes.Equal(out, want) {
				t.Fatalf("inflated %q, compress/flate %q", out, want)
			}
		case ferr == nil:
			if bits < 15 && errors.Is(err, permessagedeflate.ErrCorrupt) {
				_, maxDist, ierr := deflatetest.InflateMessage(payload, history)
				if ierr == nil && maxDist > window {
					return // beyond the agreed window
				}
			}
			t.Fatalf("failed with %v where compress/flate inflates %q", err, want)
		case err == nil:
			t.Fatalf("inflated %q where compress/flate fails: %v", out, ferr)
		}
	})
}
