package wstest

import (
	"bytes"
	"compress/flate"
)

// Deflater compresses a client's messages for permessage-deflate (RFC 7692
// section 7.2.1). Unlike Deflate, it keeps its compressor from one message
// to the next (client context takeover) unless NoContextTakeover is set,
// and it honours a client_max_window_bits below 15 the only way
// compress/flate can: with Huffman coding alone, which emits no
// back-reference at all.
type Deflater struct {
	// NoContextTakeover starts every message with a fresh compressor
	// (the client agreed to client_no_context_takeover).
	NoContextTakeover bool
	// WindowBits is the client_max_window_bits the server answered; 0
	// means 15.
	WindowBits int

	buf bytes.Buffer
	fw  *flate.Writer
}

// Deflate returns the compressed payload of one message, without the
// 00 00 ff ff tail of the sync flush.
func (d *Deflater) Deflate(p []byte) []byte {
	level := flate.BestSpeed
	if d.WindowBits != 0 && d.WindowBits < 15 {
		level = flate.HuffmanOnly
	}
	d.buf.Reset()
	switch {
	case d.fw == nil:
		d.fw, _ = flate.NewWriter(&d.buf, level)
	case d.NoContextTakeover:
		d.fw.Reset(&d.buf)
	}
	d.fw.Write(p)
	d.fw.Flush()
	out := bytes.Clone(d.buf.Bytes())
	return out[:len(out)-4]
}
