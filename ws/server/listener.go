package server

import (
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// listener is one open location: its own accept loop tunes each accepted
// connection and hands it to the server's current HTTP front end, so that
// a reconfigured front end (new header limits, timeouts) takes over new
// connections while the sockets stay open. loc is guarded by the server's
// mu; the accept loop reads what it needs of it from accept.
type listener struct {
	loc     Location
	accept  atomic.Pointer[acceptOptions]
	ln      net.Listener
	s       *Server
	done    chan struct{} // closed when the accept loop has ended
	closing atomic.Bool   // the server closed ln (rather than the user)
}

// acceptOptions is what a listener applies to each accepted connection.
type acceptOptions struct {
	tls   *tls.Config // loc.TLS restricted to HTTP/1.1
	nagle bool
}

func newListener(s *Server, loc Location) (*listener, error) {
	ln, err := loc.listen()
	if err != nil {
		return nil, err
	}
	l := &listener{ln: ln, s: s, done: make(chan struct{})}
	l.retune(loc)
	return l, nil
}

// retune makes the listener serve loc, a location with the same socket
// (see Location.sameSocket); the server's mu is held.
func (l *listener) retune(loc Location) {
	l.loc = loc
	o := &acceptOptions{nagle: loc.Nagle}
	if loc.TLS != nil {
		o.tls = loc.TLS.Clone()
		o.tls.NextProtos = []string{"http/1.1"}
		if extendedConnect {
			o.tls.NextProtos = []string{"h2", "http/1.1"}
		}
	}
	l.accept.Store(o)
}

func (l *listener) serve() {
	defer close(l.done)
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry
			// rather than spin or give up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		o := l.accept.Load()
		// Go sets TCP_NODELAY on every accepted connection already.
		if tc, ok := nc.(*net.TCPConn); ok && o.nagle {
			tc.SetNoDelay(false)
		}
		if o.tls != nil {
			nc = tls.Server(nc, o.tls)
		}
		if fe := l.s.front(); fe != nil {
			l.s.workers.serve(l.s, nc, fe)
		} else {
			nc.Close()
		}
	}
}

// workers are the goroutines that read the accepted connections' first
// requests and upgrade them (serveConn). One that is done waits up to
// workerIdle for the next connection, up to maxIdle of them at a time: a
// goroutine starts on a small stack, which the upgrade and the
// connection's first reads grow by copying it, several times, costing a
// new goroutine per connection more instructions than parsing its
// request. A waiting worker keeps its grown stack. The accept loops call
// serve; Run calls start, and Stop calls stop, which ends the waiting ones
// at once.
type workers struct {
	jobs    chan job // unbuffered: a send succeeds only when a worker waits
	maxIdle int

	mu   sync.Mutex
	quit chan struct{} // closed by stop; nil while stopped
	idle int           // workers waiting
}

// workerIdle is how long a worker waits for the next connection: long
// enough for a steady stream of connections, short enough not to keep
// goroutines after a burst.
const workerIdle = time.Second

type job struct {
	nc net.Conn
	fe *frontEnd
}

func newWorkers() *workers {
	return &workers{jobs: make(chan job), maxIdle: max(8, 2*runtime.GOMAXPROCS(0))}
}

// serve has nc served by a waiting worker, or by a new one.
func (w *workers) serve(s *Server, nc net.Conn, fe *frontEnd) {
	select {
	case w.jobs <- job{nc, fe}:
	default:
		go w.work(s, job{nc, fe})
	}
}

func (w *workers) work(s *Server, j job) {
	var t *time.Timer
	for ok := true; ok; j, ok = w.next(&t) {
		s.serveConn(j.nc, j.fe)
	}
	if t != nil {
		t.Stop()
	}
}

// next waits for the next connection, with *t (the worker's timer, made
// on its first wait) as the deadline; false when there are enough
// waiting workers already, none came in time or the server stopped.
func (w *workers) next(t **time.Timer) (job, bool) {
	w.mu.Lock()
	quit := w.quit
	if quit == nil || w.idle >= w.maxIdle {
		w.mu.Unlock()
		return job{}, false
	}
	w.idle++
	w.mu.Unlock()
	if *t == nil {
		*t = time.NewTimer(workerIdle)
	} else {
		(*t).Reset(workerIdle)
	}
	var j job
	ok := true
	select {
	case j = <-w.jobs:
	case <-quit:
		ok = false
	case <-(*t).C:
		ok = false
	}
	w.mu.Lock()
	w.idle--
	w.mu.Unlock()
	return j, ok
}

// start lets workers wait for connections.
func (w *workers) start() {
	w.mu.Lock()
	if w.quit == nil {
		w.quit = make(chan struct{})
	}
	w.mu.Unlock()
}

// stop ends the waiting workers; those still serving end when done.
func (w *workers) stop() {
	w.mu.Lock()
	if w.quit != nil {
		close(w.quit)
		w.quit = nil
	}
	w.mu.Unlock()
}

// close stops accepting; the accept loop ends on its own.
func (l *listener) close() {
	l.closing.Store(true)
	l.ln.Close()
}

// open reports whether the listening socket is open: the user may have
// closed it (Server.Listeners hands it out). A closed socket refuses a
// control call at once, so this holds as soon as Close has returned,
// before the accept loop has seen it.
func (l *listener) open() bool {
	select {
	case <-l.done:
		return false
	default:
	}
	if l.closing.Load() {
		return false
	}
	if sc, ok := l.ln.(syscall.Conn); ok {
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		return rc.Control(func(uintptr) {}) == nil
	}
	return true
}

// pipeListener is the net.Listener an http.Server serves: the accept loops
// push connections into it.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (p *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipeListener) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "unievent-locations" }

// feed hands nc to the HTTP server, or closes it when that has stopped.
func (f *frontEnd) feed(nc net.Conn) {
	select {
	case f.pipe.conns <- nc:
	case <-f.pipe.closed:
		nc.Close()
	}
}
