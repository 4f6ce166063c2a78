package ws

import "sync/atomic"

// pollState is a connection's part in its loop's poller (poller_linux.go).
// watched and aborted are read by any goroutine; the rest belongs to the
// poller goroutine.
type pollState struct {
	// watched is set before the poller is asked to watch the socket, and
	// never cleared: from then on the poller (or the goroutine it hands
	// the end of the connection to) owns reading and closing the socket.
	watched atomic.Bool
	// aborted says the socket must be closed without a closing handshake
	// (writing to it failed).
	aborted atomic.Bool
	// paused says the poller stopped reading the socket while a goroutine
	// waits to write to it: a peer that does not read what we send gets
	// nothing more read either, as with a blocking write.
	paused atomic.Bool

	// pl is the poller that watches the socket, set once before watched
	// is first set.
	pl *poller

	slot int32  // index in the poller's table
	gen  uint32 // the slot's generation, carried in the epoll event
	hidx int32  // index in the poller's deadline heap, -1 when absent
	due  int64  // the deadline the heap holds (UnixNano), never later than the real one
}

// abort ends the connection without a closing handshake: the socket is
// closed (by the poller, when it watches it, so that it never loses track
// of a socket closed under it) and the reader reports 1006.
func (c *Conn) abort() {
	c.p.aborted.Store(true)
	if c.p.watched.Load() {
		c.p.pl.touch(c)
		return
	}
	c.nc.Close()
}
