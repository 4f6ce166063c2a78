package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"unievent.dev/internal/bufpool"
	"unievent.dev/ws/internal/engine"
	"unievent.dev/ws/permessagedeflate"
)

// HTTP2Mode says whether a wss:// connection is opened as a stream of an
// HTTP/2 connection (RFC 8441 extended CONNECT,
// https://www.rfc-editor.org/rfc/rfc8441) rather than an HTTP/1.1 upgrade
// (Config.HTTP2).
type HTTP2Mode uint8

const (
	// HTTP2Off opens every connection with an HTTP/1.1 upgrade (the
	// default).
	HTTP2Off HTTP2Mode = iota
	// HTTP2Prefer offers h2 and http/1.1 in TLS's ALPN. When the server
	// chooses h2 and its SETTINGS enable extended CONNECT
	// (SETTINGS_ENABLE_CONNECT_PROTOCOL), the WebSocket is an extended
	// CONNECT stream; when it chooses http/1.1, the upgrade runs on that
	// connection; when it speaks HTTP/2 without extended CONNECT (a Go
	// server without GODEBUG=http2xconnect=1, for one), Dial opens a new
	// connection and upgrades over HTTP/1.1, as browsers do. A ws:// URL
	// is upgraded over HTTP/1.1.
	HTTP2Prefer
	// HTTP2Only is HTTP2Prefer without the fall back: Dial returns an
	// error wrapping ErrNoHTTP2 when the server does not offer WebSockets
	// over HTTP/2, or the URL is ws://.
	HTTP2Only
)

// ErrNoHTTP2 is wrapped by the error of a Dial with HTTP2Only to a server
// that does not serve WebSockets over HTTP/2: it did not choose h2 in
// ALPN, or did not enable extended CONNECT in its SETTINGS, or the URL is
// ws:// (HTTP/2 runs over TLS here).
var ErrNoHTTP2 = errors.New("client: the server does not serve WebSockets over HTTP/2 (RFC 8441)")

// errFallBack: the server speaks HTTP/2 without extended CONNECT, and
// HTTP2Prefer dials again with HTTP/1.1.
var errFallBack = errors.New("client: extended CONNECT not enabled by the server")

// alpn is what TLS offers for mode.
func alpn(mode HTTP2Mode) []string {
	switch mode {
	case HTTP2Prefer:
		return []string{"h2", "http/1.1"}
	case HTTP2Only:
		// http/1.1 too, so that a server without h2 answers (rather
		// than failing TLS) and Dial can say why it refuses.
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

// checkHTTP2 refuses what cfg.HTTP2 cannot do for t before anything is
// dialed.
func checkHTTP2(cfg *Config, t target) error {
	if cfg.HTTP2 == HTTP2Only && !t.secure {
		return fmt.Errorf("%w: a ws:// URL (HTTP/2 needs wss://)", ErrNoHTTP2)
	}
	return nil
}

// afterTLS goes on once TLS has chosen its protocol: on an HTTP/2
// connection the opening handshake is an extended CONNECT (shakeH2); on
// HTTP/1.1 it is an upgrade, unless HTTP2Only forbids it (then ok is
// false with the error).
func afterTLS(tc *tls.Conn, t target, cfg *Config) (nc net.Conn, o engine.Options, h2, ok bool, err error) {
	switch p := tc.ConnectionState().NegotiatedProtocol; {
	case p == "h2":
		nc, o, err = shakeH2(tc, t, cfg)
		return nc, o, true, err == nil, err
	case cfg.HTTP2 == HTTP2Only:
		return nil, engine.Options{}, false, false, fmt.Errorf("%w: TLS chose %q, not h2", ErrNoHTTP2, p)
	}
	return tc, engine.Options{}, false, true, nil
}

// shakeH2 sends the extended CONNECT (RFC 8441 section 4) on tc with
// net/http's HTTP/2 client, which sends it once the server's SETTINGS
// enable it, and checks the answer as readResponse checks a 101 (a 200
// has no Sec-WebSocket-Accept: RFC 8441 section 5).
//
// net/http's exported ways of sending a request refuse the :protocol
// pseudo-header as a header name; the round tripper its Transport
// registers for "h2" (TLSNextProto) takes it, on the connection handed to
// it. That connection is this WebSocket's alone.
func shakeH2(tc *tls.Conn, t target, cfg *Config) (net.Conn, engine.Options, error) {
	tr := &http.Transport{ForceAttemptHTTP2: true, MaxResponseHeaderBytes: int64(cfg.maxHandshakeSize())}
	tr.CloseIdleConnections() // sets its HTTP/2 client up (TLSNextProto)
	up := tr.TLSNextProto["h2"]
	if up == nil {
		return nil, engine.Options{}, errors.New("client: net/http has no HTTP/2 client in this process (GODEBUG=http2client=0?)")
	}
	rt := up(t.host, tc)
	pr, pw := io.Pipe()
	// The stream lives as long as the WebSocket, past the handshake's
	// context: the handshake's deadline is the socket's (open).
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, "https://"+t.host+t.uri, pr)
	if err != nil {
		cancel()
		return nil, engine.Options{}, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	req.Header = connectHeader(cfg)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		cancel()
		tr.CloseIdleConnections()
		// net/http's own error, unexported: "net/http: extended
		// connect not supported by peer".
		if strings.Contains(err.Error(), "extended connect not supported") {
			if cfg.HTTP2 == HTTP2Prefer {
				return nil, engine.Options{}, errFallBack
			}
			return nil, engine.Options{}, fmt.Errorf("%w: its HTTP/2 SETTINGS do not enable extended CONNECT", ErrNoHTTP2)
		}
		return nil, engine.Options{}, fmt.Errorf("client: extended CONNECT to %s: %w", t.addr, err)
	}
	herr := &HandshakeError{StatusCode: resp.StatusCode, Header: resp.Header}
	fail := func(err error) (net.Conn, engine.Options, error) {
		resp.Body.Close()
		cancel()
		tr.CloseIdleConnections()
		herr.Err = err
		return nil, engine.Options{}, herr
	}
	if resp.StatusCode != http.StatusOK {
		herr.Body, _ = io.ReadAll(io.LimitReader(resp.Body, MaxErrorBodySize))
		return fail(fmt.Errorf("%w: status %d, want 200", ErrRefusedOverHTTP2, resp.StatusCode))
	}
	var o engine.Options
	if o.Protocol, err = chosenProtocol(resp.Header, cfg.Protocols); err != nil {
		return fail(err)
	}
	if o.Deflate, err = acceptedExtensions(resp.Header, cfg.Deflate); err != nil {
		return fail(err)
	}
	return newH2Stream(tc, resp.Body, pw, func() {
		cancel()
		tr.CloseIdleConnections()
	}), o, nil
}

// ErrRefusedOverHTTP2 is wrapped by the HandshakeError of an extended
// CONNECT answered with a status other than 200.
var ErrRefusedOverHTTP2 = errors.New("client: the server refused the WebSocket stream")

// connectHeader is the header of the extended CONNECT: the fields of an
// upgrade request but Host, Upgrade, Connection and Sec-WebSocket-Key
// (RFC 8441 section 5).
func connectHeader(cfg *Config) http.Header {
	h := http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}}
	if cfg.Origin != "" {
		h.Set("Origin", cfg.Origin)
	}
	if len(cfg.Protocols) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(cfg.Protocols, ", "))
	}
	if cfg.Deflate != nil {
		h.Set("Sec-WebSocket-Extensions", permessagedeflate.Offer(cfg.Deflate).String())
	}
	for name, vs := range cfg.Header {
		for _, v := range vs {
			h.Add(name, v)
		}
	}
	return h
}

// h2ReadSize is how much of the response body one read takes: an
// HTTP/2 DATA frame carries at most 16 KiB unless raised (RFC 9113
// section 4.2).
const h2ReadSize = 16 << 10

// h2QuietSize is the buffer the pump reads with after a read that did not
// fill its buffer (the server may then be silent for long); a read that
// fills it says more is waiting, and the next one takes a pooled
// h2ReadSize buffer.
const h2QuietSize = 2 << 10

// h2Stream is the transport of a client WebSocket on an HTTP/2 stream:
// it reads the response body and writes the request body (a pipe
// net/http's HTTP/2 client sends from). net/http's bodies have no
// deadlines, so it keeps its own: a goroutine (pump) reads the body one
// chunk at a time and Read waits for it or for the read deadline; a write
// that outlives its deadline ends the stream, as a timed-out socket write
// ends a connection.
//
// Read is called by the reading goroutine, Write by one writer at a time,
// Close and the deadlines by any goroutine.
type h2Stream struct {
	tc   *tls.Conn
	body io.ReadCloser
	pw   *io.PipeWriter
	end  func() // cancels the request, drops the HTTP/2 client

	mu      sync.Mutex // guards wdl and wtimer
	wdl     time.Time
	wtimer  *time.Timer // while a write with a deadline runs
	rdl     readDeadline
	chunks  chan h2Read
	next    chan struct{}
	done    chan struct{}
	closing sync.Once

	// The reading goroutine's.
	pending []byte
	rerr    error
	started bool
}

type h2Read struct {
	p   []byte // the pump's buffer, the reader's until it signals next
	err error
}

func newH2Stream(tc *tls.Conn, body io.ReadCloser, pw *io.PipeWriter, end func()) *h2Stream {
	return &h2Stream{tc: tc, body: body, pw: pw, end: end,
		chunks: make(chan h2Read, 1), next: make(chan struct{}, 1), done: make(chan struct{})}
}

func (s *h2Stream) Read(p []byte) (int, error) {
	if len(s.pending) == 0 && s.rerr == nil {
		if !s.started {
			s.started = true
			go s.pump()
		}
		select {
		case r := <-s.chunks:
			s.pending, s.rerr = r.p, r.err
		case <-s.rdl.wait():
			return 0, fmt.Errorf("client: read an HTTP/2 stream: %w", os.ErrDeadlineExceeded)
		case <-s.done:
			return 0, net.ErrClosed
		}
	}
	if len(s.pending) == 0 {
		return 0, s.rerr
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	if len(s.pending) == 0 && s.rerr == nil {
		s.next <- struct{}{}
	}
	return n, nil
}

// pump reads the body until it ends or the stream is closed, with a
// small buffer of its own while the server is quiet and a pooled large
// one while reads fill their buffer (given back only once the reader is
// done with it).
func (s *h2Stream) pump() {
	quiet := make([]byte, h2QuietSize)
	buf := quiet
	for {
		n, err := s.body.Read(buf)
		if n == 0 && err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			err = io.EOF
		}
		select {
		case s.chunks <- h2Read{buf[:n], err}:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
		select {
		case <-s.next:
		case <-s.done:
			return
		}
		switch full := n == len(buf); {
		case full && len(buf) < h2ReadSize:
			buf = bufpool.Get(h2ReadSize)[:h2ReadSize]
		case !full && len(buf) == h2ReadSize:
			bufpool.Put(buf)
			buf = quiet
		}
	}
}

func (s *h2Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	if !s.wdl.IsZero() {
		if !time.Now().Before(s.wdl) {
			s.mu.Unlock()
			return 0, fmt.Errorf("client: write an HTTP/2 stream: %w", os.ErrDeadlineExceeded)
		}
		s.wtimer = time.AfterFunc(time.Until(s.wdl), s.writeTimedOut)
	}
	s.mu.Unlock()
	n, err := s.pw.Write(p)
	s.mu.Lock()
	if s.wtimer != nil {
		s.wtimer.Stop()
		s.wtimer = nil
	}
	s.mu.Unlock()
	return n, err
}

// writeTimedOut ends a write that outlived its deadline, and the stream
// with it.
func (s *h2Stream) writeTimedOut() {
	s.pw.CloseWithError(fmt.Errorf("client: write an HTTP/2 stream: %w", os.ErrDeadlineExceeded))
}

func (s *h2Stream) SetReadDeadline(t time.Time) error {
	s.rdl.set(t)
	return nil
}

func (s *h2Stream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wdl = t
	if s.wtimer != nil { // a write is under way: its deadline moves
		s.wtimer.Stop()
		s.wtimer = nil
		if !t.IsZero() {
			s.wtimer = time.AfterFunc(time.Until(t), s.writeTimedOut)
		}
	}
	return nil
}

func (s *h2Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// CloseWrite ends our side of the stream (END_STREAM).
func (s *h2Stream) CloseWrite() error { return s.pw.Close() }

// Close ends the stream and its HTTP/2 connection.
func (s *h2Stream) Close() error {
	s.closing.Do(func() {
		close(s.done)
		s.pw.Close()
		s.body.Close()
		s.end()
		s.tc.Close()
	})
	return nil
}

func (s *h2Stream) LocalAddr() net.Addr  { return s.tc.LocalAddr() }
func (s *h2Stream) RemoteAddr() net.Addr { return s.tc.RemoteAddr() }

// readDeadline is a deadline a blocked Read waits on: its channel is
// closed once the deadline has passed, and replaced when the deadline is
// set again after that.
type readDeadline struct {
	mu    sync.Mutex
	timer *time.Timer
	c     chan struct{}
}

func (d *readDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.c == nil || closedChan(d.c) {
		d.c = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	c := d.c
	if wait := time.Until(t); wait <= 0 {
		close(c)
	} else {
		d.timer = time.AfterFunc(wait, func() {
			d.mu.Lock()
			if d.c == c && !closedChan(c) {
				close(c)
			}
			d.mu.Unlock()
		})
	}
}

func (d *readDeadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		d.c = make(chan struct{})
	}
	return d.c
}

func closedChan(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
