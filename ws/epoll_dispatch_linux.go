//go:build !unievent_nopoll

package ws

import (
	"syscall"
	"time"
)

// handle reads what c's socket holds and processes it, taking the loop for
// each read's listeners.
func (p *poller) handle(c *Conn, now mono, batch int) {
	r := &c.r
	if r.w != &p.rd {
		r.w = &p.rd // read first: a connection read again keeps it, without a write barrier
	}
	prev := c.d.lastRead
	if c.aborted.Load() {
		p.end(c)
		return
	}
	if c.p.paused.Load() {
		return // a hang-up while paused: the writing goroutine sees it too
	}
	ended, writing := false, false
	for range maxReadsPerWake {
		buf, n, err, again := r.sock.readNow(&p.rd.sock)
		if again {
			break
		}
		full := n == len(buf)
		if n > 0 {
			c.d.read(now)
			c.bytesIn.Add(uint64(n))
			// The listeners run in place, under the loop's lock, which
			// the system calls do without (other pollers and goroutines
			// take it meanwhile). What they queue for this read goes out
			// with one writev after it, as on the I/O goroutine. (A loop
			// that is not running holds up the sockets with something
			// to read.)
			c.q.holdFlush()
			if c.params == nil {
				p.loop.enter()
				r.onLoop = true
				c.process(buf[:n])
				r.onLoop = false
				p.loop.leave()
			} else {
				// Inflating is the costly part here: it runs
				// outside the loop, which each message's
				// listeners take on their own (as on the I/O
				// goroutine).
				c.process(buf[:n])
			}
			writing = c.q.releaseFlushNow(p)
		}
		if buf != nil {
			c.releaseRead(buf)
		}
		if err != nil {
			ended = true
			break
		}
		if !c.isReading() || !full || writing {
			break
		}
	}
	if ended || !c.isReading() || c.aborted.Load() {
		p.end(c)
		return
	}
	if c.q.busy() {
		p.pause(c)
	} else if batch <= hotBatch && prev != 0 && now-prev < mono(hotGap) {
		p.handBack(c)
		return
	}
	p.schedule(c)
}

// A connection the poller finds readable again within hotGap of its last
// read, in a batch of at most hotBatch ready sockets, is busy: it gets a
// goroutine of its own (serveHot) until it is silent for handoffWait. Its
// reads and writes then run on any core instead of one after the other on
// the poller's, which is what one message in flight per connection is
// bound by; a large batch means the poller already takes many messages per
// wake-up, and keeps them.
const (
	hotGap   = 2 * time.Millisecond
	hotBatch = 4
)

// handBack stops watching c, whose peer keeps it busy, and gives it a
// goroutine of its own until it is quiet again.
func (p *poller) handBack(c *Conn) {
	p.forget(c)
	c.p.watched.Store(false)
	if c.aborted.Load() {
		c.nc.Close() // abort saw it watched: its read fails at once
	}
	go c.serveHot()
}

// forget stops watching c.
func (p *poller) forget(c *Conn) {
	slot := c.p.slot
	p.ctl(c, syscall.EPOLL_CTL_DEL, 0)
	p.conns[slot] = nil
	p.free = append(p.free, slot)
	c.p.slot = -1
	p.count--
	p.heapRemove(c)
}

// end stops watching c and hands the end of the connection to a goroutine.
func (p *poller) end(c *Conn) {
	p.forget(c)
	if c.aborted.Load() {
		c.nc.Close()
	}
	go c.finish()
}
