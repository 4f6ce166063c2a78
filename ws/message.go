package ws

import "unievent.dev/ws/frame"

// Opcode is a frame's opcode (RFC 6455 section 5.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.2).
type Opcode = frame.Opcode

// The opcodes a Message can carry.
const (
	OpText   = frame.OpText
	OpBinary = frame.OpBinary
	OpClose  = frame.OpClose
	OpPing   = frame.OpPing
	OpPong   = frame.OpPong
)

// CloseCode is a close status code (RFC 6455 section 7.4,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4).
type CloseCode = frame.CloseCode

// Close codes by their IANA names (RFC 6455 section 7.4.1 and the IANA
// "WebSocket Close Code Number Registry"). 1005, 1006 and 1015 are never
// sent on the wire: they report what happened to a connection.
const (
	CloseNormal             = frame.CloseNormal
	CloseAway               = frame.CloseAway
	CloseProtocolError      = frame.CloseProtocolError
	CloseUnsupportedData    = frame.CloseUnsupportedData
	CloseNoStatus           = frame.CloseNoStatus
	CloseAbnormal           = frame.CloseAbnormal
	CloseInvalidPayload     = frame.CloseInvalidPayload
	ClosePolicyViolation    = frame.ClosePolicyViolation
	CloseMessageTooBig      = frame.CloseMessageTooBig
	CloseMandatoryExtension = frame.CloseMandatoryExtension
	CloseInternalError      = frame.CloseInternalError
	CloseServiceRestart     = frame.CloseServiceRestart
	CloseTryAgainLater      = frame.CloseTryAgainLater
	CloseBadGateway         = frame.CloseBadGateway
	CloseTLSHandshake       = frame.CloseTLSHandshake
)

// Message is what a listener receives: a whole data message (text or
// binary, reassembled and inflated), a ping or pong payload, or a close
// frame's code and reason.
//
// Payload is only valid until the listener returns: the connection reuses
// the memory for the next message. Copy it (bytes.Clone) to keep it.
type Message struct {
	Opcode      Opcode
	Payload     []byte
	CloseCode   CloseCode // OpClose only; CloseNoStatus when the frame had no code
	CloseReason string    // OpClose only
}

// IsText reports whether m is a text message.
func (m *Message) IsText() bool { return m.Opcode == OpText }

// IsBinary reports whether m is a binary message.
func (m *Message) IsBinary() bool { return m.Opcode == OpBinary }
