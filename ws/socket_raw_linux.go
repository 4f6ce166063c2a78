//go:build !unievent_nopoll

package ws

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// rawSocket is the transport of a plain TCP connection once its loop's
// poller has taken it (Loop.poll): the socket's descriptor, owned by the
// engine, in place of the *net.TCPConn it was accepted or dialled as. An
// idle connection so keeps no netFD, no TCPAddrs (the addresses are kept
// here, as values) and no runtime pollDesc (each net.Conn holds one, off
// the heap): about 700 bytes of RSS per connection. The poller needs none
// of them: it reads and writes without blocking, watches the descriptor
// with its own epoll instance and keeps its own timers.
//
// What must wait for the socket (a busy connection's reads on its own
// goroutine, a write the socket does not take at once, the close's last
// read) waits on a duplicate of the descriptor made for it, a file in Go's
// runtime poller with the deadlines set on the transport (waitFile). It is
// made on the first wait and dropped again by the reading side once the
// poller has the connection back and nothing writes (dropWait): a busy
// period costs five system calls more than it did on the net.TCPConn
// (dup, fcntl and epoll_ctl to make it, epoll_ctl and close to drop it),
// an idle connection nothing.
//
// The descriptor is closed exactly once, and never while a system call
// on it may run: every use holds a reference (incref, decref), and Close
// leaves the close(2) to the last one out, so that a descriptor number
// reused by the next accept is never read, written or closed under
// another connection. The wait file's descriptor is the runtime's, which
// guards it the same way; Close closes it too, which wakes whatever waits
// on it with an error.
//
// The deadlines bound waiting: an operation the socket completes at once
// succeeds even past them. Reading and writing (the transport's methods
// or the raw access's) may be done by one goroutine at a time each; Close,
// the deadlines and the addresses by any. Only the
// reading side (the poller, or the goroutine that hands the connection to
// it) calls dropWait, while the send queue's lock shows that nothing
// writes.
type rawSocket struct {
	fd   int
	refs atomic.Int32 // bit 0: closed; the rest: system calls in flight, 2 each
	lent atomic.Bool  // a NetConn was made on a duplicate (netConn); shares refs' word

	mu       sync.Mutex // guards making and dropping the wait file, and the deadlines
	wait     atomic.Pointer[waitFile]
	rdl, wdl atomic.Int64 // the deadlines (mono; 0: none), set under mu, applied to the wait file once made

	local, remote netip.AddrPort
}

// waitFile is a duplicate of a rawSocket's descriptor in Go's runtime
// poller, for waiting until the socket is readable or writable.
type waitFile struct {
	f  *os.File
	rc syscall.RawConn
}

// newRawSocket takes tc's socket as a rawSocket: it duplicates the
// descriptor (the duplicate shares the socket and its O_NONBLOCK) and
// closes tc, which gives its netFD and pollDesc back to the runtime.
// Nothing else may be using tc.
func newRawSocket(tc *net.TCPConn) (*rawSocket, error) {
	la, _ := tc.LocalAddr().(*net.TCPAddr)
	ra, _ := tc.RemoteAddr().(*net.TCPAddr)
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(f uintptr) { fd, derr = dupCloexec(int(f)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	s := &rawSocket{fd: fd}
	if la != nil {
		s.local = la.AddrPort()
	}
	if ra != nil {
		s.remote = ra.AddrPort()
	}
	tc.Close()
	return s, nil
}

func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, os.NewSyscallError("fcntl", e)
	}
	return int(r), nil
}

// incref reports whether the descriptor is open, and keeps it open until
// decref.
func (s *rawSocket) incref() bool {
	for {
		r := s.refs.Load()
		if r&1 != 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+2) {
			return true
		}
	}
}

// decref ends a use of the descriptor; the last one after Close closes it.
func (s *rawSocket) decref() {
	if s.refs.Add(-2) == 1 {
		syscall.Close(s.fd)
	}
}

// markClosed marks the descriptor closed, once, and closes it unless a
// system call on it is in flight (decref then does). It reports false when
// it was closed already.
func (s *rawSocket) markClosed() bool {
	for {
		r := s.refs.Load()
		if r&1 != 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r|1) {
			if r == 0 {
				syscall.Close(s.fd)
			}
			return true
		}
	}
}

// waitFor returns the wait file, making it on the first wait.
func (s *rawSocket) waitFor() (*waitFile, error) {
	if w := s.wait.Load(); w != nil {
		return w, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.wait.Load(); w != nil {
		return w, nil
	}
	if !s.incref() {
		return nil, net.ErrClosed
	}
	fd, err := dupCloexec(s.fd)
	s.decref()
	if err != nil {
		return nil, err
	}
	// The duplicate is non-blocking (it shares the socket's file status
	// flags), so os.NewFile puts it in the runtime's poller; a deadline
	// that cannot be set says it did not.
	f := os.NewFile(uintptr(fd), "socket")
	if err := f.SetReadDeadline(mono(s.rdl.Load()).time()); err != nil {
		f.Close()
		return nil, err
	}
	f.SetWriteDeadline(mono(s.wdl.Load()).time())
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &waitFile{f: f, rc: rc}
	s.wait.Store(w)
	return w, nil
}

// holdsWait reports whether the wait file is made.
func (s *rawSocket) holdsWait() bool { return s.wait.Load() != nil }

// dropWait closes the wait file, which nothing may be waiting on: the
// reading side calls it, under the send queue's lock, when nothing writes.
func (s *rawSocket) dropWait() {
	s.mu.Lock()
	w := s.wait.Swap(nil)
	s.mu.Unlock()
	if w != nil {
		w.f.Close()
	}
}

// Close closes the socket: the wait file (whatever waits on it fails at
// once) and the descriptor, once its system calls in flight are done.
// Once a NetConn was made on a duplicate, which may still be open, it
// shuts the socket down first: closing our descriptor alone would leave
// the connection open, with no FIN, for as long as the duplicate is.
func (s *rawSocket) Close() error {
	if s.lent.Load() && s.incref() {
		syscall.Shutdown(s.fd, syscall.SHUT_RDWR)
		s.decref()
	}
	s.mu.Lock()
	if !s.markClosed() {
		s.mu.Unlock()
		return net.ErrClosed
	}
	w := s.wait.Swap(nil)
	s.mu.Unlock()
	if w != nil {
		w.f.Close()
	}
	return nil
}

// Read reads into p, waiting (until the read deadline) while the socket
// has nothing.
func (s *rawSocket) Read(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := s.access().Read(func(fd uintptr) bool {
		for {
			n, errno = readNB(fd, p)
			if errno != syscall.EINTR {
				return errno != syscall.EAGAIN
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, waiting (until the write deadline) while the
// socket is full.
func (s *rawSocket) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		var n int
		var errno syscall.Errno
		err := s.access().Write(func(fd uintptr) bool {
			for {
				n, errno = writeNB(fd, p[written:])
				if errno != syscall.EINTR {
					return errno != syscall.EAGAIN
				}
			}
		})
		switch {
		case err != nil:
			return written, err
		case errno != 0:
			return written, os.NewSyscallError("write", errno)
		}
		written += n
	}
	return written, nil
}

// writeBuffers writes every byte of bufs with writev(2), waiting (until
// the write deadline) while the socket is full, and consumes what it
// wrote from bufs: one system call per batch, as net.Buffers makes on a
// net.TCPConn.
func (s *rawSocket) writeBuffers(bufs *net.Buffers) (int64, error) {
	wv := writevPool.Get().(*writev)
	defer writevPool.Put(wv)
	var total int64
	fn := func(fd uintptr) bool {
		for {
			n, errno := writevNB(fd, wv.iov)
			wv.n, wv.errno = uintptr(n), errno
			if wv.errno != syscall.EINTR {
				return wv.errno != syscall.EAGAIN
			}
		}
	}
	for {
		v := wv.iov[:0]
		for _, b := range *bufs {
			if len(v) == maxIovecs {
				break
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
			return total, nil
		}
		wv.n, wv.errno = 0, 0
		err := s.access().Write(fn)
		clear(v)
		switch {
		case err != nil:
			return total, err
		case wv.errno != 0:
			return total, os.NewSyscallError("writev", wv.errno)
		}
		total += int64(wv.n)
		consume(bufs, int(wv.n))
	}
}

// consume drops the first n bytes of bufs.
func consume(bufs *net.Buffers, n int) {
	for len(*bufs) > 0 && n >= len((*bufs)[0]) {
		n -= len((*bufs)[0])
		(*bufs)[0] = nil
		*bufs = (*bufs)[1:]
	}
	if n > 0 {
		(*bufs)[0] = (*bufs)[0][n:]
	}
}

// CloseWrite shuts the sending side down (our FIN).
func (s *rawSocket) CloseWrite() error {
	if !s.incref() {
		return net.ErrClosed
	}
	defer s.decref()
	return os.NewSyscallError("shutdown", syscall.Shutdown(s.fd, syscall.SHUT_WR))
}

// SetReadDeadline bounds the waits of reads from now on.
func (s *rawSocket) SetReadDeadline(t time.Time) error {
	return s.setDeadline(&s.rdl, t, (*os.File).SetReadDeadline)
}

// SetWriteDeadline bounds the waits of writes from now on.
func (s *rawSocket) SetWriteDeadline(t time.Time) error {
	return s.setDeadline(&s.wdl, t, (*os.File).SetWriteDeadline)
}

func (s *rawSocket) setDeadline(d *atomic.Int64, t time.Time, set func(*os.File, time.Time) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs.Load()&1 != 0 {
		return net.ErrClosed
	}
	d.Store(int64(monoOf(t)))
	if w := s.wait.Load(); w != nil {
		return set(w.f, t)
	}
	return nil
}

// monoOf is t on the engine's clock, 0 for the zero time (no deadline).
func monoOf(t time.Time) mono {
	if t.IsZero() {
		return 0
	}
	if m := mono(t.Sub(monoEpoch)); m != 0 {
		return m
	}
	return 1
}

// LocalAddr returns the local address, as the net.TCPConn had it.
func (s *rawSocket) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(s.local) }

// RemoteAddr returns the peer's address, as the net.TCPConn had it.
func (s *rawSocket) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(s.remote) }

// netConn makes a *net.TCPConn on a duplicate of the descriptor (see
// Conn.NetConn): its socket options are the connection's; closing it
// closes the duplicate only.
func (s *rawSocket) netConn() net.Conn {
	if !s.incref() {
		return nil
	}
	fd, err := dupCloexec(s.fd)
	s.decref()
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "socket")
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil
	}
	s.lent.Store(true)
	return nc
}

// rawAccess is a rawSocket's syscall.RawConn (the sockReader's reads, the
// non-blocking writev, the poller's epoll_ctl): the descriptor itself, or
// its wait file's once made. The epoll instance always watches the
// descriptor itself (Control).
type rawAccess rawSocket

func (s *rawSocket) access() *rawAccess { return (*rawAccess)(s) }

// Control runs f on the descriptor, which stays open meanwhile.
func (a *rawAccess) Control(f func(fd uintptr)) error {
	s := (*rawSocket)(a)
	if !s.incref() {
		return net.ErrClosed
	}
	f(uintptr(s.fd))
	s.decref()
	return nil
}

// epollCtl is epoll_ctl(epfd, op, the descriptor, ev), with the
// descriptor held open meanwhile: the poller's Control without a closure,
// which would be made on the heap for every call through the RawConn
// interface.
func (a *rawAccess) epollCtl(epfd, op int, ev *syscall.EpollEvent) error {
	s := (*rawSocket)(a)
	if !s.incref() {
		return net.ErrClosed
	}
	err := syscall.EpollCtl(epfd, op, s.fd, ev)
	s.decref()
	return err
}

// Read runs f until it reports done, waiting for the socket to be readable
// in between (on the wait file, made for it).
func (a *rawAccess) Read(f func(fd uintptr) bool) error {
	return (*rawSocket)(a).raw(f, &a.rdl, (syscall.RawConn).Read)
}

// Write runs f until it reports done, waiting for the socket to be
// writable in between.
func (a *rawAccess) Write(f func(fd uintptr) bool) error {
	return (*rawSocket)(a).raw(f, &a.wdl, (syscall.RawConn).Write)
}

func (s *rawSocket) raw(f func(fd uintptr) bool, deadline *atomic.Int64, wait func(syscall.RawConn, func(uintptr) bool) error) error {
	if w := s.wait.Load(); w == nil {
		// As on a net.Conn (and on the wait file, whose runtime poller
		// checks it), an operation past its deadline fails without being
		// tried: a peer that keeps the socket readable must not push the
		// goroutine driver's timers (the close timeout among them) back.
		if d := mono(deadline.Load()); d != 0 && monoNow() >= d {
			return os.ErrDeadlineExceeded
		}
		if !s.incref() {
			return net.ErrClosed
		}
		done := f(uintptr(s.fd))
		s.decref()
		if done {
			return nil
		}
	}
	w, err := s.waitFor()
	if err != nil {
		return err
	}
	return wait(w.rc, f)
}

// shedRuntimeSocket gives back what the connection holds of Go's runtime
// poller, as its poller is about to watch it: a *net.TCPConn becomes a
// rawSocket, a rawSocket drops its wait file. The reading goroutine calls
// it (Loop.poll). While a flushing goroutine writes the queue it may be
// waiting on either, so both stay until the next hand-off.
func (c *Conn) shedRuntimeSocket() {
	q := &c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.writing {
		return
	}
	switch nc := c.nc.(type) {
	case *rawSocket:
		nc.dropWait()
	case *net.TCPConn:
		if s, err := newRawSocket(nc); err == nil {
			c.nc = s
			c.r.sock.rc = s.access()
		}
	}
}

// dropIdleWait drops the wait file of a connection the poller holds once
// nothing writes its queue (the poller calls it when woken after a
// flush).
func (c *Conn) dropIdleWait() {
	q := &c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if s, ok := c.nc.(*rawSocket); ok && !q.writing {
		s.dropWait()
	}
}

// holdsWait reports whether the connection's rawSocket holds a wait file
// (for the poller to drop once the flush that made it is over).
func (c *Conn) holdsWait() bool {
	s, ok := c.transport().(*rawSocket)
	return ok && s.holdsWait()
}
