package ws

import (
	"log/slog"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"unievent.dev/internal/bufpool"
	"unievent.dev/ws/frame"
)

// maxCloseReason is what fits in a close frame after the 2-byte code.
const maxCloseReason = maxControlPayloadBytes - 2

// Close starts the closing handshake (RFC 6455 section 7.1.2): it queues a
// close frame with code and reason and returns. Messages that arrive
// afterwards are not delivered; the connection ends when the peer answers
// or after Config.CloseTimeout, and then the close listeners run.
// CloseNoStatus sends a close frame without a code. Close is safe to call
// from any goroutine; after the first call it returns ErrClosed.
func (c *Conn) Close(code CloseCode, reason string) error {
	if code != CloseNoStatus && !code.ValidOnWire() {
		return ErrInvalidCloseCode
	}
	if code == CloseNoStatus && reason != "" {
		return ErrInvalidCloseCode // a reason needs a code (RFC 6455 section 5.5.1)
	}
	if len(reason) > maxCloseReason {
		return ErrControlTooLong
	}
	if !utf8.ValidString(reason) {
		return ErrInvalidUTF8
	}
	if err := c.w.sendClose(code, reason, true); err != nil {
		return err
	}
	d := time.Now().Add(c.s.closeTimeout)
	if c.closeDeadline.CompareAndSwap(0, d.UnixNano()) {
		if c.p.watched.Load() {
			c.p.pl.touch(c) // the poller arms the close timeout
		} else {
			c.nc.SetReadDeadline(d) // wake the I/O goroutine for the timeout
		}
	}
	return nil
}

// fail fails the connection (RFC 6455 section 7.1.7) with code: a close
// frame goes out, nothing more is read. Only the I/O goroutine calls it.
func (c *Conn) fail(code CloseCode, reason string) {
	c.r.failed = true
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
	}
	c.w.sendClose(code, reason, true)
}

// sendClose queues a close frame unless one is queued already. initiated
// says the close starts the handshake (rather than answering the peer).
func (w *writer) sendClose(code CloseCode, reason string, initiated bool) error {
	w.mu.Lock()
	if w.closeSent || w.done {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closeSent = true
	w.closeCode, w.closeReason = code, reason
	w.initiated = initiated
	// The pong owed for the newest ping goes out before the close frame:
	// nothing may follow that.
	w.queuePongSlot()
	var payload [maxControlPayloadBytes]byte
	p := frame.AppendClosePayload(payload[:0], code, reason)
	w.appendFrame(frame.Header{Fin: true, Opcode: frame.OpClose}, p)
	// The close timeout bounds the writes still to come, and one blocked
	// now on a peer that reads nothing (maybe on the I/O goroutine, which
	// then cannot see the read deadline Close sets).
	w.closeBy = monoOf(time.Now().Add(w.c.s.closeTimeout))
	if w.writing {
		w.c.nc.SetWriteDeadline(w.closeBy.time())
	}
	w.kick()
	return nil
}

// peerClose answers the peer's close frame by echoing its code (RFC 6455
// section 5.5.1), unless we sent a close first.
func (w *writer) peerClose(code CloseCode, reason string) {
	if w.sendClose(code, "", false) == nil {
		w.mu.Lock()
		w.closeReason = reason // report the peer's reason, not our echo
		w.mu.Unlock()
	}
}

// finish ends the connection once the read loop is over. After a close
// handshake (or a failure) it lets our close frame go out. When the
// handshake is complete (both close frames crossed) the peer sends nothing
// more, and the socket is closed at once: the server closes first (RFC
// 6455 section 7.1.1), with a FIN behind our close frame. After a failure
// the peer may still be sending: then it half-closes, runs the close
// listeners, and only then waits for the peer's FIN before closing the
// socket, so that data still arriving does not turn our close into a reset
// that could destroy the close frame in flight.
func (c *Conn) finish() {
	r := &c.r
	deadline := time.Now().Add(c.s.closeTimeout)
	if cd := c.closeDeadline.Load(); cd != 0 && cd < deadline.UnixNano() && !r.peerClosed {
		deadline = time.Unix(0, cd)
	}
	code, reason := CloseAbnormal, ""
	handshake := r.peerClosed || r.failed
	if handshake {
		c.w.waitFlushed(deadline)
		c.w.mu.Lock()
		code, reason = c.w.closeCode, c.w.closeReason
		c.w.mu.Unlock()
	}
	c.w.release()
	if r.buf != nil {
		bufpool.Put(r.buf)
		r.buf = nil
	}
	if r.decomp != nil {
		r.decomp.Release()
		r.decomp = nil
	}
	halfClosed := r.failed && !r.peerClosed && c.closeWrite()
	if !halfClosed {
		c.nc.Close()
	}
	c.loop.Exec(func() {
		for _, l := range c.closeEv.snapshot() {
			c.call(func() { l.f(c, code, reason) })
		}
		if c.onClosed != nil {
			c.call(func() { c.onClosed(c) })
		}
	})
	// The connection is over for the loop; lingering is the socket's own
	// business and must not hold Run up.
	c.loop.Unref()
	if halfClosed {
		c.linger(deadline)
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

// call runs a user callback; a panic in it is logged through log/slog and
// fails the connection with 1011, and the loop goes on.
func (c *Conn) call(f func()) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("ws: panic in a connection callback", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			c.Close(CloseInternalError, "internal error")
		}
	}()
	f()
}
