package ws

import (
	"sync/atomic"
	"time"
)

// timer names the deadline of a connection that has passed.
type timer uint8

const (
	timerNone    timer = iota // nothing is due: an early wake-up
	timerPing                 // PingInterval of silence: send a keepalive ping
	timerIdle                 // IdleTimeout of silence: close with 1001
	timerMessage              // MessageTimeout since a message's first frame: fail with 1008
	timerPong                 // PongTimeout after a keepalive ping with nothing read: drop, 1006
	timerClose                // CloseTimeout after our close frame: drop
)

// closeGrace is how long a write may still block, and the one last read
// may wait, once the close timeout has passed: net.Conn fails a read or
// write whose deadline is past without trying it, so without it what the
// socket takes at once (our close frame) or already holds (the peer's)
// would be lost to a connection that was merely slow to get there.
const closeGrace = 10 * time.Millisecond

// deadlines owns a connection's timers, and is the one place that computes
// when the next one is due: keepalive ping, pong, idle, message, close,
// the driver's hand-off wait (next), a socket write's deadline (writeBy)
// and the end of the close handshake (endBy). Every time is a mono.
//
// closeBy is set once, from any goroutine, by the close handshake while it
// holds the send queue's lock (closehandshake.go); it is atomic because the
// reading side reads it without that lock. Every other field belongs to
// the goroutine that reads the socket (the connection's I/O goroutine or
// its poller), which alone calls the other methods.
type deadlines struct {
	closeBy   atomic.Int64 // mono: when the close handshake gives up; 0 until our close frame is queued
	lastRead  mono         // when bytes last arrived from the peer
	pingedAt  mono         // when a keepalive ping went out with nothing read since; 0 when none
	messageBy mono         // when the message in progress must be complete; 0 when none or no MessageTimeout
	graceBy   mono         // once closeBy passed: the one last read may wait until then
	armed     mono         // the read deadline set on the socket (goroutine driver); 0 when none
}

// read records bytes from the peer at now: it is alive.
func (d *deadlines) read(now mono) {
	d.lastRead = now
	d.pingedAt = 0
}

// pinged records a keepalive ping sent at now.
func (d *deadlines) pinged(now mono) { d.pingedAt = now }

// beginMessage starts the message timeout, when there is one.
func (d *deadlines) beginMessage(s *settings) {
	if s.message > 0 {
		d.messageBy = monoNow() + mono(s.message)
	}
}

// endMessage stops the message timeout.
func (d *deadlines) endMessage() { d.messageBy = 0 }

// startClose starts the close timeout at now; it reports false when it had
// started already (the first close frame queued sets it).
func (d *deadlines) startClose(s *settings, now mono) bool {
	return d.closeBy.CompareAndSwap(0, int64(now+mono(s.closeTimeout)))
}

// closing returns when the close handshake gives up, 0 before our close
// frame is queued.
func (d *deadlines) closing() mono { return mono(d.closeBy.Load()) }

// graceRead grants the one last read after the close timeout (closeGrace),
// and reports whether it did: it is granted once, and only once the close
// timeout has passed.
func (d *deadlines) graceRead(now mono) bool {
	if d.graceBy != 0 || d.closing() == 0 {
		return false
	}
	d.graceBy = now + mono(closeGrace)
	return true
}

// pingBy returns when the next keepalive ping is due; 0 when none is: the
// interval is off, or a ping is out and its pong awaited. Without a pong
// timeout nothing is awaited, and the next ping follows an interval after
// the last.
func (d *deadlines) pingBy(s *settings) mono {
	switch {
	case s.ping <= 0:
		return 0
	case d.pingedAt == 0:
		return d.lastRead + mono(s.ping)
	case s.pong <= 0:
		return d.pingedAt + mono(s.ping)
	}
	return 0
}

// pongBy returns when the peer must have sent something after a keepalive
// ping; 0 when no ping is out or PongTimeout is off.
func (d *deadlines) pongBy(s *settings) mono {
	if d.pingedAt == 0 || s.pong <= 0 {
		return 0
	}
	return d.pingedAt + mono(s.pong)
}

// next returns the reading side's earliest deadline, 0 for none; handoff
// adds the goroutine driver's hand-off wait. Once our close frame is
// queued only the close timeout is left: the others may have passed (the
// idle timeout is what closed it) and would wake every read at once.
func (d *deadlines) next(s *settings, handoff bool) mono {
	if cb := d.closing(); cb != 0 {
		return max(cb, d.graceBy)
	}
	n := d.pingBy(s)
	n = earliest(n, d.pongBy(s))
	if s.idle > 0 {
		n = earliest(n, d.lastRead+mono(s.idle))
	}
	n = earliest(n, d.messageBy)
	if handoff {
		n = earliest(n, d.lastRead+mono(handoffWait))
	}
	return n
}

// earliest returns the earlier of two deadlines, 0 meaning none.
func earliest(a, b mono) mono {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// expired returns the timer that is due at now, the one that ends the
// connection first: timerNone when none is.
func (d *deadlines) expired(s *settings, now mono) timer {
	if cb := d.closing(); cb != 0 {
		if now >= max(cb, d.graceBy) {
			return timerClose
		}
		return timerNone
	}
	isDue := func(t mono) bool { return t != 0 && now >= t }
	switch {
	case isDue(d.pongBy(s)):
		return timerPong
	case s.idle > 0 && now >= d.lastRead+mono(s.idle):
		return timerIdle
	case isDue(d.messageBy):
		return timerMessage
	case isDue(d.pingBy(s)):
		return timerPing
	}
	return timerNone
}

// writeBy returns when a socket write starting now gives up, 0 for never:
// WriteTimeout after now, and once our close frame is queued not after
// the close timeout, though never sooner than closeGrace from now. Any
// goroutine may call it.
func (d *deadlines) writeBy(s *settings) mono {
	cb := d.closing()
	if s.write <= 0 && cb == 0 {
		return 0 // no clock read
	}
	now := monoNow()
	var by mono
	if s.write > 0 {
		by = now + mono(s.write)
	}
	if cb != 0 {
		by = earliest(by, max(cb, now+mono(closeGrace)))
	}
	return by
}

// endBy returns until when the end of a connection may flush our close
// frame and wait for the peer's FIN: the close timeout, or CloseTimeout
// from now when no close frame was queued, and never sooner than
// closeGrace from now.
func (d *deadlines) endBy(s *settings) mono {
	now := monoNow()
	cb := d.closing()
	if cb == 0 {
		cb = now + mono(s.closeTimeout)
	}
	return max(cb, now+mono(closeGrace))
}
