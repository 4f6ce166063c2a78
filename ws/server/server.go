package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"iter"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"unievent.dev/internal/fdtable"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
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
	stopped   bool        // after Stop, until Run
	listening bool        // false after StopListening
	listeners []*listener // open locations
	fe        *frontEnd   // the HTTP server the locations feed
	conns     map[uint64]*Conn
	pending   int                          // upgrades between validation and registration
	heads     map[net.Conn]bool            // connections whose request head the fast path is reading
	workers   *workers                     // goroutines serving accepted connections (listener.go)
	onClosed  func(*ws.Conn, ws.CloseCode) // s.closed, made once: a method value per connection would allocate

	nextID    atomic.Uint64
	handshake atomic.Pointer[func(*Server, *Conn, *handshake.Request)]
	connEv    ws.Event[func(*Server, *Conn, *handshake.Request)]
	discEv    ws.Event[func(*Server, *Conn)]

	topics topics
	m      counters // metrics.go
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
	s := &Server{conns: make(map[uint64]*Conn), listening: true, workers: newWorkers()}
	s.onClosed = s.closed
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
	if c.HTTP.HTTP2 != nil {
		h2 := *c.HTTP.HTTP2
		c.HTTP.HTTP2 = &h2
	}
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
		ReadHeaderTimeout: orDuration(h.HandshakeTimeout, defaultHandshakeTimeout),
		IdleTimeout:       orDuration(h.IdleTimeout, defaultHTTPIdleTimeout),
		WriteTimeout:      orDuration(h.WriteTimeout, defaultHTTPWriteTimeout),
		ConnContext:       connContext,
		ErrorLog:          log.New(discard{}, "", 0),
	}
	if h.HTTP2 != nil {
		c := *h.HTTP2
		fe.srv.HTTP2 = &c
	}
	if !extendedConnect {
		// HTTP/1.1 only: Go's HTTP/2 server would advertise HTTP/2
		// without extended CONNECT, and browsers would then open no
		// WebSocket on that connection (golang/go#71128).
		fe.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	if fe.srv.MaxHeaderBytes == 0 {
		fe.srv.MaxHeaderBytes = defaultMaxHeaderBytes
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

// Configure replaces the config, for connections established from now
// on; open connections keep the config they started with. Its listeners
// are compared with the open ones: removed locations stop listening
// (their connections are served on), new ones start, unchanged ones stay
// open (a port-0 location keeps its port). A location that changes only
// TLS or Nagle keeps its socket; the change applies to the connections it
// accepts from then on.
//
// Configure applies all of cfg or nothing: it validates cfg and opens
// the new locations before it changes anything, and when one fails it
// closes what it opened and returns the error, naming the location; the
// server runs on exactly as before.
//
// A nil cfg.HTTP.Handler keeps the handler in force (see SetHTTPHandler,
// which also removes it). To change a few fields, start from Config:
//
//	cfg := s.Config()
//	cfg.MaxMessageSize = 1 << 20
//	err := s.Configure(cfg)
func (s *Server) Configure(cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var plan *listenPlan
	if s.running && s.listening {
		var err error
		if plan, err = s.planListenersLocked(cfg.Locations); err != nil {
			return err
		}
	}
	if cfg.HTTP.Handler == nil {
		cfg.HTTP.Handler = s.cfg.HTTP.Handler
	}
	old := s.cfg
	s.setConfig(&cfg)
	if s.fe != nil && (len(cfg.Locations) == 0 || old.HTTP.frontEndChanged(cfg.HTTP)) {
		retire(s.fe)
		s.fe = nil
		if len(cfg.Locations) > 0 {
			s.fe = s.newFrontEnd()
		}
	}
	if plan != nil {
		s.useListenersLocked(plan)
	}
	return nil
}

// Config returns a copy of the config in force (the last one given to New
// or Configure, with the handler SetHTTPHandler set).
func (s *Server) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.cfg
	c.Locations = slices.Clone(c.Locations)
	c.Protocols = slices.Clone(c.Protocols)
	if c.HTTP.HTTP2 != nil {
		h2 := *c.HTTP.HTTP2
		c.HTTP.HTTP2 = &h2
	}
	return c
}

// retire lets the requests in progress on a front end finish; it accepts
// nothing more.
func retire(fe *frontEnd) {
	fe.pipe.Close()
	go shutDown(fe, 30*time.Second)
}

// shutDown lets a front end's requests and HTTP/2 streams finish, at most
// for wait, then closes what is left.
func shutDown(fe *frontEnd, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if fe.srv.Shutdown(ctx) != nil {
		fe.srv.Close()
	}
}

// listenPlan is how the open listeners become those of a list of
// locations: made by planListenersLocked, which has opened the new
// sockets, and carried out by useListenersLocked, or given up by abort.
type listenPlan struct {
	next    []*listener // in the order of the locations
	opened  []*listener // new, not accepting yet
	retuned map[*listener]Location
	unused  []*listener // open now, not needed
}

// abort closes the sockets the plan opened.
func (p *listenPlan) abort() {
	for _, l := range p.opened {
		l.close()
	}
}

// planListenersLocked matches locs with the open listeners (closed ones
// dropped first) and opens a socket for each location left over. When one
// cannot be opened it closes those it opened and returns the error; it
// changes nothing else. s.mu is held.
func (s *Server) planListenersLocked(locs []Location) (*listenPlan, error) {
	s.pruneListenersLocked()
	p := &listenPlan{next: make([]*listener, len(locs)), retuned: make(map[*listener]Location)}
	free := slices.Clone(s.listeners)
	take := func(match func(*listener) bool) *listener {
		i := slices.IndexFunc(free, match)
		if i < 0 {
			return nil
		}
		l := free[i]
		free = slices.Delete(free, i, i+1)
		return l
	}
	for i, loc := range locs {
		p.next[i] = take(func(l *listener) bool { return l.loc == loc })
	}
	for i, loc := range locs {
		if p.next[i] != nil {
			continue
		}
		if l := take(func(l *listener) bool { return l.loc.sameSocket(loc) }); l != nil {
			p.next[i] = l
			p.retuned[l] = loc
			continue
		}
		l, err := newListener(s, loc)
		if err != nil {
			p.abort()
			return nil, fmt.Errorf("server: location %d (%s): %w", i, loc.address(), err)
		}
		p.next[i] = l
		p.opened = append(p.opened, l)
	}
	p.unused = free
	return p, nil
}

// useListenersLocked carries out p. s.mu is held.
func (s *Server) useListenersLocked(p *listenPlan) {
	for _, l := range p.unused {
		l.close()
	}
	for l, loc := range p.retuned {
		l.retune(loc)
	}
	s.listeners = p.next
	if len(s.listeners) > 0 && s.fe == nil {
		s.fe = s.newFrontEnd()
	}
	for _, l := range p.opened {
		go l.serve()
	}
}

// pruneListenersLocked drops the listeners whose socket the user closed
// (see Listeners). s.mu is held.
func (s *Server) pruneListenersLocked() {
	s.listeners = slices.DeleteFunc(s.listeners, func(l *listener) bool { return !l.open() })
}

// Loop returns the loop the server's callbacks run on.
func (s *Server) Loop() *ws.Loop { return s.loop }

// Run starts the server and returns at once: it opens the locations and
// registers the server as an active handle of its loop, whose Run then
// serves it. When a location cannot be opened, Run closes the ones it
// opened and returns the error (naming the location): the server is not
// running, and Run may be called again. Run on a running server does
// nothing. Nothing runs on the loop (the handshake callback included, so
// a client waits mid-handshake) until the loop's Run is called.
//
// On Linux, Run first sizes the process's descriptor table for
// Config.MaxConnections connections (two descriptors each, as a busy one
// may hold: see docs/architecture.md), bounded by RLIMIT_NOFILE, or for
// the limit itself when MaxConnections is negative. Otherwise the kernel
// grows the table by doubling while a burst of connections arrives, and
// each doubling stalls every thread that opens a descriptor meanwhile:
// the Go scheduler starts a new thread for each stalled goroutine, and the
// process keeps them. The table costs the kernel about 8 bytes a slot.
func (s *Server) Run() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	plan, err := s.planListenersLocked(s.cfg.Locations)
	if err != nil {
		return err
	}
	fdtable.Reserve(descriptorsFor(s.cfg.maxConnections()))
	if !extendedConnect && slices.ContainsFunc(s.cfg.Locations, func(l Location) bool { return l.TLS != nil }) {
		slog.Info("server: TLS locations speak HTTP/1.1 only: start the process with GODEBUG=http2xconnect=1 to serve WebSockets over HTTP/2 (RFC 8441) there too")
	}
	s.running = true
	s.stopped = false
	s.listening = true
	s.workers.start()
	wsEngine.Ref(s.loop)
	s.useListenersLocked(plan)
	return nil
}

// Stop sends a close frame with code (default frame.CloseAway) to every
// peer, stops listening and stops the server. Close and disconnection
// callbacks fire on each connection as the closing handshakes complete (or
// time out); the loop's Run returns once nothing else is left on it.
//
// A code that may not be sent in a close frame (frame.CloseAbnormal 1006,
// 1015, an unassigned one such as 999: see ws.CloseCode.ValidOnWire) is
// refused before anything happens: Stop returns an error wrapping
// ws.ErrInvalid, and the server listens and serves on.
// frame.CloseNoStatus sends close frames without a code, as ws.Conn.Close
// does. Otherwise Stop returns the errors of the connections' Close
// joined (errors.Join), except ws.ErrClosed from connections that were
// closing already, and nil on a server that is not running.
func (s *Server) Stop(code ...ws.CloseCode) error {
	c := frame.CloseAway
	switch len(code) {
	case 0:
	case 1:
		c = code[0]
	default:
		return fmt.Errorf("server: Stop takes one close code, got %d", len(code))
	}
	if c != frame.CloseNoStatus && !c.ValidOnWire() {
		return fmt.Errorf("server: Stop with close code %d: %w", c, ws.ErrInvalid)
	}
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	s.running = false
	s.stopped = true
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
	s.workers.stop()
	s.mu.Unlock()
	if fe != nil {
		fe.pipe.Close()
		// Not Close: it would cut the HTTP/2 connections, and with them
		// the WebSockets on their streams, before their closing
		// handshakes. Shutdown sends GOAWAY and waits for the streams to
		// end, which the close timeout bounds.
		wait := s.wsCfg.CloseTimeout
		if wait <= 0 {
			wait = ws.DefaultConfig().CloseTimeout
		}
		go shutDown(fe, wait+2*time.Second)
	}
	for nc := range heads {
		nc.Close() // as net/http's Close does with the requests it is reading
	}
	var errs []error
	for _, cn := range conns {
		if err := cn.Close(c, ""); err != nil && !errors.Is(err, ws.ErrClosed) {
			errs = append(errs, fmt.Errorf("server: connection %d: %w", cn.ID(), err))
		}
	}
	wsEngine.Unref(s.loop)
	return errors.Join(errs...)
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

// StartListening reopens the locations after StopListening (and those
// whose listener the user closed). A location with port 0 gets a new
// ephemeral port. As with Run, either every location opens or, with an
// error naming the one that failed, none of those it opened stays open.
// It returns ErrNotRunning before Run and ErrStopped after Stop.
func (s *Server) StartListening() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return s.notRunningLocked()
	}
	plan, err := s.planListenersLocked(s.cfg.Locations)
	if err != nil {
		return err
	}
	s.listening = true
	s.useListenersLocked(plan)
	return nil
}

// notRunningLocked is the error for a server that is not running:
// ErrStopped after Stop, ErrNotRunning before Run. s.mu is held.
func (s *Server) notRunningLocked() error {
	if s.stopped {
		return ErrStopped
	}
	return ErrNotRunning
}

// Listeners returns the listening sockets, in the order of the
// locations. They are for inspection and socket options. Closing one
// stops that location: it is no longer listed, and Configure or
// StartListening opens it again.
func (s *Server) Listeners() []net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneListenersLocked()
	out := make([]net.Listener, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.ln
	}
	return out
}

// Addr returns the address of the first listener (see Listeners), or
// ErrNoListeners when there is none.
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
			case a.ID() < b.ID():
				return -1
			case a.ID() > b.ID():
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
// HTTPConfig.Handler); nil removes it, restoring the default 426 answer.
// The handler stays through a Configure whose HTTP.Handler is nil.
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
