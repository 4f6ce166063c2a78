package server

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// listener is one open location: its own accept loop tunes each accepted
// connection and hands it to the server's current HTTP front end, so that
// a reconfigured front end (new header limits, timeouts) takes over new
// connections while the sockets stay open.
type listener struct {
	loc  Location
	tls  *tls.Config // loc.TLS restricted to HTTP/1.1
	ln   net.Listener
	s    *Server
	done chan struct{}
}

func newListener(s *Server, loc Location) (*listener, error) {
	ln, err := loc.listen()
	if err != nil {
		return nil, err
	}
	l := &listener{loc: loc, ln: ln, s: s, done: make(chan struct{})}
	if loc.TLS != nil {
		l.tls = loc.TLS.Clone()
		l.tls.NextProtos = []string{"http/1.1"}
	}
	return l, nil
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
		// TCPNoDelay needs no call: Go sets TCP_NODELAY on every
		// accepted connection already.
		if tc, ok := nc.(*net.TCPConn); ok && l.loc.Nagle {
			tc.SetNoDelay(false)
		}
		if l.tls != nil {
			nc = tls.Server(nc, l.tls)
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
	l.ln.Close()
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
