package ws

import (
	"unsafe"

	"unievent.dev/ws/frame"
)

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
// the memory for the next message. Copy it (bytes.Clone) to keep it, or
// pass the message on with Conn.SendMessage, which takes the payload
// without a copy when it can. So is the *Message itself: the goroutine
// that reads reuses it for the next message it delivers, which may be
// another connection's; keep a copy of the Message, not the pointer.
type Message struct {
	Opcode    Opcode
	CloseCode CloseCode // frame.OpClose only; frame.CloseNoStatus when the frame had no code
	// taken says that SendMessage passed the payload to a send queue
	// (Payload is nil): sending it again is refused, not sent empty. A
	// byte of the padding after CloseCode.
	taken       bool
	Payload     []byte
	CloseReason string // frame.OpClose only

	// from is the connection whose message listeners are receiving this
	// data message (its reading goroutine's readScratch.msg) while they
	// run; nil otherwise (a control frame, a Message the application
	// made). The buffer behind Payload is then from's assembler's
	// (assembler.buf): its own pooled buffer (a message reassembled or
	// inflated), or the read buffer the message arrived whole in
	// (assembler.lent), which SendMessage may take. A copy of the Message
	// (another address) is never taken from.
	from *Conn
}

// IsText reports whether m is a text message.
func (m *Message) IsText() bool { return m.Opcode == OpText }

// IsBinary reports whether m is a binary message.
func (m *Message) IsBinary() bool { return m.Opcode == OpBinary }

// source returns the assembler whose buffer holds m.Payload when a send
// queue may take it: m is the message its connection's listeners are
// receiving (not a copy), and the assembler still has the buffer.
func (m *Message) source() *assembler {
	c := m.from
	if c == nil || c.r.w == nil || m != &c.r.w.msg || c.a.buf == nil {
		return nil
	}
	return &c.a
}

// detach ends m's claim on its payload, whose buffer a send queue now
// owns: the assembler no longer gives it back (nor the driver, for a read
// buffer), and m.Payload is nil.
func (m *Message) detach() {
	m.from.a.buf = nil
	m.from = nil
	m.Payload = nil
	m.taken = true
}

// offsetIn returns the offset of p in buf when p lies in buf and ends
// where buf does.
func offsetIn(buf, p []byte) (int, bool) {
	if len(p) == 0 || len(p) > len(buf) {
		return 0, false
	}
	off := len(buf) - len(p)
	return off, unsafe.SliceData(p) == &buf[off]
}
