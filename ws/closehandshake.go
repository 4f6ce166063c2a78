package ws

import (
	"errors"
	"time"
	"unicode/utf8"

	"unievent.dev/internal/bufpool"
	"unievent.dev/ws/frame"
)

// maxCloseReason is what fits in a close frame after the 2-byte code.
const maxCloseReason = maxControlPayloadBytes - 2

// closeState is where a connection is in the closing handshake, named as
// in RFC 6455 section 7 (https://www.rfc-editor.org/rfc/rfc6455#section-7).
type closeState uint8

const (
	// stateConnecting: the opening handshake is being decided (the
	// server's handshake callback runs): nothing can be sent yet.
	stateConnecting closeState = iota
	// stateOpen: the WebSocket connection is established (RFC 6455
	// section 4.1, https://www.rfc-editor.org/rfc/rfc6455#section-4.1): messages go
	// both ways.
	stateOpen
	// stateClosing: "the WebSocket Closing Handshake is Started"
	// (section 7.1.3, https://www.rfc-editor.org/rfc/rfc6455#section-7.1.3): our close
	// frame is queued, because we started the handshake (Close, a
	// timeout), answer the peer's close frame (section 5.5.1,
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1), or fail the connection
	// (section 7.1.7, https://www.rfc-editor.org/rfc/rfc6455#section-7.1.7). Nothing is
	// sent after it.
	stateClosing
	// stateClosed: "the WebSocket Connection is Closed" (section 7.1.4,
	// https://www.rfc-editor.org/rfc/rfc6455#section-7.1.4): the connection is over, its
	// send queue released.
	stateClosed
)

// closeHandshake owns the closing handshake: its state, the code and
// reason the close listeners get, and whether the peer's close frame
// arrived or we failed the connection. The transitions: establish
// (CONNECTING → OPEN, conn.go), startClose (OPEN → CLOSING, with the close
// timeout started in deadlines), sendQueue.release (→ CLOSED, from
// finish); fail and answer are the RFC's "Fail the WebSocket Connection"
// and the echo of section 5.5.1 (https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1).
//
// state, code and reason are guarded by the send queue's mu (sendQueue.mu):
// queuing the close frame and refusing the sends that may not follow it
// are decided under one lock. received and failed belong to the goroutine
// that reads the socket.
type closeHandshake struct {
	state closeState
	// received and failed share state's word (every connection holds a
	// closeHandshake); each byte is its own memory location.
	received bool      // the peer's close frame arrived: nothing more is read
	failed   bool      // we failed the connection: what the peer sends is discarded until EOF
	code     CloseCode // for the close listeners: ours, or the peer's when it started
	reason   string
}

// Close starts the closing handshake (RFC 6455 section 7.1.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.1.2): it queues a close
// frame with code and reason and returns. Messages that arrive afterwards are
// not delivered; the connection ends when the peer answers or after
// Config.CloseTimeout, and then the close listeners run. frame.CloseNoStatus sends a
// close frame without a code. Close is safe to call from any goroutine; after
// the first call it returns ErrClosed.
func (c *Conn) Close(code CloseCode, reason string) error {
	if code != frame.CloseNoStatus && !code.ValidOnWire() {
		return errInvalidCloseCode
	}
	if code == frame.CloseNoStatus && reason != "" {
		return errReasonWithout // a reason needs a code (RFC 6455 section 5.5.1, https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1)
	}
	if len(reason) > maxCloseReason {
		return errControlTooLong
	}
	if !utf8.ValidString(reason) {
		return errInvalidUTF8
	}
	if err := c.startClose(code, reason); err != nil {
		return err
	}
	// The close timeout started: the reading side must wake for it.
	c.driver().wake(c)
	return nil
}

// fail fails the connection (RFC 6455 section 7.1.7,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.1.7) with code: a close
// frame goes out, nothing more is read. Only the reading goroutine calls it.
func (c *Conn) fail(code CloseCode, reason string) {
	c.hs.failed = true
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
	}
	c.startClose(code, reason)
}

// failWith fails the connection for an error of the frame layer: the close
// code a *frame.Error carries, 1002 for any other.
func (c *Conn) failWith(err error) {
	var fe *frame.Error
	if errors.As(err, &fe) {
		c.fail(fe.Code, fe.Reason)
		return
	}
	c.fail(frame.CloseProtocolError, err.Error())
}

// answer echoes the peer's close frame (RFC 6455 section 5.5.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1) unless we sent one
// first; the close listeners then get the peer's code and reason. Only the
// reading goroutine calls it.
func (c *Conn) answer(code CloseCode, reason string) {
	c.hs.received = true
	if c.startClose(code, "") == nil {
		c.q.mu.Lock()
		c.hs.reason = reason
		c.q.mu.Unlock()
	}
}

// startClose moves the handshake from OPEN to CLOSING: it queues a close
// frame and starts the close timeout. It returns ErrClosed when the
// handshake is past OPEN, ErrNotEstablished before.
func (c *Conn) startClose(code CloseCode, reason string) error {
	q := &c.q
	q.mu.Lock()
	if err := q.refusalLocked(); err != nil {
		q.mu.Unlock()
		return err
	}
	c.hs.state = stateClosing
	c.hs.code, c.hs.reason = code, reason
	// The pong owed for the newest ping goes out before the close frame:
	// nothing may follow that.
	q.queuePongSlotLocked()
	var payload [maxControlPayloadBytes]byte
	p := frame.AppendClosePayload(payload[:0], code, reason)
	q.appendFrameLocked(frame.Header{Fin: true, Opcode: frame.OpClose}, p)
	// The close timeout bounds the writes still to come, and one blocked
	// now on a peer that reads nothing (maybe on the I/O goroutine, which
	// then cannot see the read deadline Close sets).
	c.d.startClose(c.s, monoNow())
	if q.writing {
		c.nc.SetWriteDeadline(c.d.writeBy(c.s).time())
	}
	start := q.startFlushLocked()
	q.mu.Unlock()
	q.startFlush(start)
	return nil
}

// closeSent reports whether our close frame is queued: messages arriving
// after it are not delivered.
func (c *Conn) closeSent() bool {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.hs.state >= stateClosing
}

// finish ends the connection once reading is over, and moves the handshake to
// CLOSED. After a close handshake (or a failure) it lets our close frame go
// out. When the handshake is complete (both close frames crossed) the peer
// sends nothing more, and the server closes the TCP connection first (RFC
// 6455 section 7.1.1, https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1):
// a server's connection closes the socket at once, with a FIN behind our close
// frame, and a client's waits for that FIN (until the close timeout) before it
// closes its own, so that the server, not the client, holds TIME_WAIT. After a
// failure the peer may still be sending: then it half-closes, runs the close
// listeners, and only then waits for the peer's FIN before closing the socket,
// so that data still arriving does not turn our close into a reset that could
// destroy the close frame in flight. The close listeners run before either
// wait.
func (c *Conn) finish() {
	hs := &c.hs
	by := c.d.endBy(c.s)
	code, reason := frame.CloseAbnormal, ""
	if hs.received || hs.failed {
		c.q.waitFlushed(by.time())
		c.q.mu.Lock()
		code, reason = hs.code, hs.reason
		c.q.mu.Unlock()
	}
	c.q.release()
	c.releaseReading()
	awaitServer := c.role == frame.RoleClient && hs.received && !c.aborted.Load()
	halfClosed := hs.failed && !hs.received && c.closeWrite()
	if !halfClosed && !awaitServer {
		c.nc.Close()
	}
	c.loop.Exec(func() {
		for _, l := range c.closeEv.snapshot() {
			c.call(func() { l.f(c, code, reason) })
		}
		if c.onClosed != nil {
			c.call(func() { c.onClosed(c, code) })
		}
	})
	// The connection is over for the loop; lingering is the socket's own
	// business and must not hold Run up.
	c.loop.unref()
	if halfClosed || awaitServer {
		c.linger(by.time())
		c.nc.Close()
	}
}

// closeWrite sends our FIN, reporting whether the socket could do that.
func (c *Conn) closeWrite() bool {
	type closeWriter interface{ CloseWrite() error }
	cw, ok := c.nc.(closeWriter)
	return ok && cw.CloseWrite() == nil
}

// linger reads until the peer's EOF or the deadline, discarding what
// comes.
func (c *Conn) linger(deadline time.Time) {
	if c.nc.SetReadDeadline(deadline) != nil {
		return
	}
	buf := bufpool.Get(4096)
	buf = buf[:cap(buf)]
	for {
		if _, err := c.nc.Read(buf); err != nil {
			break
		}
	}
	bufpool.Put(buf)
}
