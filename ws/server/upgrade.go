package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"

	"unievent.dev/internal/bufpool"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/internal/engine"
	"unievent.dev/ws/permessagedeflate"
)

// Errors UpgradeConnection reports (the HTTP answer has been sent).
var (
	ErrRefused            = errors.New("server: upgrade refused by the handshake callback")
	ErrTooManyConnections = errors.New("server: connection limit reached")
	ErrTooManyFields      = errors.New("server: too many header fields")
)

// ServeHTTP makes the Server an http.Handler, so a foreign http.Server or
// mux can mount it. The HTTP handler (HTTPConfig.Handler, SetHTTPHandler)
// sees every request first when there is one: an upgrade request it leaves
// unanswered (it wrote nothing) is upgraded, and a plain request gets
// whatever the handler answered, which for a handler that wrote nothing is
// net/http's 200 with an empty body, as anywhere in net/http. Without a
// handler, a plain request gets 426 Upgrade Required.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok && r.TLS == nil {
		r = r.WithContext(r.Context())
		r.TLS = st
	}
	s.mu.Lock()
	h := s.cfg.HTTP.Handler
	s.mu.Unlock()
	if h != nil {
		tw := &trackingWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if tw.touched || !handshake.IsUpgradeRequest(r) {
			return
		}
	} else if !handshake.IsUpgradeRequest(r) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "this is a WebSocket endpoint: send an upgrade request", http.StatusUpgradeRequired)
		return
	}
	s.UpgradeConnection(w, r)
}

// UpgradeConnection upgrades r to a WebSocket connection of this server:
// it validates the request, runs the handshake callback, answers (101, or
// the refusal) and hands the connection to the loop, where the connection
// listeners run. It returns nil once the connection is established, or
// the reason it is not (the HTTP answer has been sent where one could be):
// a server not running answers 503 and returns ErrNotRunning before Run,
// ErrStopped after Stop.
//
// An HTTP/2 extended CONNECT (RFC 8441, served by net/http only with
// GODEBUG=http2xconnect=1, see the package doc) is answered 200 and the
// connection runs on its stream, which lives only as long as the handler:
// UpgradeConnection then returns once the connection is over, with nil
// when it was established.
func (s *Server) UpgradeConnection(w http.ResponseWriter, r *http.Request) error {
	if r.ProtoMajor == 2 {
		a := &streamAnswer{w: w, r: r}
		if err := s.upgrade(a, r); err != nil {
			return err
		}
		<-a.st.done
		return nil
	}
	return s.upgrade(httpAnswer{w}, r)
}

// answerer is how an upgrade answers: through net/http's ResponseWriter,
// or straight on a connection the server read the request from itself.
type answerer interface {
	// refuse sends an error response.
	refuse(status int, body string, header http.Header)
	// take takes the connection over, with the bytes already read past
	// the request.
	take() (net.Conn, []byte, error)
}

// answered500 is the error of a take that answered the request with 500
// Internal Server Error.
type answered500 struct{ error }

func (e answered500) Unwrap() error { return e.error }

// wsEngine makes and starts the connections (package ws lends it to its
// servers only).
var wsEngine = engine.Registered.(*engine.Funcs[ws.Conn, ws.Loop, ws.Config, ws.PreparedMessage])

type httpAnswer struct{ w http.ResponseWriter }

func (a httpAnswer) refuse(status int, body string, header http.Header) {
	writeError(a.w, status, body, header)
}

func (a httpAnswer) take() (net.Conn, []byte, error) {
	nc, brw, err := http.NewResponseController(a.w).Hijack()
	if err != nil {
		writeError(a.w, http.StatusInternalServerError, "cannot upgrade this connection", nil)
		return nil, nil, answered500{err}
	}
	buffered, err := takeBuffered(nc, brw)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	nc, buffered = unwrap(nc, buffered)
	return nc, buffered, nil
}

func (s *Server) upgrade(a answerer, r *http.Request) error {
	req, verr := handshake.Validate(r)

	s.mu.Lock()
	cfg, wsCfg, running := s.cfg, s.wsCfg, s.running
	notRunning := s.notRunningLocked()
	limit := cfg.maxConnections()
	full := limit > 0 && len(s.conns)+s.pending >= limit
	if running && !full {
		s.pending++
		// Until its connection has started (and holds the loop itself),
		// an upgrade has callbacks to run: a Stop now must not let the
		// loop's Run return under it.
		wsEngine.Ref(s.loop)
	}
	s.mu.Unlock()
	if !running {
		s.refuse(a, http.StatusServiceUnavailable, "server is not running", nil)
		return notRunning
	}
	if full {
		s.refuse(a, http.StatusServiceUnavailable, "too many connections", http.Header{"Retry-After": {strconv.Itoa(cfg.retryAfter())}})
		return ErrTooManyConnections
	}
	registered, released := false, false
	// release gives the upgrade's place under MaxConnections back; a
	// refusal does it before it answers, so that a client that reads the
	// answer and tries again finds the place free.
	release := func() {
		if !released {
			released = true
			s.mu.Lock()
			s.pending--
			s.mu.Unlock()
		}
	}
	refuse := func(status int, body string, h http.Header) {
		release()
		s.refuse(a, status, body, h)
	}
	defer func() {
		if !registered {
			release()
		}
		wsEngine.Unref(s.loop)
	}()
	if max := cfg.maxHeaderFields(); max > 0 && headerFields(r) > max {
		refuse(http.StatusRequestHeaderFieldsTooLarge, "too many header fields", nil)
		return ErrTooManyFields
	}

	queueLimit := wsCfg.SendQueueLimit
	if queueLimit == 0 {
		queueLimit = ws.DefaultConfig().SendQueueLimit
	}
	id := s.nextID.Add(1)
	conn := &Conn{server: s, req: req, sendLimit: int32(min(queueLimit, math.MaxInt32)), policy: wsCfg.SendQueuePolicy}
	// The connection exists from the handshake callback on, CONNECTING:
	// listeners set there stay, and a send or close is refused with
	// ws.ErrNotEstablished.
	conn.Conn = wsEngine.Pending(wsCfg, s.loop, engine.Pending{ID: id, Local: localAddr(a, r), Remote: remoteAddrOf(a, r)}, s.onClosed)
	if hf := s.handshake.Load(); hf != nil {
		conn.deciding = true
		panicked := false
		s.loop.Exec(func() {
			panicked = !safeCall("handshake", func() { (*hf)(s, conn, req) })
		})
		conn.mu.Lock()
		conn.deciding = false
		conn.mu.Unlock()
		if panicked {
			refuse(http.StatusInternalServerError, "internal server error", nil)
			return errors.New("server: the handshake callback panicked")
		}
	}
	ans := conn.ans
	conn.ans = nil
	if ans != nil && ans.refStatus != 0 {
		refuse(ans.refStatus, ans.refBody, ans.refHeader)
		return ErrRefused
	}
	if verr != nil {
		var he *handshake.Error
		if errors.As(verr, &he) {
			refuse(he.Status, he.Reason, he.Header)
		} else {
			refuse(http.StatusBadRequest, verr.Error(), nil)
		}
		return verr
	}

	resp := handshake.Response{}
	if ans != nil && ans.accept != nil {
		resp = *ans.accept
	}
	if resp.Protocol == "" {
		resp.Protocol = handshake.SelectProtocol(req.Protocols, cfg.Protocols)
	}
	var params *permessagedeflate.Params
	if wsCfg.Deflate != nil {
		if p, answer, ok := permessagedeflate.Negotiate(req.Extensions, wsCfg.Deflate); ok {
			params = &p
			resp.Extensions = []handshake.Extension{answer}
		}
	}
	var head []byte
	var err error
	if sa, ok := a.(*streamAnswer); ok {
		err = sa.accept(req, &resp)
	} else {
		// The engine copies the 101 into the connection's send queue.
		head, err = handshake.AppendResponse(bufpool.Get(256), req, &resp)
	}
	if err != nil {
		bufpool.Put(head)
		// SendAcceptResponse checked the callback's answer, so this is
		// the server's own fault: the peer learns nothing of it.
		slog.Error("server: cannot write the handshake response", "conn", id, "err", err)
		refuse(http.StatusInternalServerError, "internal server error", nil)
		return fmt.Errorf("server: handshake response: %w", err)
	}

	nc, buffered, err := a.take()
	if err != nil {
		bufpool.Put(head)
		if _, ok := err.(answered500); ok {
			s.countRefused(http.StatusInternalServerError)
		}
		return err
	}

	// The 101 goes out as the connection's first queued bytes, and the
	// connection is registered before anything is written: a Stop from now
	// on reaches this client as a close frame after its 101.
	wc := conn.Conn
	wsEngine.Establish(wc, nc, engine.Options{
		Deflate:  params,
		Protocol: resp.Protocol,
		Buffered: buffered,
		Preamble: head,
	})
	bufpool.Put(head)

	s.mu.Lock()
	s.pending--
	registered = true
	if !s.running {
		s.mu.Unlock()
		s.countRefused(http.StatusServiceUnavailable)
		if sa, ok := a.(*streamAnswer); ok {
			sa.refuseTaken(http.StatusServiceUnavailable, "server stopped")
		} else {
			refuseHijacked(nc, http.StatusServiceUnavailable, "server stopped")
		}
		return ErrStopped
	}
	s.conns[id] = conn
	s.registeredLocked(transportIndex(r))
	s.mu.Unlock()
	s.topics.open(conn)

	panicked := false
	s.loop.Exec(func() {
		for f := range s.connEv.All() {
			if !safeCall("connection", func() { f(s, conn, req) }) {
				panicked = true
			}
		}
	})
	if panicked {
		// As for a panic in any connection listener (ws.Conn): 1011.
		wc.Close(frame.CloseInternalError, "internal error")
	}
	if ra, ok := a.(*rawAnswer); ok {
		if ra.head != "" {
			// Keep the head's bytes rather than the parsed request:
			// Request parses them again when asked.
			conn.mu.Lock()
			conn.req, conn.head = nil, ra.head
			conn.mu.Unlock()
		}
		// serveConn serves it on its own goroutine, after this upgrade's
		// hold on the loop is let go: the connection holds it first.
		wsEngine.Register(wc)
		ra.conn = wc
		return nil
	}
	if _, ok := a.(*streamAnswer); ok {
		// The stream is served on the handler's goroutine, which
		// UpgradeConnection keeps until the stream is closed.
		wsEngine.Serve(wc)
		return nil
	}
	wsEngine.Start(wc)
	return nil
}

// streamAnswer answers an HTTP/2 extended CONNECT (RFC 8441 section 5,
// https://www.rfc-editor.org/rfc/rfc8441#section-5): 200 with the negotiated
// fields, and the stream as the connection.
type streamAnswer struct {
	w  http.ResponseWriter
	r  *http.Request
	st *stream // once taken
}

func (a *streamAnswer) refuse(status int, body string, header http.Header) {
	for k, vs := range header {
		for _, v := range vs {
			a.w.Header().Add(k, v)
		}
	}
	http.Error(a.w, body, status)
}

// accept sets the header of the 200 (sent by the stream's first read or
// write).
func (a *streamAnswer) accept(req *handshake.Request, resp *handshake.Response) error {
	h, err := handshake.AcceptHeader(req, resp)
	if err != nil {
		return err
	}
	for k, vs := range h {
		a.w.Header()[k] = vs
	}
	return nil
}

func (a *streamAnswer) take() (net.Conn, []byte, error) {
	// The deadlines of the foreign http.Server (ReadTimeout, WriteTimeout)
	// are for a request, not a connection; the stream keeps its own.
	rc := http.NewResponseController(a.w)
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		a.refuse(http.StatusInternalServerError, "cannot serve this stream", nil)
		return nil, nil, answered500{err}
	}
	rc.SetWriteDeadline(time.Time{})
	la, _ := a.r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	a.st = newStream(a.w, a.r, la, remoteAddr(a.r))
	return a.st, nil, nil
}

// refuseTaken refuses a stream taken but not served (its 200 not sent).
func (a *streamAnswer) refuseTaken(status int, reason string) {
	a.st.wmu.Lock()
	a.st.headSent = true
	a.st.wmu.Unlock()
	a.refuse(status, reason, nil)
	a.st.Close()
}

// localAddr and remoteAddr are the addresses of the connection r came on:
// the socket's when the server read r itself, else as net/http knows them.
func localAddr(a answerer, r *http.Request) net.Addr {
	if ra, ok := a.(*rawAnswer); ok {
		return ra.nc.LocalAddr()
	}
	la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return la
}

// remoteAddrOf is remoteAddr, without parsing the socket's address back
// from r.RemoteAddr when the server read r itself.
func remoteAddrOf(a answerer, r *http.Request) net.Addr {
	if ra, ok := a.(*rawAnswer); ok {
		return ra.nc.RemoteAddr()
	}
	return remoteAddr(r)
}

func remoteAddr(r *http.Request) net.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	if r.RemoteAddr == "" {
		return nil
	}
	return textAddr(r.RemoteAddr)
}

// textAddr is an address net/http gave as text that is not host:port.
type textAddr string

func (textAddr) Network() string  { return "unknown" }
func (a textAddr) String() string { return string(a) }

// headerFields counts the header fields of r as they came (net/http keeps
// Host apart).
func headerFields(r *http.Request) int {
	n := 0
	for _, vs := range r.Header {
		n += len(vs)
	}
	if r.Host != "" {
		n++
	}
	return n
}

// takeBuffered clears the deadlines net/http set and takes the bytes the
// client sent after its request (frames pipelined behind the handshake) out
// of net/http's buffer, which is then dropped.
func takeBuffered(nc net.Conn, brw *bufio.ReadWriter) ([]byte, error) {
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	n := brw.Reader.Buffered()
	if n == 0 {
		return nil, nil
	}
	return brw.Reader.Peek(n) // the connection copies it
}

// refuseHijacked answers a hijacked request that cannot be upgraded after
// all, and closes it.
func refuseHijacked(nc net.Conn, status int, reason string) {
	b, _ := handshake.AppendErrorResponse(nil, status, reason, nil)
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write(b)
	nc.Close()
}

// closed runs on the loop when a connection has ended with code: it
// leaves the registry (counted in Metrics), then the disconnection
// listeners run.
func (s *Server) closed(wc *ws.Conn, code ws.CloseCode) {
	s.mu.Lock()
	conn := s.conns[wc.ID()]
	if conn == nil {
		s.mu.Unlock()
		return
	}
	delete(s.conns, wc.ID())
	s.endedLocked(conn, code)
	s.mu.Unlock()
	s.topics.leave(conn)
	for f := range s.discEv.All() {
		safeCall("disconnection", func() { f(s, conn) })
	}
}

func writeError(w http.ResponseWriter, status int, body string, header http.Header) {
	for k, vs := range header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// safeCall runs a user callback; a panic is logged and reported as false.
func safeCall(what string, f func()) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("server: panic in a "+what+" callback", "panic", p, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	f()
	return true
}

// trackingWriter notes whether the HTTP handler answered the request.
type trackingWriter struct {
	http.ResponseWriter
	touched bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.touched = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.touched = true
	return t.ResponseWriter.Write(p)
}

func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.touched = true
	return http.NewResponseController(t.ResponseWriter).Hijack()
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
