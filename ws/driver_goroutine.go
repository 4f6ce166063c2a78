package ws

import (
	"errors"
	"os"
	"time"

	"unievent.dev/internal/bufpool"
	"unievent.dev/ws/permessagedeflate"
)

// goroutineDriver is the driver of a connection served by its own I/O
// goroutine (serve, readLoop): it reads, decodes, reassembles and hands
// finished events to the loop, then flushes what the listeners queued,
// until the connection ends or, on Linux, until it hands the socket to the
// poller (handOff). Its timers are the socket's read deadline
// (setReadDeadline).
type goroutineDriver struct{}

// wake interrupts the I/O goroutine's read: an aborted connection's socket
// is closed, otherwise the read deadline moves to the close timeout.
func (goroutineDriver) wake(c *Conn) {
	nc := c.transport() // the reading goroutine may be handing it over
	if c.aborted.Load() {
		nc.Close()
		return
	}
	nc.SetReadDeadline(c.d.closing().time())
}

// written: the I/O goroutine never stops reading for a write.
func (goroutineDriver) written(*Conn) {}

// serve is the connection's I/O goroutine, from the start.
func (c *Conn) serve() {
	r := &c.r
	c.takeScratch()
	c.d.read(monoNow())
	if c.params != nil {
		c.a.decomp = permessagedeflate.NewDecompressor(c.codecParams())
	}
	// Frames the client sent behind its handshake are processed first;
	// the flush after them also writes the preamble (the 101).
	c.q.holdFlush()
	if r.x != nil && len(r.x.pending) > 0 {
		pending := r.x.pending
		r.x.pending = nil
		c.bytesIn.Add(uint64(len(pending)))
		c.process(pending)
		c.r.given = false // not a pooled buffer: nobody gives it back
	}
	c.q.releaseFlush()
	c.readLoop(r.sock.usable() && pollable)
}

// serveHot is the I/O goroutine of a connection the poller found busy: a
// goroutine of its own serves it while it stays busy (reads then run on
// every core, and a message costs no trip through the poller), and hands
// it back once it has been silent for handoffWait.
func (c *Conn) serveHot() {
	c.takeScratch()
	c.d.read(monoNow())
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
// and a busy one keeps a goroutine only while it is busy. Either way the
// goroutine's scratch goes back to the pool.
func (c *Conn) readLoop(handoff bool) {
	r := &c.r
	r.handoff = handoff
	fresh := false // the last read brought data: the peer is not silent
	full := false  // the last read filled its buffer
	for c.isReading() {
		if r.handoff && !fresh && monoNow()-c.d.lastRead >= mono(handoffWait) {
			r.handoff = false
			// The scratch goes back first: once the poller has the
			// socket it may already be reading with its own.
			w := r.w
			r.w = nil
			if c.handOff() {
				w.release()
				return
			}
			r.w = w
		}
		if err := c.setReadDeadline(); err != nil {
			break
		}
		var buf []byte
		var n int
		var err error
		if r.sock.usable() {
			buf, n, err = r.sock.read(&r.w.sock) // holds no buffer while the peer is silent
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
			c.d.read(monoNow())
			c.bytesIn.Add(uint64(n))
			c.q.holdFlush()
			c.process(buf[:n])
			c.q.releaseFlush()
		}
		if buf != nil {
			c.releaseRead(buf)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.onReadDeadline() {
				continue
			}
			break
		}
	}
	c.finish()
	w := r.w
	r.w = nil
	w.release()
}

// onReadDeadline handles a read that ended at its deadline: it acts on the
// timer that is due and reports whether the connection is over. Once the
// close timeout has passed, one last read of up to closeGrace is granted:
// net.Conn fails a read whose deadline is past without trying it, so a
// connection slower than its close timeout would not see the peer's close
// frame though it is already in the socket, and would report 1006 instead
// of the handshake.
func (c *Conn) onReadDeadline() bool {
	c.d.armed = 0 // the socket's deadline has passed: always re-arm
	now := monoNow()
	t := c.d.expired(c.s, now)
	if t == timerClose && c.d.graceRead(now) {
		return false
	}
	return c.onTimer(t, now)
}

// setReadDeadline arms the socket's read deadline for the next timer. It
// only touches the socket when the deadline moves earlier or more than a
// second later, so a busy connection rarely pays for it; an early wake-up
// just re-arms. Close may set the deadline from another goroutine
// (goroutineDriver.wake): the loop arms again if the close timeout started
// meanwhile.
func (c *Conn) setReadDeadline() error {
	d := &c.d
	for {
		cb := d.closing()
		n := d.next(c.s, c.r.handoff)
		if n == d.armed || (d.armed != 0 && n > d.armed && n-d.armed < mono(time.Second)) {
			return nil
		}
		if err := c.nc.SetReadDeadline(n.time()); err != nil {
			return err
		}
		d.armed = n
		if d.closing() == cb {
			return nil
		}
	}
}

// handOff gives the socket to the loop's poller, reporting whether it took
// it. The socket's read deadline, which the poller does not use (it would
// fail its reads once passed), is cleared first.
func (c *Conn) handOff() bool {
	if c.nc.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	c.d.armed = 0
	// Unless it holds a control frame in progress, the poller has no use
	// for the reader's extra state.
	if x := c.r.x; x != nil && x.pending == nil && x.ctrlLen == 0 {
		c.r.x = nil
	}
	return c.loop.poll(c)
}
