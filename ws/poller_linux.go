//go:build !unievent_nopoll

package ws

import (
	"log/slog"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"unievent.dev/internal/bufpool"
)

// A poller is an epoll instance of a loop; a loop has one per core
// (maxPollers at most), and deals its connections out to them in turn.
// Once a plain connection has been silent for handoffWait, its I/O
// goroutine hands the socket to its poller and ends. A poller's goroutine
// waits for its epoll instance in Go's runtime poller (so no thread sleeps
// in epoll_wait for it), and for every ready socket reads what is there,
// decodes it and, under the loop's lock, runs the listeners in place; then
// it writes what they queued without blocking (a socket that will not take
// it all gets a goroutine that waits for it). The system calls run outside
// the lock, so the pollers of a loop read and write in parallel while its
// listeners still run one at a time. Timers (idle, ping, pong, message,
// close) live in one heap per poller, whose earliest entry is the wait's
// deadline. So an idle connection holds no goroutine, no stack and no
// buffer, and many ready connections cost one wake-up per batch instead of
// one goroutine switch each. A connection that turns out busy while few
// others are gets its goroutine back until it is silent again (hotGap).
//
// The end of a connection (flushing our close frame, the close listeners,
// waiting for the peer's FIN) may block, so it runs on a goroutine of its
// own, after the poller has stopped watching the socket.
//
// Go's runtime poller keeps the socket too: the flushing goroutines wait on
// it, and once the poller lets go, so do the connection's own goroutine and
// the end of the connection.

// maxReadsPerWake bounds the reads of one socket per wake-up, so that one
// busy peer cannot starve the others; epoll reports it again at once.
const maxReadsPerWake = 4

// maxPollers bounds the pollers of one loop: one per core (GOMAXPROCS)
// up to this many, connections dealt out in turn. Their system calls run
// in parallel; the listeners still run one at a time, under the loop's
// lock, which a poller takes for each read's events.
const maxPollers = 8

// pollerLinger is how long a poller with nothing to watch keeps its
// goroutine and its epoll instance before it lets them go.
const pollerLinger = time.Second

// pollable turns the poller off for tests of the goroutine-per-socket
// path.
var pollable = true

// handoffWait is how long a connection's I/O goroutine waits for its peer
// before it hands the socket to the poller.
const handoffWait = 5 * time.Millisecond

type poller struct {
	loop *Loop

	mu      sync.Mutex
	running bool
	epfd    int
	evfd    int // an eventfd that wakes epoll_wait
	adds    []*Conn
	touched []*Conn
	kicked  bool

	// The rest belongs to the poller goroutine.
	conns  []*Conn
	gens   []uint32
	free   []int32
	count  int
	heap   []*Conn
	events []syscall.EpollEvent

	wv writev // the poller's writes

	// The epoll instance as a file the runtime's poller waits for, the
	// deadline armed on it (UnixNano, 0 none, -1 passed), and the
	// closure that asks it for events.
	ef    *os.File
	erc   syscall.RawConn
	armed int64
	ready int
	efn   func(fd uintptr) bool
}

// evfdSlot marks the eventfd's epoll events.
const evfdSlot = -1

// poll hands c's socket to the loop's poller. It reports false when no
// poller can take it (the goroutine then goes on reading).
func (l *Loop) poll(c *Conn) bool {
	if !pollable {
		return false
	}
	p := c.p.pl
	if p == nil {
		// A connection keeps the poller it was first given, so that
		// any goroutine that saw it watched finds the right one.
		l.pmu.Lock()
		if l.pls == nil {
			l.pls = make([]*poller, min(runtime.GOMAXPROCS(0), maxPollers))
			for i := range l.pls {
				l.pls[i] = &poller{loop: l}
			}
		}
		p = l.pls[l.nextPl%len(l.pls)]
		l.nextPl++
		l.pmu.Unlock()
		c.p.pl = p
	}
	c.p.hidx = -1
	c.r.sock.size = max(c.r.sock.size, PollerReadBufferSize)
	c.p.watched.Store(true)
	if err := p.add(c); err != nil {
		// No epoll here: the connection goes on without it; Close and
		// abort already report to a poller that will never see it, so
		// it is dropped.
		slog.Error("ws: poller unavailable", "err", err)
		c.p.aborted.Store(true)
		c.nc.Close()
		c.finish()
	}
	return true
}

func (p *poller) add(c *Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		if err := p.start(); err != nil {
			return err
		}
	}
	p.adds = append(p.adds, c)
	p.wakeLocked()
	return nil
}

// touch asks the poller to look at c again: its close deadline moved, or
// it was aborted. Any goroutine may call it.
func (p *poller) touch(c *Conn) {
	p.mu.Lock()
	p.touched = append(p.touched, c)
	p.wakeLocked()
	p.mu.Unlock()
}

func (p *poller) wakeLocked() {
	if p.kicked || !p.running {
		return
	}
	p.kicked = true
	one := uint64(1)
	syscall.Write(p.evfd, (*[8]byte)(unsafe.Pointer(&one))[:])
}

// start creates the epoll instance and starts the goroutine; p.mu is held.
func (p *poller) start() error {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(epfd)
		return os.NewSyscallError("eventfd2", e)
	}
	evfd := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: evfdSlot}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		syscall.Close(evfd)
		syscall.Close(epfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	// The poller's goroutine waits for its epoll instance in Go's own
	// poller, like any goroutine waiting for a socket: no thread sleeps
	// in epoll_wait for it, and the runtime's scheduler wakes it.
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(evfd)
		syscall.Close(epfd)
		return os.NewSyscallError("fcntl", err)
	}
	ef := os.NewFile(uintptr(epfd), "epoll")
	erc, err := ef.SyscallConn()
	if err == nil {
		// Fails unless the runtime's poller took the file.
		err = ef.SetReadDeadline(time.Time{})
	}
	if err != nil {
		ef.Close()
		syscall.Close(evfd)
		return err
	}
	p.epfd, p.evfd, p.running, p.kicked = epfd, evfd, true, false
	p.ef, p.erc, p.armed = ef, erc, 0
	if p.events == nil {
		p.events = make([]syscall.EpollEvent, 128)
		p.efn = func(fd uintptr) bool {
			p.ready = epollNow(int(fd), p.events)
			return p.ready > 0
		}
	}
	go p.run(epfd, evfd)
	return nil
}

// epollNow returns the events epfd holds, without waiting.
func epollNow(epfd int, events []syscall.EpollEvent) int {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0 // EINTR: nothing is lost, the events stay
	}
	return int(r)
}

// wait returns the number of ready events, waiting in the runtime's poller
// (which watches the epoll instance, edge-triggered) until there are some
// or the deadline passes. The instance is asked without waiting first, and
// each time the runtime reports it: it is readable while any event is
// pending, and a new event after an empty answer always makes a new edge.
func (p *poller) wait(due int64) int {
	if n := epollNow(p.epfd, p.events); n > 0 {
		return n
	}
	if due != p.armed {
		var t time.Time
		if due != 0 {
			t = time.Unix(0, due)
		}
		p.ef.SetReadDeadline(t)
		p.armed = due
	}
	p.ready = 0
	if err := p.erc.Read(p.efn); err != nil {
		p.armed = -1 // a deadline that passed: set it again next time
		return 0
	}
	return p.ready
}

func (p *poller) run(epfd, evfd int) {
	var emptySince time.Time
	for {
		var due int64
		if len(p.heap) > 0 {
			due = p.heap[0].p.due
		}
		if p.count == 0 {
			due = time.Now().Add(pollerLinger).UnixNano()
		}
		n := p.wait(due)
		now := time.Now()
		p.takeRequests(evfd)
		for i := range n {
			ev := &p.events[i]
			if ev.Fd == evfdSlot {
				continue
			}
			slot := ev.Fd
			if int(slot) >= len(p.conns) || p.gens[slot] != uint32(ev.Pad) || p.conns[slot] == nil {
				continue // the connection went earlier in this batch
			}
			p.handle(p.conns[slot], now, n)
		}
		p.expire(now)

		if p.count > 0 {
			emptySince = time.Time{}
			continue
		}
		if emptySince.IsZero() {
			emptySince = now
		}
		if now.Sub(emptySince) < pollerLinger {
			continue
		}
		p.mu.Lock()
		if len(p.adds) == 0 && len(p.touched) == 0 {
			p.running = false
			syscall.Close(evfd)
			p.ef.Close() // and epfd
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// takeRequests watches the sockets handed over and acts on the touched
// connections.
func (p *poller) takeRequests(evfd int) {
	p.mu.Lock()
	adds, touched := p.adds, p.touched
	p.adds, p.touched = nil, nil
	if p.kicked {
		p.kicked = false
		var b [8]byte
		syscall.Read(evfd, b[:])
	}
	p.mu.Unlock()
	for _, c := range adds {
		p.watch(c)
	}
	for _, c := range touched {
		if !p.holds(c) {
			continue
		}
		if c.p.aborted.Load() {
			p.end(c)
			continue
		}
		if c.p.paused.Load() && !c.w.busy() {
			p.resume(c)
		}
		p.schedule(c)
	}
}

// pause stops reading c while a goroutine waits to write to it. ONESHOT
// with no event asked: a hang-up is reported once, not in a loop.
func (p *poller) pause(c *Conn) {
	c.p.paused.Store(true)
	p.ctl(c, syscall.EPOLL_CTL_MOD, syscall.EPOLLONESHOT)
	if !c.w.busy() {
		p.resume(c) // the write finished meanwhile
	}
}

func (p *poller) resume(c *Conn) {
	if c.p.paused.Swap(false) {
		p.ctl(c, syscall.EPOLL_CTL_MOD, syscall.EPOLLIN)
	}
}

// ctl applies epoll_ctl op to c's socket, the event carrying its slot and
// generation; it fails once the socket is closed.
func (p *poller) ctl(c *Conn, op int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: c.p.slot, Pad: int32(c.p.gen)}
	var cerr error
	if err := c.r.sock.rc.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	}); err != nil {
		return err
	}
	return cerr
}

func (p *poller) holds(c *Conn) bool {
	s := c.p.slot
	return s >= 0 && int(s) < len(p.conns) && p.conns[s] == c
}

func (p *poller) watch(c *Conn) {
	var slot int32
	if k := len(p.free); k > 0 {
		slot = p.free[k-1]
		p.free = p.free[:k-1]
	} else {
		slot = int32(len(p.conns))
		p.conns = append(p.conns, nil)
		p.gens = append(p.gens, 0)
	}
	p.gens[slot]++
	c.p.slot, c.p.gen = slot, p.gens[slot]
	p.conns[slot] = c
	p.count++
	if p.ctl(c, syscall.EPOLL_CTL_ADD, syscall.EPOLLIN) != nil || c.p.aborted.Load() {
		// Closed under us (a write failed before the hand-over).
		p.end(c)
		return
	}
	p.schedule(c)
}

// handle reads what c's socket holds and processes it, taking the loop for
// each read's listeners.
func (p *poller) handle(c *Conn, now time.Time, batch int) {
	r := &c.r
	prev := r.lastRead
	if c.p.aborted.Load() {
		p.end(c)
		return
	}
	if c.p.paused.Load() {
		return // a hang-up while paused: the writing goroutine sees it too
	}
	ended, writing := false, false
	for range maxReadsPerWake {
		buf, n, err, again := r.sock.readNow()
		if again {
			break
		}
		full := n == len(buf)
		if n > 0 {
			r.lastRead = monoOf(now)
			r.pingSent = false
			c.bytesIn.Add(uint64(n))
			// The listeners run in place, under the loop's lock, which
			// the system calls do without (other pollers and goroutines
			// take it meanwhile). What they queue for this read goes out
			// with one writev after it, as on the I/O goroutine. (A loop
			// that is not running holds up the sockets with something
			// to read.)
			c.w.holdFlush()
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
			writing = c.w.releaseFlushNow(p)
		}
		if buf != nil {
			bufpool.Put(buf)
		}
		if err != nil {
			ended = true
			break
		}
		if r.failed || r.peerClosed || !full || writing {
			break
		}
	}
	if ended || r.failed || r.peerClosed || c.p.aborted.Load() {
		p.end(c)
		return
	}
	if c.w.busy() {
		p.pause(c)
	} else if batch <= hotBatch && prev != 0 && monoOf(now)-prev < mono(hotGap) {
		p.release(c)
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

// release stops watching c, whose peer keeps it busy, and gives it a
// goroutine of its own until it is quiet again.
func (p *poller) release(c *Conn) {
	p.forget(c)
	c.p.watched.Store(false)
	if c.p.aborted.Load() {
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
	if c.p.aborted.Load() {
		c.nc.Close()
	}
	go c.finish()
}

// schedule puts c's next deadline in the heap. An entry that is too early
// costs a wake-up that reschedules it; one too late would miss a timer, so
// only a deadline that moved earlier touches the heap.
func (p *poller) schedule(c *Conn) {
	d := c.nextDeadline(c.closeDeadline.Load())
	if d.IsZero() {
		p.heapRemove(c)
		return
	}
	due := d.UnixNano()
	switch {
	case c.p.hidx < 0:
		c.p.due = due
		c.p.hidx = int32(len(p.heap))
		p.heap = append(p.heap, c)
		p.up(int(c.p.hidx))
	case due < c.p.due:
		c.p.due = due
		p.up(int(c.p.hidx))
	}
}

// expire runs the timers that are due.
func (p *poller) expire(now time.Time) {
	t := now.UnixNano()
	for len(p.heap) > 0 && p.heap[0].p.due <= t {
		c := p.heap[0]
		d := c.nextDeadline(c.closeDeadline.Load())
		if !d.IsZero() && d.UnixNano() > t {
			c.p.due = d.UnixNano() // an early entry: the connection was busy
			p.down(0)
			continue
		}
		p.heapRemove(c)
		if !c.expired(now) || c.r.failed || c.p.aborted.Load() {
			p.end(c)
			continue
		}
		p.schedule(c)
	}
}

func (p *poller) heapRemove(c *Conn) {
	i := int(c.p.hidx)
	if i < 0 {
		return
	}
	last := len(p.heap) - 1
	if i != last {
		p.swap(i, last)
	}
	p.heap[last] = nil
	p.heap = p.heap[:last]
	c.p.hidx = -1
	if i != last {
		p.down(i)
		p.up(i)
	}
}

func (p *poller) swap(i, j int) {
	h := p.heap
	h[i], h[j] = h[j], h[i]
	h[i].p.hidx = int32(i)
	h[j].p.hidx = int32(j)
}

func (p *poller) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if p.heap[parent].p.due <= p.heap[i].p.due {
			return
		}
		p.swap(i, parent)
		i = parent
	}
}

func (p *poller) down(i int) {
	n := len(p.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && p.heap[r].p.due < p.heap[l].p.due {
			m = r
		}
		if p.heap[i].p.due <= p.heap[m].p.due {
			return
		}
		p.swap(i, m)
		i = m
	}
}

// releaseFlushNow is releaseFlush for the poller, which must never block:
// it writes what the socket takes at once and leaves the rest to a
// flushing goroutine. It reports whether a goroutine is writing the queue
// out (this one's or another's), as busy would.
func (w *writer) releaseFlushNow(p *poller) (writing bool) {
	w.mu.Lock()
	w.held = false
	if w.writing || (w.queued == 0 && !w.pongSlot) {
		writing = w.writing
		w.mu.Unlock()
		return writing
	}
	w.queuePongSlot()
	w.settle()
	if w.err != nil {
		w.mu.Unlock()
		w.c.abort()
		return false
	}
	n, err := w.writeNow(&p.wv)
	if n > 0 {
		w.consumed(n)
	}
	switch {
	case err != nil:
		w.err = err
		w.mu.Unlock()
		w.c.abort()
		return false
	case w.queued > 0:
		// The socket is full: a goroutine waits for it.
		w.writing = true
		w.mu.Unlock()
		go w.flushAsync()
		return true
	}
	drain := w.drainDue()
	w.mu.Unlock()
	w.c.drained(drain)
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

// writeFirst writes what the socket takes of the queue without blocking,
// for an I/O goroutine before its blocking flush; w.mu is held and nobody
// else is writing.
func (w *writer) writeFirst() error {
	if !w.c.r.sock.usable() {
		return nil
	}
	wv := writevPool.Get().(*writev)
	n, err := w.writeNow(wv)
	writevPool.Put(wv)
	if n > 0 {
		w.consumed(n)
	}
	return err
}

// writeNow writes as much of the queue as the socket takes without
// blocking, with one writev; w.mu is held and nobody else is writing.
func (w *writer) writeNow(wv *writev) (int, error) {
	if wv.fn == nil {
		wv.fn = func(fd uintptr) bool {
			for {
				wv.n, _, wv.errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&wv.iov[0])), uintptr(len(wv.iov)))
				if wv.errno != syscall.EINTR {
					return true
				}
			}
		}
	}
	v := wv.iov[:0]
	for i, b := range w.out {
		if i == maxIovecs {
			break
		}
		if i == 0 {
			b = b[w.off:]
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
	err := w.c.r.sock.rc.Write(wv.fn)
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
