package ws

import (
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// ErrLoopRunning is returned by Run when the loop is already running.
var ErrLoopRunning = errors.New("ws: loop is already running")

// Loop runs callbacks one at a time, the Go form of the event loop of the
// Perl module UniEvent::WebSocket::Server. Callbacks of one loop never run concurrently, so code inside them
// needs no locks; callbacks of different loops do run in parallel.
//
// There is no dispatcher goroutine. A goroutine that has an event to
// deliver (the I/O goroutine of a connection, a timer, an API call) takes
// the loop's run lock and calls the callback in place; events posted while
// another goroutine holds the lock are queued and run by that holder before
// it lets go, in batches. This costs a mutex per event instead of two
// goroutine switches, which is what ../shared/bench rewards (see the package
// comment for the measurements).
//
// While the loop is not running (before Run, after it returns) the run lock
// is held on the loop's behalf: events wait, and so do the goroutines that
// deliver them, until Run is called.
type Loop struct {
	run sync.Mutex // held while a callback runs, and while the loop is not running

	qmu     sync.Mutex
	queue   []func()
	spare   []func()
	posted  atomic.Int32 // len(queue), stored under qmu: read without it by pending and drain
	running bool
	stop    bool

	handles atomic.Int64
	wake    chan struct{}

	pollers pollerSet

	deferred deferredRuns
}

// NewLoop returns a loop that is not running.
func NewLoop() *Loop {
	l := &Loop{wake: make(chan struct{}, 1)}
	l.run.Lock()
	return l
}

var defaultLoop = sync.OnceValue(NewLoop)

// DefaultLoop returns the process-wide loop that servers use when none is
// given.
func DefaultLoop() *Loop { return defaultLoop() }

// Run runs callbacks until no active handle (a running server, an open
// connection) is left or Stop is called, whichever comes first. With no
// handle at all it returns at once, after running what was already posted.
// When Run returns, no callback of this loop is running and none will until
// Run is called again.
//
// Until Run is called, nothing runs on the loop: a server's handshake and
// connection callbacks wait, and so does the client whose upgrade is being
// handled (mid-handshake, with no answer). Start a server with its Run and
// then call the loop's Run (usually last, as it blocks); see Exec.
func (l *Loop) Run() error {
	l.qmu.Lock()
	if l.running {
		l.qmu.Unlock()
		return ErrLoopRunning
	}
	l.running = true
	l.stop = false
	l.qmu.Unlock()

	// The lock is ours (held on the loop's behalf since NewLoop or the last
	// Run): run what waited, then let the event sources in.
	l.drain()
	l.run.Unlock()
	l.kick()

	for {
		l.qmu.Lock()
		done := l.stop || l.handles.Load() <= 0
		l.qmu.Unlock()
		if done {
			break
		}
		<-l.wake
	}

	l.run.Lock() // waits for the callback in progress, if any
	l.qmu.Lock()
	l.running = false
	l.stop = false
	l.qmu.Unlock()
	return nil
}

// Stop makes Run return as soon as the callback in progress, if any, has
// finished. It is safe to call from any goroutine, inside a callback too.
// Handles stay registered: a later Run serves them again.
func (l *Loop) Stop() {
	l.qmu.Lock()
	l.stop = true
	l.qmu.Unlock()
	l.signal()
}

// Post queues f to run on the loop and returns at once. It is safe to call
// from any goroutine, inside a callback too; posted functions run in order.
func (l *Loop) Post(f func()) {
	l.qmu.Lock()
	l.queue = append(l.queue, f)
	l.posted.Store(int32(len(l.queue)))
	l.qmu.Unlock()
	l.kick()
}

// Exec runs f on the loop and returns when f has returned, taking the run
// lock itself when it is free. It must not be called from inside a callback
// of the same loop (it would wait for itself); use Post there.
//
// Before the loop's Run has been called (and after it has returned), Exec
// blocks until Run is called: the run lock is held on the loop's behalf
// while it is not running. Call Post instead where the loop may not be
// running yet.
func (l *Loop) Exec(f func()) {
	l.enter()
	f()
	l.leave()
}

// enter takes the run lock and runs what was posted meanwhile; leave runs
// what the callbacks posted, lets the lock go and hands over what is
// posted after. Between the two, callbacks run in place.
func (l *Loop) enter() {
	l.run.Lock()
	l.deferred.cork()
	l.drain()
}

func (l *Loop) leave() {
	l.drain()
	l.deferred.uncork()
	l.run.Unlock()
	l.kick()
}

// execConn is Exec(c.runListeners) without a method value, which would
// cost an allocation or a field per connection.
func (l *Loop) execConn(c *Conn) {
	l.enter()
	c.runListeners()
	l.leave()
}

// ref registers an active handle (a running server, an open connection,
// an upgrade under way): Run does not return for lack of handles while it
// is registered. Every ref is paired with one unref.
func (l *Loop) ref() { l.handles.Add(1) }

// unref unregisters an active handle registered with ref.
func (l *Loop) unref() {
	if l.handles.Add(-1) <= 0 {
		l.signal()
	}
}

// activeHandles returns the number of active handles.
func (l *Loop) activeHandles() int { return int(l.handles.Load()) }

func (l *Loop) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// kick runs queued functions if nobody holds the run lock; whoever holds it
// runs them before letting go, so nothing posted is ever left behind.
func (l *Loop) kick() {
	for l.pending() {
		if !l.run.TryLock() {
			return
		}
		l.drain()
		l.run.Unlock()
	}
}

// pending reports whether anything is posted. It reads posted without
// qmu: a Post stores it before its kick tries the run lock, and the holder
// that made that try fail reads it after letting the lock go (kick), so
// nothing posted is missed.
func (l *Loop) pending() bool { return l.posted.Load() > 0 }

// drain runs every queued function; the caller holds the run lock. The
// queue and its spare swap, so posting never allocates in steady state.
// With nothing posted (every read's enter and leave) it takes no lock.
func (l *Loop) drain() {
	for l.pending() {
		l.qmu.Lock()
		batch := l.queue
		l.queue, l.spare = l.spare, nil
		l.posted.Store(0)
		l.qmu.Unlock()
		for _, f := range batch {
			runPosted(f)
		}
		clear(batch)
		l.qmu.Lock()
		l.spare = batch[:0]
		l.qmu.Unlock()
	}
}

// runPosted runs one posted function; a panic in it is logged and does not
// take the loop down with it.
func runPosted(f func()) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("ws: panic in a function posted to the loop", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f()
}
