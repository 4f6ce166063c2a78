package ws

import (
	"sync"

	"unievent.dev/internal/bufpool"
	"unievent.dev/ws/frame"
)

// reader is the state of the goroutine that reads the socket (the
// connection's I/O goroutine, or its poller): the frame decoder, the
// socket reader, and the scratch of the goroutine serving it. Nobody else
// touches it.
type reader struct {
	dec  frame.Decoder
	sock sockReader

	x *readerExtra // what few connections need, made when needed

	// w is the scratch of the goroutine serving the connection: its I/O
	// goroutine's own, or its poller's (poller.rd); nil while neither
	// reads (a connection its poller holds between reads points at the
	// poller's, which it shares with the poller's other connections).
	w *readScratch

	handoff bool // the I/O goroutine hands the socket to the poller once the peer is silent for handoffWait
	onLoop  bool // the poller is processing a read and holds the loop
	// given says that a send queue took the buffer of the read just
	// processed with the message at its end (SendMessage): the driver
	// does not give it back (releaseRead), the queue does once written.
	given bool
}

// readScratch is what the goroutine that reads a socket needs only while
// it reads and dispatches: the socket read in progress and the message
// being handed to the listeners, with the listener list emit runs. Every
// connection would pay for it in Conn; a goroutine reads one connection
// at a time, so it is the goroutine's instead: a poller has one for all
// the connections it watches (poller.rd), an I/O goroutine takes one from
// readScratchPool when it starts serving and gives it back when it hands
// the socket to the poller or the connection ends.
type readScratch struct {
	sock sockRead
	msg  Message
	// listen is the listener list emit runs (Event.list, which is never
	// modified once stored), nil between messages.
	listen *[]*Listener[func(*Conn, *Message)]
}

var readScratchPool = sync.Pool{New: func() any { return new(readScratch) }}

// takeScratch gives the I/O goroutine starting to serve c a scratch of
// its own.
func (c *Conn) takeScratch() {
	c.r.w = readScratchPool.Get().(*readScratch)
}

// release gives an I/O goroutine's scratch back once it no longer reads
// its connection; the message is cleared first, so that the pool keeps no
// payload alive.
func (w *readScratch) release() {
	w.msg, w.listen = Message{}, nil
	readScratchPool.Put(w)
}

// readerExtra holds the reader's state that most connections never need,
// kept out of Conn so that an idle connection costs less.
type readerExtra struct {
	pending []byte                       // frames that came with the handshake
	ctrl    [maxControlPayloadBytes]byte // a control frame split across reads
	ctrlLen int
}

func (r *reader) extra() *readerExtra {
	if r.x == nil {
		r.x = new(readerExtra)
	}
	return r.x
}

// isReading reports whether frames from the peer are still read: not once
// its close frame arrived or we failed the connection.
func (c *Conn) isReading() bool { return !c.hs.received && !c.hs.failed }

// process decodes p, bytes from the socket, and acts on every frame piece
// in it: data goes to the assembler, control frames are answered here.
//
// p is the read's buffer from its start, which the caller gives back with
// releaseRead: a data frame that ends the read may take it along to a
// send queue, as nothing after it is read from the buffer.
func (c *Conn) process(p []byte) {
	r := &c.r
	r.given = false
	in := p
	for len(p) > 0 && c.isReading() {
		n, ch, ok, err := r.dec.Decode(p)
		p = p[n:]
		if err != nil {
			c.failWith(err)
			return
		}
		if !ok {
			return
		}
		if ch.Header.Opcode.IsControl() {
			c.control(&ch)
			continue
		}
		var lend []byte
		if len(p) == 0 {
			lend = in
		}
		c.data(&ch, lend)
	}
}

// releaseRead gives back buf, the buffer of the read just processed,
// unless a send queue took it (reader.given).
func (c *Conn) releaseRead(buf []byte) {
	if c.r.given {
		c.r.given = false
		return
	}
	bufpool.Put(buf)
}

// control gathers a control frame's payload (at most 125 bytes, which the
// decoder guarantees) and acts on it once complete (RFC 6455 section 5.5,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.5).
func (c *Conn) control(ch *frame.Chunk) {
	r := &c.r
	p := ch.Payload
	if !ch.Start || !ch.End {
		// Split across reads: gather it (rare; the buffer is made the
		// first time).
		x := r.extra()
		if ch.Start {
			x.ctrlLen = 0
		}
		x.ctrlLen += copy(x.ctrl[x.ctrlLen:], ch.Payload)
		if !ch.End {
			return
		}
		p = x.ctrl[:x.ctrlLen]
		x.ctrlLen = 0 // gathered: nothing is left in progress
	}
	switch ch.Header.Opcode {
	case frame.OpPing:
		c.q.sendPong(p)
		r.w.msg = Message{Opcode: frame.OpPing, Payload: p}
		c.emit(&c.ping)
	case frame.OpPong:
		r.w.msg = Message{Opcode: frame.OpPong, Payload: p}
		c.emit(&c.pong)
	case frame.OpClose:
		code, reason, err := frame.ParseClosePayload(p)
		if err != nil {
			c.failWith(err)
			return
		}
		rs := string(reason)
		c.answer(code, rs)
		r.w.msg = Message{Opcode: frame.OpClose, CloseCode: code, CloseReason: rs}
		c.emit(&c.peerClose)
	}
}

// releaseReading gives the reading side's buffers back once the
// connection is over.
func (c *Conn) releaseReading() {
	c.a.release()
}
