package ws

import (
	"net"
	"sync"
	"time"
)

// Writing the send queue out. One goroutine at a time writes it
// (sendQueue.writing): the reading goroutine after each read it processed
// (releaseFlush; the poller's is releaseFlushNow), a flushing goroutine
// started by a send from elsewhere (flushAsync), or the end of the
// connection (waitFlushed). Each takes the queue's lock itself, and lets
// it go around every blocking write.

// flushScratch is what a blocking flush needs besides the queue; pooled,
// so that connections do not each keep one.
type flushScratch struct {
	recycle [][]byte
	nb      net.Buffers
}

var flushScratchPool = sync.Pool{New: func() any { return new(flushScratch) }}

// startFlushLocked reports whether the caller must start a flushing
// goroutine (startFlush) once it lets go of the lock: something is queued,
// nobody writes, and the reading goroutine will not flush after its
// listeners. It then marks the queue as being written.
func (q *sendQueue) startFlushLocked() bool {
	if q.held || q.writing || q.queued == 0 {
		return false
	}
	q.writing = true
	return true
}

// startFlush starts the flushing goroutine startFlushLocked asked for.
func (q *sendQueue) startFlush(start bool) {
	if start {
		go q.flushAsync()
	}
}

func (q *sendQueue) flushAsync() {
	drained := q.flush()
	q.c.driver().written(q.c)
	q.c.drained(drained)
}

// holdFlush and releaseFlush bracket the reading goroutine's processing of
// one read: every frame queued in between goes out in one flush at the end.
func (q *sendQueue) holdFlush() {
	q.mu.Lock()
	q.held = true
	q.mu.Unlock()
}

func (q *sendQueue) releaseFlush() {
	q.mu.Lock()
	q.held = false
	if q.writing || (q.queued == 0 && !q.pongSlot) {
		q.mu.Unlock()
		return
	}
	// Most replies fit in the socket at once: a write that does not block
	// needs no write deadline (a timer change and two clock reads per
	// flush). What it leaves goes out the blocking way.
	q.queuePongSlotLocked()
	q.settleLocked()
	if q.err == nil {
		if err := q.writeFirstLocked(); err != nil {
			q.err = err
		}
	}
	if q.err == nil && q.queued == 0 {
		drain := q.drainDueLocked()
		q.mu.Unlock()
		q.c.drained(drain)
		return
	}
	q.writing = true
	q.mu.Unlock()
	q.c.drained(q.flush())
}

// flushBatch is one blocking write's share of the queue.
type flushBatch struct {
	bufs [][]byte
	pins []pin // the shared chunks among bufs (sendQueue.pinned)
	n    int   // bytes in bufs from off on
	off  int   // bytes of bufs[0] already written
	err  error
}

// flush writes the queue out until it is empty; the caller has set
// q.writing. It reports whether the drain event is due; the caller fires
// it (drained) with no lock held, as listeners may run in place and send.
func (q *sendQueue) flush() (drain bool) {
	c := q.c
	q.mu.Lock()
	for {
		b, ok := q.takeBatchLocked()
		if !ok {
			break
		}
		q.mu.Unlock()
		b.err = b.write(c)
		q.mu.Lock()
		q.wroteLocked(b)
	}
	drain, failed := q.endFlushLocked()
	q.mu.Unlock()
	if failed {
		// The peer cannot be written to: end the connection, which
		// reports 1006.
		c.abort()
	}
	return drain
}

// takeBatchLocked takes everything queued for one blocking write, and
// sets the socket's write deadline for it (under the lock, so that the
// deadline the close handshake sets cannot be overwritten by an older
// one). It reports false when there is nothing to write or writing failed.
func (q *sendQueue) takeBatchLocked() (flushBatch, bool) {
	q.queuePongSlotLocked()
	q.settleLocked()
	if q.err != nil || q.queued == 0 {
		return flushBatch{}, false
	}
	b := flushBatch{bufs: q.out, pins: q.pinsLocked(), n: q.queued, off: q.off}
	q.out = q.spare
	q.spare = nil
	if p := q.pinned; p != nil {
		p.pins, p.spare = p.spare, nil
	}
	q.off = 0
	q.pongs = 0
	if by := q.c.d.writeBy(q.c.s); by != 0 {
		b.err = q.c.nc.SetWriteDeadline(by.time())
	}
	return b, true
}

// write writes the batch with one writev (net.Buffers) and gives its
// chunks back to the pool.
func (b *flushBatch) write(c *Conn) error {
	err := b.err
	fs := flushScratchPool.Get().(*flushScratch)
	fs.recycle = append(fs.recycle[:0], b.bufs...)
	if err == nil {
		// Not a local: WriteTo takes a pointer, and a local would
		// escape to the heap on every flush.
		b.bufs[0] = b.bufs[0][b.off:]
		fs.nb = b.bufs
		if bw, ok := c.nc.(buffersWriter); ok {
			_, err = bw.writeBuffers(&fs.nb)
		} else {
			_, err = fs.nb.WriteTo(c.nc)
		}
		fs.nb = nil
	}
	pins := b.pins
	for i, buf := range fs.recycle {
		if recycle(buf, pins) {
			pins = pins[1:]
		}
		fs.recycle[i] = nil
	}
	clear(b.pins)
	flushScratchPool.Put(fs)
	clear(b.bufs)
	return err
}

// wroteLocked accounts for a batch written (or not: b.err).
func (q *sendQueue) wroteLocked(b flushBatch) {
	q.c.bytesOut.Add(uint64(b.n))
	if q.err == errReleased {
		// The connection ended during the write and release dropped
		// the queue (finish does not wait for a flush when the peer
		// went away without a close): nothing is left to account for.
		return
	}
	q.spare = b.bufs[:0]
	if p := q.pinned; p != nil {
		p.spare = b.pins[:0]
	}
	q.queued -= b.n
	if b.err != nil {
		q.err = b.err
	}
}

// endFlushLocked ends a flush: nobody writes any more, a waitFlushed is
// woken. It reports whether the drain event is due, and whether writing
// failed (the connection must be aborted).
func (q *sendQueue) endFlushLocked() (drain, failed bool) {
	q.writing = false
	if q.flushed != nil {
		close(q.flushed)
		q.flushed = nil
	}
	if q.err != nil {
		return false, q.err != errReleased
	}
	return q.drainDueLocked(), false
}

// busy reports whether a goroutine is writing the queue out.
func (q *sendQueue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.writing
}

// waitFlushed waits until the queue is written out or writing failed, at
// most until the deadline (the socket's write deadline bounds the wait).
func (q *sendQueue) waitFlushed(deadline time.Time) {
	q.c.nc.SetWriteDeadline(deadline)
	q.mu.Lock()
	for q.err == nil && (q.writing || q.queued > 0 || q.pongSlot) {
		if !q.writing {
			q.writing = true
			q.mu.Unlock()
			q.flush() // the connection is closing: no drain event
			q.mu.Lock()
			continue
		}
		if q.flushed == nil {
			q.flushed = make(chan struct{})
		}
		ch := q.flushed
		q.mu.Unlock()
		<-ch
		q.mu.Lock()
	}
	q.mu.Unlock()
}

// finishClaimedLocked ends the write of a claimed queue that is written
// out (or failed) and lets go of the lock, as flushAsync would have: the
// driver is told, the drain event fires, a failed socket is aborted.
func (q *sendQueue) finishClaimedLocked() {
	drain, failed := q.endFlushLocked()
	q.mu.Unlock()
	if failed {
		q.c.abort()
	}
	q.c.driver().written(q.c)
	q.c.drained(drain)
}
