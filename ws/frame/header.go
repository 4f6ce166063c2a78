package frame

import (
	"encoding/binary"

	"unievent.dev/internal/mask"
)

// MaxHeaderLen is the longest frame header RFC 6455 section 5.2
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.2) allows: two fixed
// bytes, an 8-byte extended payload length and a 4-byte masking key.
const MaxHeaderLen = 14

// Header is one frame header (RFC 6455 section 5.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.2). Length is the payload
// length in bytes; Key is meaningful only when Masked is set.
type Header struct {
	Fin              bool
	Rsv1, Rsv2, Rsv3 bool
	Opcode           Opcode
	Masked           bool
	Key              [4]byte
	Length           int64
}

// The 7-bit length field's escape values (RFC 6455 section 5.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.2): 126 means a 16-bit
// length follows, 127 a 64-bit one.
const (
	len16 = 126
	len64 = 127
)

// HeaderLen returns the size of the header that encodes a payload of length
// bytes, using the minimal length form as RFC 6455 section 5.2
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.2) requires.
func HeaderLen(length int64, masked bool) int {
	n := 2
	switch l := uint64(length); {
	case l > 0xFFFF:
		n += 8
	case l >= len16:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

// PutHeader encodes h into b, which must hold at least
// HeaderLen(h.Length, h.Masked) bytes (MaxHeaderLen always suffices), and
// returns the number of bytes written. The length is written in its minimal
// form. PutHeader does not validate h: the Opcode's low four bits are used
// as they are, and a negative Length yields a 64-bit length with its top bit
// set, which every conforming decoder rejects.
func PutHeader(b []byte, h *Header) int {
	b0 := byte(h.Opcode & 0xF)
	if h.Fin {
		b0 |= 0x80
	}
	if h.Rsv1 {
		b0 |= 0x40
	}
	if h.Rsv2 {
		b0 |= 0x20
	}
	if h.Rsv3 {
		b0 |= 0x10
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	n := 2
	switch l := uint64(h.Length); {
	case l > 0xFFFF:
		_ = b[9]
		b[1] = b1 | len64
		binary.BigEndian.PutUint64(b[2:], l)
		n = 10
	case l >= len16:
		_ = b[3]
		b[1] = b1 | len16
		binary.BigEndian.PutUint16(b[2:], uint16(l))
		n = 4
	default:
		b[1] = b1 | byte(l)
	}
	b[0] = b0
	if h.Masked {
		n += copy(b[n:n+4], h.Key[:])
	}
	return n
}

// AppendHeader appends the encoding of h to dst, as PutHeader writes it.
func AppendHeader(dst []byte, h *Header) []byte {
	var buf [MaxHeaderLen]byte
	n := PutHeader(buf[:], h)
	return append(dst, buf[:n]...)
}

// AppendFrame appends one whole frame to dst: the header h with Length set
// to len(payload), then a copy of payload, masked with h.Key when h.Masked
// is set (RFC 6455 section 5.3,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.3). payload itself is not
// modified. Servers encode with Masked false, clients with Masked true and a
// fresh random Key per frame.
func AppendFrame(dst []byte, h Header, payload []byte) []byte {
	h.Length = int64(len(payload))
	dst = AppendHeader(dst, &h)
	start := len(dst)
	dst = append(dst, payload...)
	if h.Masked {
		mask.XOR(dst[start:], h.Key, 0)
	}
	return dst
}
