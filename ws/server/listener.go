package server

import (
	"crypto/tls"
	"errors"
	"net"
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
			go l.s.serveConn(nc, fe)
		} else {
			nc.Close()
		}
	}
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
