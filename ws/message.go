package ws

import "unievent.dev/ws/frame"

// Opcode is a frame's opcode (RFC 6455 section 5.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.2).
type Opcode = frame.Opcode

// The opcodes of the data messages a Conn sends and its message listeners
// receive. Control frames (frame.OpClose, frame.OpPing, frame.OpPong)
// reach their own listeners (OnPeerClose, OnPing, OnPong).
const (
	OpText   = frame.OpText
	OpBinary = frame.OpBinary
)

// CloseCode is a close status code (RFC 6455 section 7.4,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4). The codes, by their
// IANA names, are package frame's Close... constants: frame.CloseNormal
// (1000) and frame.CloseAway (1001) for an application closing a
// connection, frame.CloseNoStatus (1005) and frame.CloseAbnormal (1006) as
// a close listener may receive them, and the rest of the registry.
type CloseCode = frame.CloseCode

// Message is what a listener receives: a whole data message (text or
// binary, reassembled and inflated), a ping or pong payload, or a close
// frame's code and reason.
//
// Payload is only valid until the listener returns: the connection reuses
// the memory for the next message. Copy it (bytes.Clone) to keep it.
type Message struct {
	Opcode      Opcode
	CloseCode   CloseCode // frame.OpClose only; frame.CloseNoStatus when the frame had no code
	Payload     []byte
	CloseReason string // frame.OpClose only
}

// IsText reports whether m is a text message.
func (m *Message) IsText() bool { return m.Opcode == OpText }

// IsBinary reports whether m is a binary message.
func (m *Message) IsBinary() bool { return m.Opcode == OpBinary }
