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
	// FinalBlock ends every message the way a compressor without a sync
	// flush does (RFC 7692 section 7.2.3.4): compress/flate's Close, a
	// block with BFINAL set, sent as it is. With context takeover the next
	// message starts a new stream whose dictionary is what was sent
	// before, compressed at BestCompression for a 15-bit window (BestSpeed
	// does not use a dictionary).
	FinalBlock bool

	buf  bytes.Buffer
	fw   *flate.Writer
	sent []byte // the last 32 KiB of messages, with FinalBlock
}

// Deflate returns the compressed payload of one message, without the
// 00 00 ff ff tail of the sync flush.
func (d *Deflater) Deflate(p []byte) []byte {
	level := flate.BestSpeed
	if d.WindowBits != 0 && d.WindowBits < 15 {
		level = flate.HuffmanOnly
	}
	d.buf.Reset()
	if d.FinalBlock {
		if level == flate.BestSpeed {
			level = flate.BestCompression
		}
		return d.deflateFinal(p, level)
	}
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

func (d *Deflater) deflateFinal(p []byte, level int) []byte {
	if d.NoContextTakeover {
		d.sent = nil
	}
	fw, _ := flate.NewWriterDict(&d.buf, level, d.sent)
	fw.Write(p)
	fw.Close()
	d.sent = append(d.sent, p...)
	d.sent = d.sent[max(0, len(d.sent)-32<<10):]
	return bytes.Clone(d.buf.Bytes())
}
