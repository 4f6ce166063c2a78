package ws

import (
	"errors"
	"os"
	"time"

	"unievent.dev/internal/bufpool"
	"unievent.dev/internal/utf8stream"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

// serve is the connection's I/O goroutine: it reads, decodes, reassembles
// and hands finished events to the loop, then flushes what the listeners
// queued, until the connection ends. On Linux a plain socket is handed to
// its loop's poller once its peer has been silent for a few milliseconds,
// and the goroutine ends: an idle connection then costs no goroutine at
// all (see poller_linux.go).
func (c *Conn) serve() {
	r := &c.r
	r.lastRead = monoNow()
	r.sock.init(c.nc, c.s.readBuf)
	if c.params != nil {
		r.decomp = permessagedeflate.NewDecompressor(*c.params)
	}
	// Frames the client sent behind its handshake are processed first;
	// the flush after them also writes the preamble (the 101).
	c.w.holdFlush()
	if r.x != nil && len(r.x.pending) > 0 {
		pending := r.x.pending
		r.x.pending = nil
		c.bytesIn.Add(uint64(len(pending)))
		c.process(pending)
	}
	c.w.releaseFlush()
	c.readLoop(r.sock.usable() && pollable)
}

// serveHot is the I/O goroutine of a connection the poller found busy: a
// goroutine of its own serves it while it stays busy (reads then run on
// every core, and a message costs no trip through the poller), and hands
// it back once it has been silent for handoffWait.
func (c *Conn) serveHot() {
	c.r.lastRead = monoNow()
	c.readLoop(true)
}

// quietReadSize bounds the buffer of a read that may wait for a silent peer
// on a connection that cannot wait for readability first (TLS, and
// platforms without sockReader): an idle connection holds this much, not a
// whole read buffer. A message up to this size still arrives whole.
const quietReadSize = 2 << 10

// readLoop reads and processes until the connection ends, or, with
// handoff, until the peer has been silent for handoffWait and the poller
// takes the socket. So a short-lived connection (connect, a message or
// two, a close, gone) never costs the poller's registration round trip,
// and a busy one keeps a goroutine only while it is busy.
func (c *Conn) readLoop(handoff bool) {
	r := &c.r
	r.handoff = handoff
	fresh := false // the last read brought data: the peer is not silent
	full := false  // the last read filled its buffer
	for !r.failed && !r.peerClosed {
		if r.handoff && !fresh && monoNow()-r.lastRead >= mono(handoffWait) {
			r.handoff = false
			if c.handOff() {
				return
			}
		}
		if err := c.setReadDeadline(); err != nil {
			break
		}
		var buf []byte
		var n int
		var err error
		if r.sock.usable() {
			buf, n, err = r.sock.read() // holds no buffer while the peer is silent
		} else {
			// This read holds its buffer while the peer is silent. After a
			// read that did not fill its buffer the peer may pause for
			// long, so a small one; a full read says more is waiting.
			size := c.s.readBuf
			if !full {
				size = min(size, quietReadSize)
			}
			buf = bufpool.Get(size)
			buf = buf[:cap(buf)]
			n, err = c.nc.Read(buf)
			full = n == len(buf)
		}
		fresh = n > 0
		if n > 0 {
			r.lastRead = monoNow()
			r.pingSent = false
			c.bytesIn.Add(uint64(n))
			c.w.holdFlush()
			c.process(buf[:n])
			c.w.releaseFlush()
		}
		if buf != nil {
			bufpool.Put(buf)
		}
		if err != nil {
			if c.timedOut(err) || c.graceRead(err) {
				continue
			}
			break
		}
	}
	c.finish()
}

// graceRead gives a connection whose close timeout has passed one last
// read of up to closeGrace: net.Conn fails a read whose deadline is past
// without trying it, so a server slower than the close timeout would not
// see the peer's close frame though it is already in the socket (and
// would report 1006 instead of the handshake). It reports whether to read
// again.
func (c *Conn) graceRead(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) || c.closeDeadline.Load() == 0 {
		return false
	}
	x := c.r.extra()
	if x.graceBy != 0 {
		return false // had it
	}
	x.graceBy = monoNow() + mono(closeGrace)
	return true
}

// setReadDeadline arms the socket's read deadline for the earliest of the
// timers that apply. It only touches the socket when the deadline moves
// earlier or more than a second later, so a busy connection rarely pays for
// it; an early wake-up just re-arms.
func (c *Conn) setReadDeadline() error {
	r := &c.r
	for {
		cd := c.closeDeadline.Load()
		d := c.nextDeadline(cd)
		x := r.extra()
		if d.Equal(x.deadline) || (!x.deadline.IsZero() && d.After(x.deadline) && d.Sub(x.deadline) < time.Second) {
			return nil
		}
		if err := c.nc.SetReadDeadline(d); err != nil {
			return err
		}
		x.deadline = d
		if c.closeDeadline.Load() == cd {
			return nil
		}
	}
}

func (c *Conn) nextDeadline(closeDeadline int64) time.Time {
	r := &c.r
	if closeDeadline != 0 {
		// We sent a close frame: only the close timeout is left. The
		// other deadlines may have passed (the idle timeout is what
		// closed it), and would wake every read at once.
		d := time.Unix(0, closeDeadline)
		if x := r.x; x != nil && x.graceBy != 0 && x.graceBy.time().After(d) {
			d = x.graceBy.time()
		}
		return d
	}
	// In monotonic nanoseconds, one conversion at the end: this runs
	// before every read.
	var d mono
	consider := func(t mono) {
		if d == 0 || t < d {
			d = t
		}
	}
	if r.pingSent {
		consider(r.pongDeadline)
	} else if c.s.ping > 0 {
		consider(r.lastRead + mono(c.s.ping))
	}
	if c.s.idle > 0 {
		consider(r.lastRead + mono(c.s.idle))
	}
	if r.inMessage && c.s.message > 0 {
		consider(r.started + mono(c.s.message))
	}
	if r.handoff {
		consider(r.lastRead + mono(handoffWait))
	}
	if d == 0 {
		return time.Time{}
	}
	return d.time()
}

// handOff gives the socket to the loop's poller, reporting whether it took
// it. The socket's read deadline, which the poller does not use (it would
// fail its reads once passed), is cleared first.
func (c *Conn) handOff() bool {
	if c.nc.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	if x := c.r.x; x != nil {
		x.deadline = time.Time{}
		// The goroutine's read deadline made it: unless it holds a
		// control frame in progress, the poller has no use for it.
		if x.pending == nil && x.ctrlLen == 0 {
			c.r.x = nil
		}
	}
	return c.loop.poll(c)
}

// timedOut handles a read that ended at the deadline: it reports whether
// the connection goes on (a ping was due, or an early wake-up) or not.
func (c *Conn) timedOut(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	c.r.extra().deadline = time.Time{} // the socket's deadline has passed: always re-arm
	return c.expired(time.Now())
}

// expired acts on the timers that are due at now: it reports whether the
// connection goes on (a ping was due, or an early wake-up) or not (the
// close timeout passed, or the pong did not come).
func (c *Conn) expired(now time.Time) bool {
	r := &c.r
	if cd := c.closeDeadline.Load(); cd != 0 {
		return now.UnixNano() < cd // closing: an early wake-up, or the close timeout
	}
	switch {
	case r.pingSent && !now.Before(r.pongDeadline.time()):
		return false // the peer is gone: drop it, 1006
	case c.s.idle > 0 && !now.Before(r.lastRead.add(c.s.idle)):
		c.Close(CloseAway, "idle timeout")
	case r.inMessage && c.s.message > 0 && !now.Before(r.started.add(c.s.message)):
		c.fail(ClosePolicyViolation, "message took too long")
	case !r.pingSent && c.s.ping > 0 && !now.Before(r.lastRead.add(c.s.ping)):
		r.pingSent = true
		r.pongDeadline = monoOf(now.Add(c.s.pong))
		if c.s.pong == 0 {
			r.pingSent = false
		}
		c.w.sendControl(frame.OpPing, nil)
	}
	return true
}

// process decodes p and acts on every frame piece in it.
func (c *Conn) process(p []byte) {
	r := &c.r
	for len(p) > 0 && !r.failed && !r.peerClosed {
		n, ch, ok, err := r.dec.Decode(p)
		p = p[n:]
		if err != nil {
			var fe *frame.Error
			if errors.As(err, &fe) {
				c.fail(fe.Code, fe.Reason)
			} else {
				c.fail(CloseProtocolError, err.Error())
			}
			return
		}
		if !ok {
			return
		}
		if ch.Header.Opcode.IsControl() {
			c.control(&ch)
		} else {
			c.data(&ch)
		}
	}
}

// control gathers a control frame's payload (at most 125 bytes, which the
// decoder guarantees) and acts on it once complete.
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
		c.w.sendPong(p)
		r.msg = Message{Opcode: OpPing, Payload: p}
		c.emit(&c.ping)
	case frame.OpPong:
		r.msg = Message{Opcode: OpPong, Payload: p}
		c.emit(&c.pong)
	case frame.OpClose:
		code, reason, err := frame.ParseClosePayload(p)
		if err != nil {
			var fe *frame.Error
			if errors.As(err, &fe) {
				c.fail(fe.Code, fe.Reason)
			} else {
				c.fail(CloseProtocolError, err.Error())
			}
			return
		}
		r.peerClosed = true
		r.peerCode = code
		c.w.peerClose(code, string(reason))
		r.msg = Message{Opcode: OpClose, CloseCode: code, CloseReason: string(reason)}
		c.emit(&c.peerClose)
	}
}

// data reassembles data frames into messages: sizes are checked from each
// header before its payload is read, text is validated as it arrives so
// that invalid UTF-8 fails the connection at once (RFC 6455 section 8.1),
// and a message that arrived whole in one read is delivered in place.
func (c *Conn) data(ch *frame.Chunk) {
	r := &c.r
	h := &ch.Header
	if ch.Start {
		if h.Opcode != frame.OpContinuation {
			r.inMessage = true
			r.op = h.Opcode
			r.compressed = h.Rsv1
			r.size = 0
			r.frames = 0
			r.utf8.Reset()
			r.buf = r.buf[:0]
			r.streaming = false
			if c.s.message > 0 {
				r.started = monoNow()
			}
		}
		r.frames++
		if r.frames > c.s.maxFragments {
			c.fail(CloseMessageTooBig, "message has too many fragments")
			return
		}
		if r.size+h.Length > c.s.maxMessage {
			c.fail(CloseMessageTooBig, "message too big")
			return
		}
	}
	p := ch.Payload
	r.size += int64(len(p))
	if r.op == OpText && !r.compressed && !r.utf8.Write(p) {
		c.fail(CloseInvalidPayload, "invalid UTF-8 in text message")
		return
	}
	last := ch.End && h.Fin
	if ch.Start && last && len(r.buf) == 0 && !r.streaming {
		if r.buf != nil {
			bufpool.Put(r.buf)
			r.buf = nil
		}
		c.deliver(p) // the whole message is in this read: no copy
		return
	}
	if r.compressed {
		c.inflatePiece(p, last)
		return
	}
	if len(p) > 0 {
		if r.buf == nil {
			// Not the length the header announces: a peer that sends a
			// header for a 4 MiB frame and one byte would make us hold
			// 4 MiB. Grow doubles as the payload arrives instead.
			r.buf = bufpool.Get(int(min(h.Length, int64(max(c.s.readBuf, 2*len(p))))))
		}
		r.buf = bufpool.Grow(r.buf, len(p))
		r.buf = append(r.buf, p...)
	}
	if last {
		c.deliver(r.buf)
		bufpool.Put(r.buf)
		r.buf = nil
	}
}

// deliver finishes a message (inflates it, completes UTF-8 validation) and
// hands it to the message listeners.
func (c *Conn) deliver(p []byte) {
	r := &c.r
	r.inMessage = false
	if r.compressed {
		// Decompress tells a bomb by the byte past the limit: when the
		// output may reach the limit, allocate room for that byte
		// exactly (growing for it would cost a quarter of the limit
		// more, the pool's next size class twice the limit). Otherwise
		// start from a pooled buffer of at least a read buffer's size:
		// text often inflates ten times or more, and a buffer the
		// decompressor grows is not pooled.
		size := min(max(int64(len(p))*4+64, int64(c.s.readBuf)), c.s.maxMessage+1)
		var dst []byte
		if size > c.s.maxMessage {
			dst = make([]byte, 0, size)
		} else {
			dst = bufpool.Get(int(size))
		}
		out, err := r.decomp.Decompress(dst, p, int(c.s.maxMessage))
		switch {
		case err != nil:
			c.inflateFailed(err)
		case r.op == OpText && !utf8stream.Valid(out):
			c.fail(CloseInvalidPayload, "invalid UTF-8 in text message")
		default:
			c.emitMessage(out) // listeners never panic out of emit
		}
		bufpool.Put(out)
		return
	} else if r.op == OpText && !r.utf8.Done() {
		c.fail(CloseInvalidPayload, "text message ends inside a UTF-8 sequence")
		return
	}
	c.emitMessage(p)
}

// emitMessage hands a complete, validated message to the listeners.
func (c *Conn) emitMessage(p []byte) {
	r := &c.r
	if c.w.closing() {
		return // we sent a close: nothing more is delivered
	}
	c.messagesIn.Add(1)
	r.msg = Message{Opcode: r.op, Payload: p}
	c.emit(&c.message)
}

// inflatePiece inflates the next piece of a compressed message that did
// not arrive in one read, into r.buf, as it arrives: the inflated size is
// bounded while it grows, and text is validated as UTF-8 piece by piece,
// so invalid text fails at once, as in an uncompressed message.
func (c *Conn) inflatePiece(p []byte, last bool) {
	r := &c.r
	if !r.streaming {
		r.streaming = true
		r.decomp.Begin(int(c.s.maxMessage))
		if r.buf == nil {
			r.buf = bufpool.Get(int(min(int64(len(p))*4+64, c.s.maxMessage, int64(c.s.readBuf)*4)))
		}
	}
	start := len(r.buf)
	out, err := r.decomp.Feed(r.buf, p)
	if err == nil && last {
		out, err = r.decomp.End(out)
	}
	r.buf = out
	if err != nil {
		c.inflateFailed(err)
		return
	}
	if r.op == OpText && !r.utf8.Write(out[start:]) {
		c.fail(CloseInvalidPayload, "invalid UTF-8 in text message")
		return
	}
	if !last {
		return
	}
	r.streaming = false
	r.inMessage = false
	if r.op == OpText && !r.utf8.Done() {
		c.fail(CloseInvalidPayload, "text message ends inside a UTF-8 sequence")
		return
	}
	c.emitMessage(r.buf)
	bufpool.Put(r.buf)
	r.buf = nil
}

// inflateFailed fails the connection for an error of the decompressor:
// 1009 past the message limit, 1007 for corrupt data.
func (c *Conn) inflateFailed(err error) {
	if errors.Is(err, permessagedeflate.ErrMessageTooBig) {
		c.fail(CloseMessageTooBig, "message too big once inflated")
		return
	}
	c.fail(CloseInvalidPayload, "invalid compressed data")
}
