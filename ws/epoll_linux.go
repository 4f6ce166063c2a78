//go:build !unievent_nopoll

package ws

import (
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// A poller is the epoll driver of a loop's plain sockets (see driver.go);
// a loop has pollersPerCore per core (maxPollers at most), and deals its
// connections out to them in turn. Once a plain connection has been
// silent for handoffWait, its I/O goroutine hands the socket to its poller
// and ends.
// A poller's goroutine waits for its epoll instance in Go's runtime poller
// (so no thread sleeps in epoll_wait for it), and for every ready socket
// reads what is there, decodes it and, under the loop's lock, runs the
// listeners in place; then it writes what they queued without blocking (a
// socket that will not take it all gets a goroutine that waits for it).
// The system calls run outside the lock, so the pollers of a loop read and
// write in parallel while its listeners still run one at a time. This
// file holds the poller's lifecycle (epoll instance, goroutine, the
// sockets it watches); epoll_dispatch_linux.go what it does with a ready
// socket, epoll_timers_linux.go its timer heap, socket_writev_linux.go
// the non-blocking writev.
//
// The end of a connection (flushing our close frame, the close listeners,
// waiting for the peer's FIN) may block, so it runs on a goroutine of its
// own, after the poller has stopped watching the socket.
//
// A plain TCP connection's net.TCPConn is traded for its descriptor as the
// poller takes it (rawSocket, socket_raw_linux.go): an idle connection
// holds nothing of Go's runtime poller. Whatever must wait for the socket
// (a flushing goroutine, the connection's own goroutine once the poller
// lets go, the end of the connection) waits on a duplicate descriptor in
// the runtime's poller, made for it and dropped at the next hand-off.

// maxReadsPerWake bounds the reads of one socket per wake-up, so that one
// busy peer cannot starve the others; epoll reports it again at once.
const maxReadsPerWake = 4

// pollersPerCore is how many pollers a loop has per core (GOMAXPROCS), up
// to maxPollers, connections dealt out in turn. Their system calls run in
// parallel; the listeners still run one at a time, under the loop's lock,
// which a poller takes for each read's events. With the socket calls made
// through entersyscall, eight per core did best: the scheduler took the
// processor from a poller in a loopback write and a core whose share of
// the sockets had nothing ready went to sleep, so more pollers kept the
// cores busy. With RawSyscall (sysnb_linux.go) nothing is handed over, and
// one per core makes fewer epoll_pwait calls for the same work: e3 163.0k
// msg/s at 5.63 us of server CPU against 147.7k at 6.30 with eight
// (docs/performance.md, "Pollers per core, again").
const (
	pollersPerCore = 1
	maxPollers     = 64
)

// pollerCount is the number of pollers of a loop.
func pollerCount() int { return min(pollersPerCore*runtime.GOMAXPROCS(0), maxPollers) }

// pollerLinger is how long a poller with nothing to watch keeps its
// goroutine and its epoll instance before it lets them go.
const pollerLinger = time.Second

// pollable turns the poller off for tests of the goroutine-per-socket
// path.
var pollable = true

// handoffWait is how long a connection's I/O goroutine waits for its peer
// before it hands the socket to the poller.
const handoffWait = 5 * time.Millisecond

// pollState is a connection's part in its poller. watched and paused are
// read by any goroutine; the rest belongs to the poller goroutine.
type pollState struct {
	// watched is set before the poller is asked to watch the socket, and
	// cleared only by the poller when it hands a busy connection back to
	// a goroutine: while it is set, the poller (or the goroutine it hands
	// the end of the connection to) owns reading and closing the socket.
	watched atomic.Bool
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
	due  mono   // the deadline the heap holds, never later than the real one
}

// pollerSet is a loop's pollers, made with the first socket they watch.
type pollerSet struct {
	mu   sync.Mutex
	pls  []*poller
	next int
}

// driver returns the driver serving c: its poller while it watches the
// socket, its own goroutine otherwise.
func (c *Conn) driver() driver {
	if c.p.watched.Load() {
		return c.p.pl
	}
	return goroutineDriver{}
}

type poller struct {
	loop *Loop

	mu      sync.Mutex
	running bool
	epfd    int
	evfd    int // an eventfd that wakes epoll_wait
	adds    []*Conn
	woken   []*Conn
	kicked  bool

	// The rest belongs to the poller goroutine.
	conns  []*Conn
	gens   []uint32
	free   []int32
	count  int
	heap   []*Conn
	events []syscall.EpollEvent

	wv writev      // the poller's writes
	rd readScratch // the poller's reads, one connection at a time

	// The epoll instance as a file the runtime's poller waits for, the
	// deadline armed on it (0 none, -1 passed), and the closure that asks
	// it for events.
	ef    *os.File
	erc   syscall.RawConn
	armed mono
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
		ps := &l.pollers
		ps.mu.Lock()
		if ps.pls == nil {
			ps.pls = make([]*poller, pollerCount())
			for i := range ps.pls {
				ps.pls[i] = &poller{loop: l}
			}
		}
		p = ps.pls[ps.next%len(ps.pls)]
		ps.next++
		ps.mu.Unlock()
		c.p.pl = p
	}
	c.shedRuntimeSocket()
	c.p.hidx = -1
	c.r.sock.size = max(c.r.sock.size, pollerReadBufferSize)
	c.p.watched.Store(true)
	if err := p.add(c); err != nil {
		// No epoll here: the connection goes on without it; Close and
		// abort already report to a poller that will never see it, so
		// it is dropped.
		slog.Error("ws: poller unavailable", "err", err)
		c.aborted.Store(true)
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

// wake asks the poller to look at c again: its close deadline moved, it
// was aborted, or the write it paused reading for is done. Any goroutine
// may call it.
func (p *poller) wake(c *Conn) {
	p.mu.Lock()
	p.woken = append(p.woken, c)
	p.wakeLocked()
	p.mu.Unlock()
}

// written is told that a flushing goroutine wrote c's queue out: a paused
// socket is read again, and the wait file the write may have made is
// dropped.
func (p *poller) written(c *Conn) {
	if c.p.paused.Load() || c.holdsWait() {
		p.wake(c)
	}
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
// or the deadline passes. The instance is asked without waiting first
// (efn, which the runtime's raw read calls before it parks), and each time
// the runtime reports it: it is readable while any event is pending, and a
// new event after an empty answer always makes a new edge. A new deadline
// is set only after an empty answer, so a poller that is busy leaves its
// timer alone; with the deadline unchanged the instance is asked once per
// park, not twice.
func (p *poller) wait(due mono) int {
	if due != p.armed {
		if n := epollNow(p.epfd, p.events); n > 0 {
			return n
		}
		p.ef.SetReadDeadline(due.time())
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
	var emptySince mono
	for {
		var due mono
		if len(p.heap) > 0 {
			due = p.heap[0].p.due
		}
		if p.count == 0 {
			due = monoNow() + mono(pollerLinger)
		}
		n := p.wait(due)
		now := monoNow()
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
			emptySince = 0
			continue
		}
		if emptySince == 0 {
			emptySince = now
		}
		if now-emptySince < mono(pollerLinger) {
			continue
		}
		p.mu.Lock()
		if len(p.adds) == 0 && len(p.woken) == 0 {
			p.running = false
			syscall.Close(evfd)
			p.ef.Close() // and epfd
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// takeRequests watches the sockets handed over and acts on the woken
// connections.
func (p *poller) takeRequests(evfd int) {
	p.mu.Lock()
	adds, woken := p.adds, p.woken
	p.adds, p.woken = nil, nil
	if p.kicked {
		p.kicked = false
		var b [8]byte
		syscall.Read(evfd, b[:])
	}
	p.mu.Unlock()
	for _, c := range adds {
		p.watch(c)
	}
	for _, c := range woken {
		if !p.holds(c) {
			continue
		}
		if c.aborted.Load() {
			p.end(c)
			continue
		}
		if c.p.paused.Load() && !c.q.busy() {
			p.resume(c)
		}
		if !c.p.paused.Load() {
			c.dropIdleWait()
		}
		p.schedule(c)
	}
}

// pause stops reading c while a goroutine waits to write to it. ONESHOT
// with no event asked: a hang-up is reported once, not in a loop.
func (p *poller) pause(c *Conn) {
	c.p.paused.Store(true)
	p.ctl(c, syscall.EPOLL_CTL_MOD, syscall.EPOLLONESHOT)
	if !c.q.busy() {
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
	if a, ok := c.r.sock.rc.(*rawAccess); ok {
		return a.epollCtl(p.epfd, op, &ev)
	}
	return epollCtlConn(c.r.sock.rc, p.epfd, op, ev)
}

// epollCtlConn is ctl on a socket still in Go's runtime poller (a net.Conn
// whose descriptor was not taken: see shedRuntimeSocket).
func epollCtlConn(rc syscall.RawConn, epfd, op int, ev syscall.EpollEvent) error {
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(epfd, op, int(fd), &ev)
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
	if p.ctl(c, syscall.EPOLL_CTL_ADD, syscall.EPOLLIN) != nil || c.aborted.Load() {
		// Closed under us (a write failed before the hand-over).
		p.end(c)
		return
	}
	p.schedule(c)
}
