package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"unievent.dev/internal/bufpool"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// The locations' fast path: a plain (non-TLS) connection's first request
// is read here, with a pooled buffer, instead of by net/http. An upgrade
// request is upgraded on the spot, so an upgraded connection costs no
// net/http connection state (its 4 KiB read and write buffers, its
// goroutine, its contexts), which is most of what a connection used to
// leave behind. Anything else — a plain request, a request when an HTTP
// handler is configured (it must see every request), a TLS connection — goes
// to the net/http front end, with the bytes read so far replayed first.

// headerSlack is how far past HTTPConfig.MaxHeaderBytes a request head may
// go before it is refused, as net/http allows.
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

// serveConn gives an accepted connection to the fast path or to net/http.
func (s *Server) serveConn(nc net.Conn, fe *frontEnd) {
	s.mu.Lock()
	h := s.cfg.HTTP
	s.mu.Unlock()
	if _, isTLS := nc.(*tls.Conn); isTLS || h.Handler != nil {
		fe.feed(nc)
		return
	}
	limit := h.MaxHeaderBytes
	if limit == 0 {
		limit = DefaultMaxHeaderBytes
	}
	if t := orDuration(h.HandshakeTimeout, DefaultHandshakeTimeout); t > 0 {
		nc.SetReadDeadline(time.Now().Add(t))
	}
	rec := &recorder{nc: nc, buf: bufpool.Get(1024), limit: limit + headerSlack}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(rec)
	release := func() {
		br.Reset(nil)
		readerPool.Put(br)
	}

	if !s.readingHead(nc, true) {
		release()
		nc.Close() // stopped
		return
	}
	req, err := http.ReadRequest(br)
	s.readingHead(nc, false)
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
	if !handshake.IsUpgradeRequest(req) {
		release()
		nc.SetReadDeadline(time.Time{})
		fe.feed(&replayConn{Conn: nc, pending: rec.buf, rest: rec.buf})
		return
	}
	// The head as it came, for Conn.Request to parse again later: a
	// few hundred bytes instead of the parsed request's map and strings.
	head := append([]byte(nil), rec.buf[:len(rec.buf)-br.Buffered()]...)
	bufpool.Put(rec.buf)
	req.RemoteAddr = nc.RemoteAddr().String()
	ra := &rawAnswer{nc: nc, br: br, head: head}
	s.upgrade(ra, req)
	release()
	if ra.conn != nil {
		// This goroutine serves the connection until its peer pauses,
		// then hands it to the poller (or, off Linux, serves it to the
		// end).
		ra.conn.Serve()
	}
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
	br   *bufio.Reader
	head []byte   // the request head as read
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
	// What the client sent behind its request (pipelined frames);
	// ws.NewConn copies it before the reader goes back to its pool.
	b, _ := a.br.Peek(a.br.Buffered())
	return a.nc, b, nil
}

// replayConn hands net/http a connection whose first bytes were already
// read by the fast path.
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
