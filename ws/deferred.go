package ws

import (
	"sync"
	"sync/atomic"

	"unievent.dev/ws/internal/engine"
)

// Deferred writes (engine.Funcs.SendDeferred and FlushDeferred): a
// publisher that queues one message on thousands of connections claims
// each queue (sets q.writing, as startFlushLocked does) and hands the
// claimed connections to a few goroutines that write them one after the
// other without blocking, instead of starting a flushing goroutine per
// connection. A connection waiting in such a run is still claimed when
// the next message comes, so that message joins the queue and both go out
// in one writev: the more messages per write, the less each delivery
// costs (on loopback the write is nearly all of it).
//
// While callbacks run on the loop (between its enter and leave), the runs
// wait: deferredRuns holds them until leave, so that what one read's
// listeners publish (a read of a publisher's socket brings several
// messages) goes out as one write per subscriber, not as one write per
// message, whichever way the goroutines happen to be scheduled.

// deferredChunk is the most connections one goroutine of a deferred run
// writes: it bounds the delay of the last of them behind the others (a
// non-blocking write each) and lets the cores share the writes. Measured
// with ../shared/bench (f1 and f2, 2 cores, against gobwas in the same
// run): 256 per goroutine cost f1 (1,000 subscribers) about 40 % of its
// deliveries/s against a goroutine per subscriber; 16 got most of it
// back, 4 all of it (0.8-1.06M deliveries/s, about 1 us of server CPU
// each), and f2 (10,000 subscribers) gains at each step (124k with a
// goroutine per subscriber, 260-310k at 256, 360-420k at 16, 310-520k
// at 4).
const deferredChunk = 4

// deferredRuns is a loop's owner of the deferred runs that wait for its
// callbacks to return. The loop's enter corks it and its leave uncorks it
// (both with the run lock held); FlushDeferred, from any goroutine, adds
// to it while it is corked. Until a loop's first deferred run, corking
// costs one atomic load per enter and leave.
type deferredRuns struct {
	used atomic.Bool // a deferred run was flushed on this loop

	mu     sync.Mutex
	corked bool
	held   *engine.Deferred[Conn]
}

// cork makes runs flushed from now on wait for uncork.
func (r *deferredRuns) cork() {
	if !r.used.Load() {
		return
	}
	r.mu.Lock()
	r.corked = true
	r.mu.Unlock()
}

// uncork writes out the runs that waited.
func (r *deferredRuns) uncork() {
	if !r.used.Load() {
		return
	}
	r.mu.Lock()
	r.corked = false
	d := r.held
	r.held = nil
	r.mu.Unlock()
	if d != nil {
		startDeferred(d)
	}
}

// add keeps d for uncork and reports true while r is corked; it takes d
// (merged into the run held, which goes back to the pool). Otherwise it
// reports false and d stays the caller's.
func (r *deferredRuns) add(d *engine.Deferred[Conn]) bool {
	if !r.used.Load() {
		r.used.Store(true)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.corked {
		return false
	}
	if r.held == nil {
		r.held = d
		return true
	}
	r.held.Conns = append(r.held.Conns, d.Conns...)
	clear(d.Conns)
	d.Conns = d.Conns[:0]
	deferredPool.Put(d)
	return true
}

var deferredPool = sync.Pool{New: func() any { return new(engine.Deferred[Conn]) }}

func newDeferred() *engine.Deferred[Conn] {
	return deferredPool.Get().(*engine.Deferred[Conn])
}

// flushDeferred writes out the queues d recorded, once the callbacks
// running on their loop (if any) have returned; d goes back to the pool.
// The connections of one d belong to one loop (a server's topics); one of
// another loop would wait for the first one's callbacks, no longer.
func flushDeferred(d *engine.Deferred[Conn]) {
	if len(d.Conns) == 0 {
		deferredPool.Put(d)
		return
	}
	if l := d.Conns[0].loop; l != nil && l.deferred.add(d) {
		return
	}
	startDeferred(d)
}

// startDeferred writes out the queues d recorded, on goroutines of their
// own, deferredChunk connections each; d goes back to the pool.
func startDeferred(d *engine.Deferred[Conn]) {
	for len(d.Conns) > deferredChunk {
		rest := newDeferred()
		rest.Conns = append(rest.Conns[:0], d.Conns[len(d.Conns)-deferredChunk:]...)
		clear(d.Conns[len(d.Conns)-deferredChunk:])
		d.Conns = d.Conns[:len(d.Conns)-deferredChunk]
		go runDeferred(rest)
	}
	if len(d.Conns) == 0 {
		deferredPool.Put(d)
		return
	}
	go runDeferred(d)
}

// runDeferred writes each claimed queue of d in turn (writeClaimed).
func runDeferred(d *engine.Deferred[Conn]) {
	w := newClaimedWriter()
	for i, c := range d.Conns {
		w.write(&c.q)
		d.Conns[i] = nil
	}
	w.done()
	d.Conns = d.Conns[:0]
	deferredPool.Put(d)
}
