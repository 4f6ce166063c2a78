package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"unievent.dev/internal/bufpool"
	"unievent.dev/internal/httphead"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// The locations' first request: every connection's first request head is
// read here, with a pooled buffer, and held to HTTPConfig.MaxHeaderBytes
// exactly. An upgrade request (when no HTTP handler is configured: a
// handler must see every request) is upgraded on the spot, so an upgraded
// connection costs no net/http connection state (its 4 KiB read and write
// buffers, its goroutine, its contexts). Anything else goes to the net/http
// front end, with the bytes read so far replayed first.

// headerSlack is how far past HTTPConfig.MaxHeaderBytes the first read may
// go: the bytes a client sends behind its request head (pipelined frames, a
// body) may arrive with it. Only the head itself counts against the limit.
const headerSlack = 4096

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// errHeadTooLarge reports a request head over the limit.
var errHeadTooLarge = errors.New("server: request head too large")

// recorder keeps every byte read from the connection (up to a limit), so
// that a request can be handed to net/http as if unread.
type recorder struct {
	nc    net.Conn
	buf   []byte
	limit int
	over  bool
}

func (r *recorder) Read(p []byte) (int, error) {
	room := r.limit - len(r.buf)
	if room <= 0 {
		r.over = true
		return 0, errHeadTooLarge
	}
	if len(p) > room {
		p = p[:room]
	}
	n, err := r.nc.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// serveConn reads an accepted connection's first request and upgrades it
// or hands the connection to net/http.
func (s *Server) serveConn(nc net.Conn, fe *frontEnd) {
	s.mu.Lock()
	h := s.cfg.HTTP
	s.mu.Unlock()
	limit := h.MaxHeaderBytes
	if limit == 0 {
		limit = defaultMaxHeaderBytes
	}
	if t := orDuration(h.HandshakeTimeout, defaultHandshakeTimeout); t > 0 {
		nc.SetReadDeadline(time.Now().Add(t))
	}
	if !s.readingHead(nc, true) {
		nc.Close() // stopped
		return
	}
	if tc, isTLS := nc.(*tls.Conn); isTLS {
		if err := tc.Handshake(); err != nil {
			s.readingHead(nc, false)
			var re tls.RecordHeaderError
			if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
				// As net/http answers plain HTTP on a TLS port.
				refuseHijacked(re.Conn, http.StatusBadRequest, "client sent an HTTP request to an HTTPS server")
			}
			nc.Close()
			return
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			// net/http's HTTP/2 server serves the connection; its
			// WebSockets arrive as extended CONNECT streams (ServeHTTP).
			s.readingHead(nc, false)
			nc.SetReadDeadline(time.Time{})
			fe.feed(tc)
			return
		}
	}
	// The first read: a client sends its whole head at once, and a head
	// httphead parses exactly as net/http would is upgraded from these
	// bytes. Anything else (a head split over reads, over the limit, or
	// one httphead declines) goes through http.ReadRequest after them.
	buf := bufpool.Get(firstReadSize)
	n, rerr := nc.Read(buf[:min(cap(buf), limit+headerSlack)])
	buf = buf[:n]
	if rerr == nil {
		if end := httphead.End(buf); end > 0 && end <= limit {
			head := string(buf[:end])
			if req, ok := httphead.ParseRequest(head); ok {
				s.readingHead(nc, false)
				s.serveHead(nc, fe, h, req, head, buf, end)
				return
			}
		}
	}
	rec := &recorder{nc: nc, buf: buf, limit: limit + headerSlack}
	pr := &prefixReader{p: buf, err: rerr, rec: rec}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(pr)
	release := func() {
		br.Reset(nil)
		readerPool.Put(br)
	}
	req, err := http.ReadRequest(br)
	s.readingHead(nc, false)
	headLen := len(rec.buf) - br.Buffered() - len(pr.p)
	if err == nil && headLen > limit {
		err, rec.over = errHeadTooLarge, true
	}
	if err != nil {
		release()
		bufpool.Put(rec.buf)
		switch {
		case rec.over:
			refuseHijacked(nc, http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
		case errors.Is(err, io.EOF), isTimeout(err):
			nc.Close()
		default:
			refuseHijacked(nc, http.StatusBadRequest, "malformed request")
		}
		return
	}
	if h.Handler != nil || !handshake.IsUpgradeRequest(req) {
		release()
		nc.SetReadDeadline(time.Time{})
		fe.feed(&replayConn{Conn: nc, pending: rec.buf, rest: rec.buf})
		return
	}
	rest, _ := br.Peek(br.Buffered())
	ra := &rawAnswer{nc: nc, rest: append(slices.Clip(rest), pr.p...)}
	if tc, isTLS := nc.(*tls.Conn); isTLS {
		st := tc.ConnectionState()
		req.TLS = &st
	} else {
		// The head as it came, for Conn.Request to parse again later: a
		// few hundred bytes instead of the parsed request's map and
		// strings.
		ra.head = string(rec.buf[:headLen])
	}
	bufpool.Put(rec.buf)
	req.RemoteAddr = nc.RemoteAddr().String()
	s.upgrade(ra, req)
	release()
	if ra.conn != nil {
		// This goroutine serves the connection until its peer pauses,
		// then hands it to the poller (or, off Linux, serves it to the
		// end).
		wsEngine.Serve(ra.conn)
	}
}

// firstReadSize is the buffer of a connection's first read: room for the
// request heads clients send, and what the client sends behind one.
const firstReadSize = 4096

// serveHead serves a connection whose request head, head (the first end
// bytes of buf, the connection's first read), httphead parsed as req.
func (s *Server) serveHead(nc net.Conn, fe *frontEnd, h HTTPConfig, req *http.Request, head string, buf []byte, end int) {
	if h.Handler != nil || !handshake.IsUpgradeRequest(req) {
		nc.SetReadDeadline(time.Time{})
		fe.feed(&replayConn{Conn: nc, pending: buf, rest: buf})
		return
	}
	ra := &rawAnswer{nc: nc, rest: buf[end:]}
	if tc, isTLS := nc.(*tls.Conn); isTLS {
		st := tc.ConnectionState()
		req.TLS = &st
	} else {
		// The head's strings are pieces of head: the connection keeps
		// that and lets the request go (Conn.Request parses it again).
		ra.head = head
	}
	req.RemoteAddr = nc.RemoteAddr().String()
	s.upgrade(ra, req)
	// The connection copied what the client sent behind its head.
	bufpool.Put(buf)
	if ra.conn != nil {
		// This goroutine serves the connection until its peer pauses,
		// then hands it to the poller (or, off Linux, serves it to the
		// end).
		wsEngine.Serve(ra.conn)
	}
}

// parseHead parses a request head the front end read before: with
// httphead when it parsed it so, else with net/http as it did.
func parseHead(head string) (*http.Request, error) {
	if r, ok := httphead.ParseRequest(head); ok {
		return r, nil
	}
	return http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
}

// prefixReader gives http.ReadRequest the connection's first read (p, and
// the error that read ended with), then reads on through the recorder.
type prefixReader struct {
	p   []byte
	err error
	rec *recorder
}

func (r *prefixReader) Read(b []byte) (int, error) {
	if len(r.p) > 0 {
		n := copy(b, r.p)
		r.p = r.p[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.rec.Read(b)
}

// looksLikeHTTP reports whether a TLS record header is the start of a
// plain HTTP request instead.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// readingHead registers nc (on) as a connection whose request head is
// being read, so that Stop can close it, or unregisters it; registering
// fails once the server has stopped.
func (s *Server) readingHead(nc net.Conn, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !on {
		delete(s.heads, nc)
		return true
	}
	if !s.running {
		return false
	}
	if s.heads == nil {
		s.heads = make(map[net.Conn]bool)
	}
	s.heads[nc] = true
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rawAnswer answers an upgrade request the fast path read itself.
type rawAnswer struct {
	nc   net.Conn
	rest []byte   // what the client sent behind its request head
	head string   // the request head as read
	conn *ws.Conn // the connection, once upgraded
}

func (a *rawAnswer) refuse(status int, body string, header http.Header) {
	b, err := handshake.AppendErrorResponse(nil, status, body, header)
	if err != nil {
		b, _ = handshake.AppendErrorResponse(nil, status, body, nil)
	}
	a.nc.SetWriteDeadline(time.Now().Add(time.Second))
	a.nc.Write(b)
	a.nc.Close()
}

func (a *rawAnswer) take() (net.Conn, []byte, error) {
	// Only the read deadline was set (the handshake timeout).
	if err := a.nc.SetReadDeadline(time.Time{}); err != nil {
		a.nc.Close()
		return nil, nil, err
	}
	// What the client sent behind its request (pipelined frames); the
	// connection copies it before its buffer goes back to the pool.
	return a.nc, a.rest, nil
}

// replayConn hands net/http a connection whose first bytes were already
// read by serveConn.
type replayConn struct {
	net.Conn
	pending []byte // still to replay
	rest    []byte // the pooled buffer, returned once replayed
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			bufpool.Put(c.rest)
			c.rest, c.pending = nil, nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// unwrap returns the connection under a hijacked replayConn (the socket
// itself, so that the engine can wait on it without a goroutine) and the
// bytes read from it that are not used yet: buffered, then what was still
// to replay.
func unwrap(nc net.Conn, buffered []byte) (net.Conn, []byte) {
	c, ok := nc.(*replayConn)
	if !ok {
		return nc, buffered
	}
	if len(c.pending) > 0 {
		buffered = append(slices.Clip(buffered), c.pending...)
		bufpool.Put(c.rest)
		c.rest, c.pending = nil, nil
	}
	return c.Conn, buffered
}

type tlsStateKey struct{}

// connContext gives the requests net/http reads from a replayed TLS
// connection their TLS state (net/http sets Request.TLS only for a
// *tls.Conn): ServeHTTP puts it back.
func connContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*replayConn); ok {
		if tc, ok := c.Conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			return context.WithValue(ctx, tlsStateKey{}, &st)
		}
	}
	return ctx
}
