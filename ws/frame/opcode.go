package frame

import "strconv"

// Opcode is the 4-bit frame type of RFC 6455 section 5.2
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.2).
type Opcode uint8

// The opcodes defined by RFC 6455 section 5.2
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.2); 0x3-0x7 and 0xB-0xF
// are reserved and rejected by the Decoder.
const (
	OpContinuation Opcode = 0x0 // a further fragment of a data message (5.4)
	OpText         Opcode = 0x1 // first frame of a UTF-8 text message
	OpBinary       Opcode = 0x2 // first frame of a binary message
	OpClose        Opcode = 0x8 // close handshake (5.5.1)
	OpPing         Opcode = 0x9 // heartbeat request (5.5.2)
	OpPong         Opcode = 0xA // heartbeat answer (5.5.3)
)

// IsControl reports whether op is in the control range 0x8-0xF: RFC 6455
// section 5.5 (https://www.rfc-editor.org/rfc/rfc6455#section-5.5)
// identifies control frames by the high bit of the opcode.
func (op Opcode) IsControl() bool { return op >= 0x8 && op <= 0xF }

// IsData reports whether op is in the non-control range 0x0-0x7 of RFC 6455
// section 5.6 (https://www.rfc-editor.org/rfc/rfc6455#section-5.6);
// continuation frames count as data since they carry fragments of a data
// message.
func (op Opcode) IsData() bool { return op <= 0x7 }

// String returns the opcode's RFC 6455 name in lower case, or
// "opcode(N)" for a reserved or invalid value.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(" + strconv.Itoa(int(op)) + ")"
}

// isKnown reports whether op is one of the six opcodes RFC 6455 defines.
func (op Opcode) isKnown() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}
