//go:build !unievent_nopoll

package ws

import (
	"os"
	"sync"
	"syscall"
)

// The write path of a plain Linux socket: one non-blocking writev(2) of
// the send queue, through the runtime poller's raw access. The poller
// writes this way only (releaseFlushNow); an I/O goroutine tries it before
// its blocking flush (writeFirstLocked), so that a reply the socket takes
// at once needs no write deadline.

// releaseFlushNow is releaseFlush for the poller, which must never block:
// it writes what the socket takes at once and leaves the rest to a
// flushing goroutine. It reports whether a goroutine is writing the queue
// out (this one's or another's), as busy would.
func (q *sendQueue) releaseFlushNow(p *poller) (writing bool) {
	q.mu.Lock()
	q.held = false
	if q.writing || (q.queued == 0 && !q.pongSlot) {
		writing = q.writing
		q.mu.Unlock()
		return writing
	}
	q.queuePongSlotLocked()
	q.settleLocked()
	if q.err != nil {
		q.mu.Unlock()
		q.c.abort()
		return false
	}
	n, err := q.writeNowLocked(&p.wv)
	if n > 0 {
		q.consumedLocked(n)
	}
	switch {
	case err != nil:
		q.err = err
		q.mu.Unlock()
		q.c.abort()
		return false
	case q.queued > 0:
		// The socket is full: a goroutine waits for it.
		q.writing = true
		q.mu.Unlock()
		go q.flushAsync()
		return true
	}
	drain := q.drainDueLocked()
	q.mu.Unlock()
	q.c.drained(drain)
	return false
}

// maxIovecs is the most buffers one writev(2) takes (IOV_MAX).
const maxIovecs = 1024

// writev holds one writev(2)'s arguments and results for a closure built
// once: a fresh closure per write would allocate.
type writev struct {
	iov   []syscall.Iovec
	n     uintptr
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// writevPool lends a writev to I/O goroutines (the poller keeps its own).
var writevPool = sync.Pool{New: func() any { return new(writev) }}

// writeFirstLocked writes what the socket takes of the queue without
// blocking, for an I/O goroutine before its blocking flush; nobody else is
// writing.
func (q *sendQueue) writeFirstLocked() error {
	if !q.c.r.sock.usable() {
		return nil
	}
	wv := writevPool.Get().(*writev)
	n, err := q.writeNowLocked(wv)
	writevPool.Put(wv)
	if n > 0 {
		q.consumedLocked(n)
	}
	return err
}

// writeNowLocked writes as much of the queue as the socket takes without
// blocking, with one writev; nobody else is writing.
func (q *sendQueue) writeNowLocked(wv *writev) (int, error) {
	if wv.fn == nil {
		wv.fn = func(fd uintptr) bool {
			for {
				n, errno := writevNB(fd, wv.iov)
				wv.n, wv.errno = uintptr(n), errno
				if wv.errno != syscall.EINTR {
					return true
				}
			}
		}
	}
	v := wv.iov[:0]
	for i, b := range q.out {
		if i == maxIovecs {
			break
		}
		if i == 0 {
			b = b[q.off:]
		}
		if len(b) == 0 {
			continue
		}
		var e syscall.Iovec
		e.Base = &b[0]
		e.SetLen(len(b))
		v = append(v, e)
	}
	wv.iov = v
	if len(v) == 0 {
		return 0, nil
	}
	wv.n, wv.errno = 0, 0
	err := q.c.r.sock.rc.Write(wv.fn)
	n, errno := wv.n, wv.errno
	clear(v) // the buffers go back to the pool
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, nil
	case errno != 0:
		return 0, os.NewSyscallError("writev", errno)
	}
	return int(n), nil
}

// claimedWriter writes the queues of a deferred run (runDeferred) with one
// writev buffer for all of them.
type claimedWriter struct{ wv *writev }

func newClaimedWriter() claimedWriter { return claimedWriter{wv: writevPool.Get().(*writev)} }

func (w claimedWriter) done() { writevPool.Put(w.wv) }

// write writes as much of q, which the run claimed, as its socket takes
// at once; the rest goes out on a flushing goroutine, which keeps the
// claim. A socket without a non-blocking write (TLS, a stream) goes to
// the flushing goroutine whole.
func (w claimedWriter) write(q *sendQueue) {
	q.mu.Lock()
	if !q.c.r.sock.usable() {
		q.mu.Unlock()
		go q.flushAsync()
		return
	}
	q.queuePongSlotLocked()
	q.settleLocked()
	if q.err == nil && q.queued > 0 {
		n, err := q.writeNowLocked(w.wv)
		if n > 0 {
			q.consumedLocked(n)
		}
		if err != nil {
			q.err = err
		}
	}
	if q.err == nil && q.queued > 0 {
		q.mu.Unlock()
		go q.flushAsync()
		return
	}
	q.finishClaimedLocked()
}
