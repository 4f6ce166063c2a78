package ws

import (
	"errors"

	"unievent.dev/internal/bufpool"
	"unievent.dev/internal/utf8stream"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

// assembler owns the reassembly of data frames into messages (RFC 6455 section
// 5.4, https://www.rfc-editor.org/rfc/rfc6455#section-5.4): the message in
// progress, its size and fragment count against the limits, its UTF-8
// validation (section 8.1, https://www.rfc-editor.org/rfc/rfc6455#section-8.1: fail as soon as the
// invalid byte arrives), and
// inflating it (RFC 7692 section 6.2,
// https://www.rfc-editor.org/rfc/rfc7692#section-6.2). Only the goroutine that
// reads the socket uses it, through Conn.data.
type assembler struct {
	inMessage  bool
	op         Opcode
	compressed bool
	inflating  bool // a compressed message is being inflated piece by piece
	utf8       utf8stream.Validator
	// lent says that buf is the read buffer a message arrived whole in,
	// lent by process while the message's listeners run (SendMessage may
	// take it); it is not the assembler's to give back.
	lent   bool
	size   int64
	frames int
	buf    []byte
	decomp *permessagedeflate.Decompressor
}

// release gives the assembler's buffers back when the connection ends.
func (a *assembler) release() {
	if a.buf != nil {
		bufpool.Put(a.buf)
		a.buf = nil
	}
	if a.decomp != nil {
		a.decomp.Release()
		a.decomp = nil
	}
}

// data adds a piece of a data frame to the message in progress: sizes are
// checked from each header before its payload is read, text is validated
// as it arrives, and a message that arrived whole in one read is delivered
// in place, without a copy. lend, when not nil, is the read buffer the
// piece ends (process), which a message whole in it may pass on.
func (c *Conn) data(ch *frame.Chunk, lend []byte) {
	a := &c.a
	h := &ch.Header
	if ch.Start {
		if h.Opcode != frame.OpContinuation {
			a.inMessage = true
			a.op = h.Opcode
			a.compressed = h.Rsv1
			a.size = 0
			a.frames = 0
			a.utf8.Reset()
			a.buf = a.buf[:0]
			a.inflating = false
			c.d.beginMessage(c.s)
		}
		a.frames++
		if a.frames > c.s.maxFragments {
			c.fail(frame.CloseMessageTooBig, "message has too many fragments")
			return
		}
		if a.size+h.Length > c.s.maxMessage {
			c.fail(frame.CloseMessageTooBig, "message too big")
			return
		}
	}
	p := ch.Payload
	a.size += int64(len(p))
	if a.op == OpText && !a.compressed && !a.utf8.Write(p) {
		c.fail(frame.CloseInvalidPayload, "invalid UTF-8 in text message")
		return
	}
	last := ch.End && h.Fin
	whole := ch.Start && last && len(a.buf) == 0 && !a.inflating
	if a.compressed {
		c.inflate(p, whole, last)
		return
	}
	if whole {
		if a.buf != nil {
			bufpool.Put(a.buf)
			a.buf = nil
		}
		c.complete(p, lend) // the whole message is in this read: no copy
		return
	}
	if len(p) > 0 {
		if a.buf == nil {
			// Not the length the header announces: a peer that sends a
			// header for a 4 MiB frame and one byte would make us hold
			// 4 MiB. Grow doubles as the payload arrives instead.
			a.buf = bufpool.Get(int(min(h.Length, int64(max(c.s.readBuf, 2*len(p))))))
		}
		a.buf = bufpool.Grow(a.buf, len(p))
		a.buf = append(a.buf, p...)
	}
	if last {
		c.complete(a.buf, nil)
		bufpool.Put(a.buf)
		a.buf = nil
	}
}

// inflateSize is the buffer inflating n compressed bytes starts with: a
// pooled buffer of at least a read buffer's size (text often inflates ten
// times or more, and a buffer the decompressor grows is not pooled), but
// when the output may reach the limit, room for exactly the byte past it
// that tells a bomb (growing for it would cost a quarter of the limit
// more, the pool's next size class twice the limit).
func (c *Conn) inflateSize(n int) []byte {
	size := min(max(int64(n)*4+64, int64(c.s.readBuf)), c.s.maxMessage+1)
	if size > c.s.maxMessage {
		return make([]byte, 0, size)
	}
	return bufpool.Get(int(size))
}

// inflate is the one inflate path. A message whole in this piece is
// inflated at once (no window is kept within it); otherwise each piece is
// inflated into a.buf as it arrives, so that the inflated size is bounded
// while it grows and text is validated piece by piece: invalid text fails
// at once, as in an uncompressed message.
func (c *Conn) inflate(p []byte, whole, last bool) {
	a := &c.a
	limit := int(c.s.maxMessage)
	var out []byte
	var err error
	start := 0
	if whole {
		if a.buf != nil {
			bufpool.Put(a.buf)
			a.buf = nil
		}
		out, err = a.decomp.Decompress(c.inflateSize(len(p)), p, limit)
	} else {
		if !a.inflating {
			a.inflating = true
			a.decomp.Begin(limit)
			if a.buf == nil {
				a.buf = c.inflateSize(len(p))
			}
		}
		start = len(a.buf)
		out, err = a.decomp.Feed(a.buf, p)
		if err == nil && last {
			out, err = a.decomp.End(out)
		}
	}
	a.buf = out
	switch {
	case errors.Is(err, permessagedeflate.ErrMessageTooBig):
		c.fail(frame.CloseMessageTooBig, "message too big once inflated")
		return
	case err != nil:
		c.fail(frame.CloseInvalidPayload, "invalid compressed data")
		return
	case a.op == OpText && !a.utf8.Write(out[start:]):
		c.fail(frame.CloseInvalidPayload, "invalid UTF-8 in text message")
		return
	case !last:
		return
	}
	a.inflating = false
	c.complete(out, nil)
	bufpool.Put(a.buf)
	a.buf = nil
}

// complete ends the message in p: it completes UTF-8 validation and hands
// it to the message listeners, unless our close frame is queued (nothing
// more is delivered then). p is a.buf, which the caller gives back to the
// pool afterwards unless a listener's SendMessage took it (a.buf is nil
// then), or a view into the read buffer, lend when the message ends the
// read (see data): a listener's SendMessage may take that buffer too, and
// then the driver does not give it back (reader.given).
func (c *Conn) complete(p, lend []byte) {
	a := &c.a
	a.inMessage = false
	c.d.endMessage()
	if a.op == OpText && !a.utf8.Done() {
		c.fail(frame.CloseInvalidPayload, "text message ends inside a UTF-8 sequence")
		return
	}
	if c.closeSent() {
		return
	}
	c.messagesIn.Add(1)
	m := &c.r.w.msg
	*m = Message{Opcode: a.op, Payload: p}
	switch {
	case a.buf != nil:
		m.from = c // the assembler's own buffer
	case lend != nil:
		a.buf, a.lent = lend, true
		m.from = c
	}
	c.emit(&c.message)
	m.from = nil // the listeners have returned: nothing more is taken
	if a.lent {
		c.r.given = a.buf == nil
		a.buf, a.lent = nil, false
	}
}
