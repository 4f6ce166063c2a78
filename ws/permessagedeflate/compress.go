package permessagedeflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"sync"

	"unievent.dev/internal/deflate"
)

// errReleased reports use of a Compressor or Decompressor after Release.
var errReleased = errors.New("permessagedeflate: used after Release")

// Compressor compresses the messages a server sends on one connection
// (RFC 7692 section 7.2.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1). It is not safe for
// concurrent use.
//
// With a 15-bit window it drives compress/flate. Below 15 bits it uses this
// package's own window-limited encoder, because compress/flate always
// reaches back up to 32 KiB, which a client that asked for
// server_max_window_bits could not inflate. With context takeover the
// state lives as long as the connection (allocated at the first message);
// without, it is taken from a pool for each message.
type Compressor struct {
	level     int
	threshold int
	bits      int
	takeover  bool
	released  bool
	fw        *flateWriter     // bits == 15 with context takeover
	lz        *deflate.Encoder // bits < 15 with context takeover
}

// NewCompressor returns the compressor for a connection with the agreed
// parameters p; cfg supplies the level and threshold (nil means the zero
// Config, invalid fields their defaults).
func NewCompressor(cfg *Config, p Params) *Compressor {
	return &Compressor{
		level:     cfg.level(),
		threshold: cfg.threshold(),
		bits:      bitsOr15(p.ServerMaxWindowBits),
		takeover:  !p.ServerNoContextTakeover,
	}
}

// ShouldCompress reports whether a message of n bytes is worth compressing
// under the configured threshold. A message sent uncompressed (RSV1 clear)
// does not enter the compressor's window, on either side.
func (c *Compressor) ShouldCompress(n int) bool { return n >= c.threshold }

// Compress appends the compressed payload of one whole message to dst and
// returns the extended slice. The payload ends as section 7.2.1
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1) requires: the
// closing empty stored block's 00 00 ff ff left out. With context takeover,
// later messages may refer back to this one, so every payload Compress
// returns must be sent, in order.
func (c *Compressor) Compress(dst, msg []byte) ([]byte, error) {
	if c.released {
		return dst, errReleased
	}
	if c.bits == maxWindowBits {
		return c.compressFlate(dst, msg)
	}
	z := c.lz
	if z == nil {
		z = getEncoder(c.bits, c.level)
		if c.takeover {
			c.lz = z
		}
	}
	out := z.Encode(dst, msg)
	if !c.takeover {
		putEncoder(z)
	}
	return stripTail(out, len(dst)), nil
}

// Release returns the compressor's state to the pools. The Compressor must
// not be used afterwards; Compress then fails.
func (c *Compressor) Release() {
	if c.released {
		return
	}
	c.released = true
	if c.fw != nil {
		putFlateWriter(c.fw)
		c.fw = nil
	}
	if c.lz != nil {
		putEncoder(c.lz)
		c.lz = nil
	}
}

// encoderPools hold the encoders for windows below 15 bits (index bits-8),
// for connections without context takeover.
var encoderPools [maxWindowBits - minWindowBits]sync.Pool

func getEncoder(bits, level int) *deflate.Encoder {
	var z *deflate.Encoder
	if v := encoderPools[bits-minWindowBits].Get(); v != nil {
		z = v.(*deflate.Encoder)
		z.Reset()
	} else {
		z = deflate.NewEncoder(bits)
	}
	z.SetLevel(level)
	return z
}

func putEncoder(z *deflate.Encoder) { encoderPools[z.Bits()-minWindowBits].Put(z) }

// flateWriter is a compress/flate writer with the sink it appends to.
type flateWriter struct {
	w     *flate.Writer
	sink  appendSink
	level int
}

type appendSink struct{ b []byte }

func (s *appendSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// flatePools hold compress/flate writers per level (index level+2, so
// HuffmanOnly is 0). A writer costs about a megabyte, so a connection
// without context takeover must not keep one.
var flatePools [flate.BestCompression + 3]sync.Pool

func getFlateWriter(level int) *flateWriter {
	if v := flatePools[level+2].Get(); v != nil {
		fw := v.(*flateWriter)
		fw.w.Reset(&fw.sink)
		return fw
	}
	fw := &flateWriter{level: level}
	// The level was validated, so NewWriter cannot fail; fall back to
	// BestSpeed rather than trust that blindly.
	w, err := flate.NewWriter(&fw.sink, level)
	if err != nil {
		fw.level = flate.BestSpeed
		w, _ = flate.NewWriter(&fw.sink, flate.BestSpeed)
	}
	fw.w = w
	return fw
}

func putFlateWriter(fw *flateWriter) {
	fw.sink.b = nil
	flatePools[fw.level+2].Put(fw)
}

func (c *Compressor) compressFlate(dst, msg []byte) ([]byte, error) {
	fw := c.fw
	if fw == nil {
		fw = getFlateWriter(c.level)
		if c.takeover {
			c.fw = fw
		}
	}
	fw.sink.b = dst
	_, err := fw.w.Write(msg)
	if err == nil {
		// Flush is a sync flush: it ends with an empty stored block.
		err = fw.w.Flush()
	}
	out := fw.sink.b
	fw.sink.b = nil
	if !c.takeover {
		putFlateWriter(fw)
	}
	if err != nil {
		return dst, err
	}
	return stripTail(out, len(dst)), nil
}

// syncMarker is the end of an empty stored block that starts on a byte
// boundary after its 3 header bits: LEN 0000, NLEN ffff.
var syncMarker = []byte{0x00, 0x00, 0xff, 0xff}

// stripTail applies steps 2 and 3 of RFC 7692 section 7.2.1
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1) to the DEFLATE data
// out[start:], which a sync flush left on a byte boundary. Data that ends
// with the empty stored block loses its last four octets. Otherwise, which
// compress/flate does not do today but does not promise either (its output
// changed across releases before), an empty stored block is appended first:
// from a byte boundary that is 00 00 00 ff ff, of which the 00 stays.
func stripTail(out []byte, start int) []byte {
	if len(out)-start >= len(syncMarker) && bytes.HasSuffix(out, syncMarker) {
		return out[:len(out)-len(syncMarker)]
	}
	return append(out, 0x00)
}
