package server

import (
	"context"
	"crypto/tls"
	"errors"
	"iter"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// Errors of the server's lifecycle.
var (
	ErrNotRunning  = errors.New("server: not running")
	ErrNoListeners = errors.New("server: no listener")
	ErrStopped     = errors.New("server: stopped")
)

// Server is a WebSocket server whose callbacks run on a ws.Loop. With
// locations it listens itself (standalone); without, it upgrades the
// requests a foreign HTTP server hands it (UpgradeConnection, or mount the
// Server as an http.Handler). Every method is safe to call from any
// goroutine, callbacks of its loop included.
type Server struct {
	loop *ws.Loop

	mu        sync.Mutex
	cfg       *Config     // for new connections; replaced, never modified
	wsCfg     *ws.Config  // cfg.Config, shared by the connections it configured
	running   bool        // between Run and Stop
	listening bool        // false after StopListening
	listeners []*listener // open locations
	fe        *frontEnd   // the HTTP server the locations feed
	conns     map[uint64]*Conn
	pending   int               // upgrades between validation and registration
	heads     map[net.Conn]bool // connections whose request head the fast path is reading

	nextID    atomic.Uint64
	handshake atomic.Pointer[func(*Server, *Conn, *handshake.Request)]
	connEv    ws.Event[func(*Server, *Conn, *handshake.Request)]
	discEv    ws.Event[func(*Server, *Conn)]
}

// frontEnd is one generation of the HTTP server the locations feed.
type frontEnd struct {
	srv  *http.Server
	pipe *pipeListener
}

// New creates a server with cfg whose callbacks run on loop (DefaultLoop()
// when none is given). It neither listens nor serves until Run.
func New(cfg Config, loop ...*ws.Loop) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{conns: make(map[uint64]*Conn), listening: true}
	if len(loop) > 0 && loop[0] != nil {
		s.loop = loop[0]
	} else {
		s.loop = ws.DefaultLoop()
	}
	s.setConfig(&cfg)
	return s, nil
}

func (s *Server) setConfig(cfg *Config) {
	c := *cfg
	c.Locations = slices.Clone(cfg.Locations)
	c.Protocols = slices.Clone(cfg.Protocols)
	s.cfg = &c
	wc := c.Config
	s.wsCfg = &wc
}

// newFrontEnd builds an HTTP server from the current config; s.mu is held.
func (s *Server) newFrontEnd() *frontEnd {
	h := s.cfg.HTTP
	fe := &frontEnd{pipe: newPipeListener()}
	fe.srv = &http.Server{
		Handler:           s,
		MaxHeaderBytes:    max(h.MaxHeaderBytes, 0),
		ReadHeaderTimeout: orDuration(h.HandshakeTimeout, DefaultHandshakeTimeout),
		IdleTimeout:       orDuration(h.IdleTimeout, DefaultHTTPIdleTimeout),
		WriteTimeout:      orDuration(h.WriteTimeout, DefaultHTTPWriteTimeout),
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only
		ErrorLog:          log.New(discard{}, "", 0),
	}
	if fe.srv.MaxHeaderBytes == 0 {
		fe.srv.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	// The read deadline http.Server sets for the headers would otherwise
	// carry over to the hijacked connection; it is cleared at upgrade.
	fe.srv.ReadTimeout = 0
	go fe.srv.Serve(fe.pipe)
	return fe
}

// front returns the current HTTP front end.
func (s *Server) front() *frontEnd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fe
}

// Configure applies cfg to connections established from now on; open
// connections keep the config they started with. Listeners are compared
// with the running ones: removed locations stop listening (their
// connections are served on), new ones start, unchanged ones stay open.
func (s *Server) Configure(cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cfg
	s.setConfig(&cfg)
	if old.HTTP.frontEndChanged(cfg.HTTP) && s.fe != nil {
		prev := s.fe
		s.fe = s.newFrontEnd()
		// Requests in progress on the previous front end finish; it
		// accepts nothing more.
		prev.pipe.Close()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if prev.srv.Shutdown(ctx) != nil {
				prev.srv.Close()
			}
		}()
	}
	if s.running && s.listening {
		return s.syncListeners()
	}
	return nil
}

// syncListeners makes the open listeners match the configured locations;
// s.mu is held.
func (s *Server) syncListeners() error {
	want := make(map[Location]bool, len(s.cfg.Locations))
	for _, l := range s.cfg.Locations {
		want[l] = true
	}
	kept := s.listeners[:0]
	have := make(map[Location]bool)
	for _, l := range s.listeners {
		if want[l.loc] {
			kept = append(kept, l)
			have[l.loc] = true
			continue
		}
		l.close()
	}
	s.listeners = kept
	if len(s.cfg.Locations) > 0 && s.fe == nil {
		s.fe = s.newFrontEnd()
	}
	var errs []error
	for _, loc := range s.cfg.Locations {
		if have[loc] {
			continue
		}
		l, err := newListener(s, loc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.listeners = append(s.listeners, l)
		go l.serve()
	}
	return errors.Join(errs...)
}

// Loop returns the loop the server's callbacks run on.
func (s *Server) Loop() *ws.Loop { return s.loop }

// Run starts the server and returns at once: it opens the locations (an
// error when one cannot be opened; the others stay open) and registers the
// server as an active handle of its loop, whose Run then serves it.
func (s *Server) Run() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	s.running = true
	s.listening = true
	s.loop.Ref()
	return s.syncListeners()
}

// Stop sends a close frame with code (default ws.CloseAway) to every
// peer, stops listening and stops the server. Close and disconnection
// callbacks fire on each connection as the closing handshakes complete (or
// time out); the loop's Run returns once nothing else is left on it.
func (s *Server) Stop(code ...ws.CloseCode) {
	c := ws.CloseAway
	if len(code) > 0 {
		c = code[0]
	}
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.running = false
	for _, l := range s.listeners {
		l.close()
	}
	s.listeners = nil
	fe := s.fe
	s.fe = nil
	conns := make([]*Conn, 0, len(s.conns))
	for _, cn := range s.conns {
		conns = append(conns, cn)
	}
	heads := s.heads
	s.heads = nil
	s.mu.Unlock()
	if fe != nil {
		fe.pipe.Close()
		go fe.srv.Close()
	}
	for nc := range heads {
		nc.Close() // as net/http's Close does with the requests it is reading
	}
	for _, cn := range conns {
		cn.Close(c, "")
	}
	s.loop.Unref()
}

// StopListening closes the listening sockets; established connections
// are served on. Only meaningful with locations.
func (s *Server) StopListening() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listening = false
	for _, l := range s.listeners {
		l.close()
	}
	s.listeners = nil
}

// StartListening reopens the locations after StopListening. A location
// with port 0 gets a new ephemeral port.
func (s *Server) StartListening() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return ErrNotRunning
	}
	s.listening = true
	return s.syncListeners()
}

// Listeners returns the listening sockets, in the order of the
// locations. They are for inspection and socket options; closing one
// stops that location.
func (s *Server) Listeners() []net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Listener, 0, len(s.listeners))
	for _, loc := range s.cfg.Locations {
		for _, l := range s.listeners {
			if l.loc == loc {
				out = append(out, l.ln)
			}
		}
	}
	return out
}

// Addr returns the address of the first listener, or ErrNoListeners.
func (s *Server) Addr() (net.Addr, error) {
	ls := s.Listeners()
	if len(ls) == 0 {
		return nil, ErrNoListeners
	}
	return ls[0].Addr(), nil
}

// Connection returns the connection with the given id, nil when there is
// none (any more).
func (s *Server) Connection(id uint64) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// Connections iterates over the server's connections. It works on a
// snapshot taken when the iteration starts, so connections may come and
// go (and be closed) meanwhile.
func (s *Server) Connections() iter.Seq[*Conn] {
	return func(yield func(*Conn) bool) {
		s.mu.Lock()
		snap := make([]*Conn, 0, len(s.conns))
		for _, c := range s.conns {
			snap = append(snap, c)
		}
		s.mu.Unlock()
		slices.SortFunc(snap, func(a, b *Conn) int {
			switch {
			case a.id < b.id:
				return -1
			case a.id > b.id:
				return 1
			}
			return 0
		})
		for _, c := range snap {
			if !yield(c) {
				return
			}
		}
	}
}

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// HTTP returns the HTTP server that runs on the locations, nil before Run
// or without locations. Its Handler is the Server itself; serve plain
// requests with HTTPConfig.Handler or SetHTTPHandler instead of replacing
// it.
func (s *Server) HTTP() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fe == nil {
		return nil
	}
	return s.fe.srv
}

// SetHTTPHandler replaces the handler for plain requests (see
// HTTPConfig.Handler); nil restores the default 426 answer.
func (s *Server) SetHTTPHandler(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.cfg
	c.HTTP.Handler = h
	s.cfg = &c
}

// OnHandshake sets the handshake callback, nil removes it. It runs on the
// loop for every upgrade request, valid or not (req.Err() tells), before
// any response is sent; it may answer with conn.SendAcceptResponse or
// conn.SendAcceptError. When it answers nothing, a valid request is
// accepted and an invalid one gets the default error response.
func (s *Server) OnHandshake(f func(s *Server, conn *Conn, req *handshake.Request)) {
	if f == nil {
		s.handshake.Store(nil)
		return
	}
	s.handshake.Store(&f)
}

// OnConnection replaces every connection listener with f (nil removes
// them). A connection listener runs on the loop once a connection is
// established, before any of its messages: the place to add its
// listeners. A panic in it is logged and closes that connection with 1011.
func (s *Server) OnConnection(f func(s *Server, conn *Conn, req *handshake.Request)) {
	s.connEv.Set(f)
}

// ConnectionEvent returns the connection event, to Add, Prepend or Remove
// listeners.
func (s *Server) ConnectionEvent() *ws.Event[func(*Server, *Conn, *handshake.Request)] {
	return &s.connEv
}

// OnDisconnection replaces every disconnection listener with f (nil
// removes them). It runs on the loop after the connection's close
// listeners, when Connection(id) no longer finds it.
func (s *Server) OnDisconnection(f func(s *Server, conn *Conn)) { s.discEv.Set(f) }

// DisconnectionEvent returns the disconnection event.
func (s *Server) DisconnectionEvent() *ws.Event[func(*Server, *Conn)] { return &s.discEv }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
