package ws

import "unievent.dev/ws/frame"

// A driver serves a connection's socket: it reads what arrives and hands
// it to process, runs the deadlines' timers (onTimer), writes what the
// listeners queued, and ends the connection (finish). There are two:
//   - goroutineDriver (driver_goroutine.go): the connection's own I/O
//     goroutine, blocked in a read whose deadline is the next timer. It
//     serves every connection at first, TLS and other platforms always.
//   - the poller (epoll_linux.go): a goroutine per core of a loop, each
//     watching many plain sockets with epoll and a timer heap. The I/O
//     goroutine hands it a connection whose peer is silent, and it hands a
//     busy one back.
//
// Exactly one driver serves a connection at a time; Conn.driver returns
// it.
type driver interface {
	// wake makes the driver look at c again: its close timeout started,
	// it was aborted (the socket must close without a handshake), or a
	// write it paused reading for is done. Any goroutine may call it.
	wake(c *Conn)
	// written is told that a flushing goroutine wrote c's queue out.
	written(c *Conn)
}

// onTimer acts on the timer that passed, for the driver that found it due;
// it reports whether the connection is to be dropped without more ado
// (the close timeout passed, or the pong did not come).
func (c *Conn) onTimer(t timer, now mono) (drop bool) {
	switch t {
	case timerClose, timerPong:
		return true
	case timerIdle:
		c.Close(frame.CloseAway, "idle timeout")
	case timerMessage:
		c.fail(frame.ClosePolicyViolation, "message took too long")
	case timerPing:
		c.d.pinged(now)
		c.q.sendControl(frame.OpPing, nil)
	}
	return false
}

// abort ends the connection without a closing handshake (writing to it
// failed): the socket is closed by its driver, so that the poller never
// loses track of a socket closed under it, and reading reports 1006.
func (c *Conn) abort() {
	c.aborted.Store(true)
	c.driver().wake(c)
}
