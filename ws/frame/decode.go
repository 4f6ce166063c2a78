package frame

import (
	"encoding/binary"
	"math"

	"unievent.dev/internal/mask"
)

// Role says which end of the connection the Decoder serves, which decides
// the masking rule of RFC 6455 section 5.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.1).
type Role uint8

const (
	// RoleServer decodes frames sent by a client: every frame must be
	// masked. It is the zero value.
	RoleServer Role = iota
	// RoleClient decodes frames sent by a server: no frame may be masked.
	RoleClient
)

// String returns "server" or "client".
func (r Role) String() string {
	if r == RoleClient {
		return "client"
	}
	return "server"
}

// Chunk is one piece of one frame, as returned by Decoder.Decode.
type Chunk struct {
	// Header is the whole header of the frame the piece belongs to.
	Header Header
	// Payload is the next part of the frame's payload, already unmasked.
	// It aliases the slice passed to Decode and may be empty.
	Payload []byte
	// Start is set on the frame's first piece, End on its last; a frame
	// with no payload is one piece with both set.
	Start, End bool
}

// Decoder splits a byte stream into frames, validates each header against
// RFC 6455 section 5 (https://www.rfc-editor.org/rfc/rfc6455#section-5) and
// unmasks payloads in place. It holds no buffer: the only thing it keeps
// between calls is a partial header, in a fixed array. Set the exported
// fields before the first Decode; a zero Decoder is a server with no frame
// size limit and no extension.
type Decoder struct {
	// Role selects the masking rule: RoleServer requires masked frames,
	// RoleClient forbids them (RFC 6455 section 5.1,
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.1).
	Role Role
	// AllowRSV1 accepts RSV1 on the first frame of a data message, the
	// meaning permessage-deflate (RFC 7692) gives it once negotiated.
	AllowRSV1 bool

	// The small fields share words with Role and AllowRSV1: every
	// connection holds a Decoder.
	inPayload  bool               // cur is complete and its End piece not yet returned
	fragmented bool               // a data message's non-final frame was seen (5.4)
	hdrLen     uint8              // bytes of hdr filled
	hdr        [MaxHeaderLen]byte // partial header carried across calls

	// MaxFrameSize is the largest payload, in bytes, accepted in one frame;
	// a longer frame fails with CloseMessageTooBig before any payload is
	// read. Zero or negative means no limit beyond the RFC's 2^63-1.
	MaxFrameSize int64

	cur       Header // header of the frame whose payload is being read
	remaining int64  // payload bytes of cur still to come
	maskPos   int    // key offset of the next payload byte
	err       *Error // sticky: the first failure
}

// Decode consumes a prefix of p and reports at most one piece of one frame.
//
// n is the number of bytes of p consumed; pass p[n:] to the next call. When
// ok is false, all of p was consumed (at most a partial header is kept
// inside the decoder) and nothing is ready: read more bytes. When ok is
// true, f is the next piece of the current frame: f.Start is set on the
// first piece, which is reported as soon as the header is complete, even
// with no payload byte yet, so the caller can act on the header before any
// payload; f.End is set on the last piece. f.Payload is unmasked in place
// inside p.
//
// Every header is validated before any payload byte is touched. A violation
// of RFC 6455 section 5 (https://www.rfc-editor.org/rfc/rfc6455#section-5)
// returns an *Error with CloseProtocolError, including a payload length not
// encoded in the minimal number of bytes, which section 5.2
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.2) forbids ("the minimal
// number of bytes MUST be used"); a frame longer than MaxFrameSize returns
// CloseMessageTooBig. After an error, n is 0, f is zero, and every later
// call returns the same error until Reset.
func (d *Decoder) Decode(p []byte) (n int, f Chunk, ok bool, err error) {
	if d.err != nil {
		return 0, Chunk{}, false, d.err
	}
	start := false
	if !d.inPayload {
		var e *Error
		n, ok, e = d.readHeader(p)
		if e != nil {
			d.err = e
			return 0, Chunk{}, false, e
		}
		if !ok {
			return n, Chunk{}, false, nil
		}
		start = true
	} else if len(p) == 0 {
		return 0, Chunk{}, false, nil
	}

	k := len(p) - n
	if int64(k) > d.remaining {
		k = int(d.remaining)
	}
	payload := p[n : n+k : n+k]
	if d.cur.Masked {
		d.maskPos = mask.XOR(payload, d.cur.Key, d.maskPos)
	}
	d.remaining -= int64(k)
	end := d.remaining == 0
	if end {
		d.inPayload = false
	}
	return n + k, Chunk{Header: d.cur, Payload: payload, Start: start, End: end}, true, nil
}

// Reset returns the decoder to the start of a stream, clearing any error
// and any partial frame; the exported settings are kept.
func (d *Decoder) Reset() {
	*d = Decoder{Role: d.Role, MaxFrameSize: d.MaxFrameSize, AllowRSV1: d.AllowRSV1}
}

// readHeader consumes header bytes from p. When the header is complete it
// validates it, makes it current and reports ok with the number of bytes
// consumed; otherwise it keeps the partial header and consumes all of p.
// The checks on the first two bytes run as soon as those bytes are present,
// however the stream is split, so a stream fails at the same frame whether
// it arrives whole or a byte at a time.
func (d *Decoder) readHeader(p []byte) (n int, ok bool, err *Error) {
	if d.hdrLen == 0 && len(p) >= 2 {
		// Fast path: the header starts at p[0]; when it is all there it
		// is parsed in place without touching d.hdr.
		if err := d.checkFirst(p[0], p[1]); err != nil {
			return 0, false, err
		}
		if need := wireHeaderLen(p[1]); len(p) >= need {
			if err := d.accept(p[:need]); err != nil {
				return 0, false, err
			}
			return need, true, nil
		}
	}
	for d.hdrLen < 2 {
		if n == len(p) {
			return n, false, nil
		}
		d.hdr[d.hdrLen] = p[n]
		d.hdrLen++
		n++
	}
	// checkFirst has no side effects, so running it again on every call
	// that extends a partial header costs nothing but a few compares.
	if err := d.checkFirst(d.hdr[0], d.hdr[1]); err != nil {
		return 0, false, err
	}
	need := wireHeaderLen(d.hdr[1])
	c := copy(d.hdr[d.hdrLen:need], p[n:])
	d.hdrLen += uint8(c) // at most MaxHeaderLen
	n += c
	if int(d.hdrLen) < need {
		return n, false, nil
	}
	d.hdrLen = 0
	if err := d.accept(d.hdr[:need]); err != nil {
		return 0, false, err
	}
	return n, true, nil
}

// wireHeaderLen returns the header size announced by the second header
// byte: its mask bit and 7-bit length escape.
func wireHeaderLen(b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case len16:
		n += 2
	case len64:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// checkFirst validates what the first two header bytes alone decide, so
// that a bad frame fails before its extended length even arrives.
func (d *Decoder) checkFirst(b0, b1 byte) *Error {
	op := Opcode(b0 & 0xF)
	rsv1, rsv2, rsv3 := b0&0x40 != 0, b0&0x20 != 0, b0&0x10 != 0
	fin := b0&0x80 != 0
	// Section 5.2 (https://www.rfc-editor.org/rfc/rfc6455#section-5.2): a
	// reserved opcode, or a reserved bit no negotiated extension gives a
	// meaning to, fails the connection.
	if !op.isKnown() {
		return errReservedOpcode
	}
	if rsv2 {
		return errRSV2
	}
	if rsv3 {
		return errRSV3
	}
	if rsv1 {
		// RFC 7692 section 6
		// (https://www.rfc-editor.org/rfc/rfc7692#section-6):
		// permessage-deflate sets RSV1 on the first frame of a compressed
		// message only, never on continuation or control frames.
		switch {
		case !d.AllowRSV1:
			return errRSV1
		case op.IsControl():
			return errRSV1Control
		case op == OpContinuation:
			return errRSV1Cont
		}
	}
	if op.IsControl() {
		// Section 5.5 (https://www.rfc-editor.org/rfc/rfc6455#section-5.5):
		// control frames are never fragmented and carry at most 125 bytes,
		// so their length always fits the 7-bit form.
		if !fin {
			return errControlFin
		}
		if b1&0x7F > 125 {
			return errControlLength
		}
	}
	// Section 5.1 (https://www.rfc-editor.org/rfc/rfc6455#section-5.1): a
	// server fails a connection on an unmasked frame, a client on a masked
	// one.
	masked := b1&0x80 != 0
	if d.Role == RoleClient {
		if masked {
			return errMasked
		}
	} else if !masked {
		return errUnmasked
	}
	// Section 5.4 (https://www.rfc-editor.org/rfc/rfc6455#section-5.4):
	// continuation frames only continue a message, and the fragments of one
	// message are never interleaved with another's.
	switch op {
	case OpContinuation:
		if !d.fragmented {
			return errContinuation
		}
	case OpText, OpBinary:
		if d.fragmented {
			return errInterleaved
		}
	}
	return nil
}

// accept decodes the complete header hb, which checkFirst has passed,
// checks its length and makes it the current frame. It fills d.cur in
// place rather than copying a local Header in: a failure is sticky, so a
// half-written d.cur is never read.
func (d *Decoder) accept(hb []byte) *Error {
	b0, b1 := hb[0], hb[1]
	var length int64
	rest := hb[2:]
	switch l := b1 & 0x7F; l {
	case len16:
		v := binary.BigEndian.Uint16(rest)
		rest = rest[2:]
		// Section 5.2 (https://www.rfc-editor.org/rfc/rfc6455#section-5.2):
		// "the minimal number of bytes MUST be used to encode the length",
		// so 0-125 in the 16-bit form is an error.
		if v < len16 {
			return errNonMinimal
		}
		length = int64(v)
	case len64:
		v := binary.BigEndian.Uint64(rest)
		rest = rest[8:]
		// Section 5.2 (https://www.rfc-editor.org/rfc/rfc6455#section-5.2):
		// the most significant bit of the 64-bit length MUST be 0.
		if v > math.MaxInt64 {
			return errLengthMSB
		}
		if v <= 0xFFFF {
			return errNonMinimal
		}
		length = int64(v)
	default:
		length = int64(l)
	}
	if d.MaxFrameSize > 0 && length > d.MaxFrameSize {
		return errFrameTooBig
	}
	h := &d.cur
	h.Fin = b0&0x80 != 0
	h.Rsv1 = b0&0x40 != 0
	h.Rsv2 = b0&0x20 != 0
	h.Rsv3 = b0&0x10 != 0
	h.Opcode = Opcode(b0 & 0xF)
	h.Masked = b1&0x80 != 0
	h.Key = [4]byte{}
	if h.Masked {
		h.Key = [4]byte(rest[:4])
	}
	h.Length = length
	if h.Opcode.IsData() {
		d.fragmented = !h.Fin
	}
	d.remaining = length
	d.maskPos = 0
	d.inPayload = true
	return nil
}
