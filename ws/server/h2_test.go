package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
)

// inChild reports whether the test ran in a child process with
// GODEBUG=http2xconnect=1: net/http reads GODEBUG once at start, so a
// process started without it cannot serve extended CONNECT. The caller
// returns when it is true; the child's failure fails the test.
func inChild(t *testing.T) bool {
	t.Helper()
	if extendedConnect {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GODEBUG=http2xconnect=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("with GODEBUG=http2xconnect=1: %v\n%s", err, out)
	}
	return true
}

// h2 is a server mounted on an httptest TLS server speaking HTTP/2.
type h2 struct {
	*harness
	url    string
	client *http.Client
	h2addr string         // the HTTP/2 server's address
	pool   *x509.CertPool // trusts its certificate
}

// startH2 mounts a server with cfg on an HTTP/2 TLS server. The cleanup
// stops the server, then the HTTP server, then checks that nothing was
// left behind.
func startH2(t testing.TB, cfg Config, setup func(*Server)) *h2 {
	t.Helper()
	return startH2With(t, cfg, setup, nil)
}

// startH2With is startH2 with tune changing the HTTP server before it
// starts.
func startH2With(t testing.TB, cfg Config, setup func(*Server), tune func(*http.Server)) *h2 {
	t.Helper()
	var mounted atomic.Pointer[Server]
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mounted.Load().ServeHTTP(w, r)
	}))
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tune != nil {
		tune(ts.Config)
	}
	ts.StartTLS()
	// The baseline is taken once the process has its poller and the
	// runtime's descriptors, which the first listener opens; the HTTP
	// server's own goroutines and descriptors are gone after ts.Close.
	before := servertest.TakeBaseline()
	t.Cleanup(func() { before.Check(t, 0, 5*time.Second) })
	t.Cleanup(ts.Close)
	h := startWith(t, servertest.Options{NoLeakCheck: true}, cfg, setup)
	mounted.Store(h.s)
	tr := ts.Client().Transport.(*http.Transport)
	return &h2{
		harness: h, url: ts.URL, h2addr: ts.Listener.Addr().String(), pool: tr.TLSClientConfig.RootCAs,
		client: &http.Client{Transport: h2RoundTripper(t, tr, ts.URL, ts.Listener.Addr().String())},
	}
}

// h2RoundTripper returns net/http's own HTTP/2 client for the server at
// url (addr), through tr. http.Client and http.Transport refuse the
// :protocol pseudo-header as a header name before they reach HTTP/2, but
// the HTTP/2 round tripper the transport registers for "h2" (TLSNextProto)
// accepts it and sends an extended CONNECT once the server advertised
// SETTINGS_ENABLE_CONNECT_PROTOCOL.
func h2RoundTripper(t testing.TB, tr *http.Transport, url, addr string) http.RoundTripper {
	t.Helper()
	// The first request sets the HTTP/2 client up and leaves an HTTP/2
	// connection in its pool.
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("test server answered over %s, want HTTP/2", resp.Proto)
	}
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tc.Close()
		tr.CloseIdleConnections()
	})
	return tr.TLSNextProto["h2"](addr, tc)
}

// open sends an extended CONNECT with :protocol proto and the extra header
// hdr, and returns the response; the body pipe is the stream's sending
// side.
func (h *h2) open(t *testing.T, proto string, hdr http.Header) (*http.Response, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, h.url+"/", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header[":protocol"] = []string{proto}
	if _, ok := req.Header["Sec-Websocket-Version"]; !ok {
		req.Header.Set("Sec-WebSocket-Version", "13")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("answered over %s, want HTTP/2", resp.Proto)
	}
	t.Cleanup(func() { pw.Close(); resp.Body.Close() })
	return resp, pw
}

// dialH2 opens a WebSocket on an HTTP/2 stream; the server must accept.
func (h *h2) dialH2(t testing.TB, hdr http.Header) (*wstest.Client, func()) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodConnect, h.url+"/", pr)
	req.Header = http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := h.client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d (%s), want 200", resp.StatusCode, b)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != "" {
		t.Error("Sec-WebSocket-Accept over HTTP/2 (RFC 8441 section 5 has none)")
	}
	sc := &streamClient{body: resp.Body, pw: pw, cancel: cancel, chunks: make(chan []byte, 1), done: make(chan struct{})}
	go sc.pump()
	t.Cleanup(func() { sc.Close() })
	// A failed body read makes net/http's client reset the stream
	// (RST_STREAM CANCEL); cancelling the context alone does not while
	// the body is being read.
	reset := func() {
		pw.CloseWithError(errors.New("test resets the stream"))
		cancel()
	}
	return wstest.Opened(sc, resp), reset
}

// streamClient is the client end of an HTTP/2 stream as a net.Conn, with
// read deadlines (net/http's response body has none).
type streamClient struct {
	body    io.ReadCloser
	pw      *io.PipeWriter
	cancel  context.CancelFunc
	rdl     streamDeadline
	chunks  chan []byte
	rerr    error
	pending []byte
	done    chan struct{}
	closed  atomic.Bool
}

func (c *streamClient) pump() {
	defer close(c.chunks)
	b := make([]byte, 32<<10)
	for {
		n, err := c.body.Read(b)
		if n > 0 {
			select {
			case c.chunks <- append([]byte(nil), b[:n]...):
			case <-c.done:
				return
			}
		}
		if err != nil {
			c.rerr = err
			return
		}
	}
}

func (c *streamClient) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		select {
		case b, ok := <-c.chunks:
			if !ok {
				return 0, c.rerr
			}
			c.pending = b
		case <-c.rdl.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *streamClient) Write(p []byte) (int, error) { return c.pw.Write(p) }
func (c *streamClient) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		close(c.done)
		c.pw.Close()
		c.body.Close()
		c.cancel()
	}
	return nil
}
func (c *streamClient) LocalAddr() net.Addr                { return textAddr("client") }
func (c *streamClient) RemoteAddr() net.Addr               { return textAddr("server") }
func (c *streamClient) SetDeadline(t time.Time) error      { return c.SetReadDeadline(t) }
func (c *streamClient) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *streamClient) SetWriteDeadline(t time.Time) error { return nil }

func TestH2Echo(t *testing.T) {
	if inChild(t) {
		return
	}
	var proto, transport atomic.Value
	h := startH2(t, Config{}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(_ *Server, c *Conn, req *handshake.Request) {
			proto.Store(req.HTTP.Proto)
			transport.Store(c.Transport())
		})
	})
	c, _ := h.dialH2(t, nil)
	for conn := range h.s.Connections() {
		if got := conn.Transport(); got != TransportHTTP2 {
			t.Errorf("Transport() = %q, want %q", got, TransportHTTP2)
		}
	}
	if got := transport.Load(); got != TransportHTTP2 {
		t.Errorf("Transport() in the handshake callback = %v, want %q", got, TransportHTTP2)
	}
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 100_000, 1 << 20} {
		msg := bytes.Repeat([]byte{'x'}, n)
		if err := c.WriteMessage(2, msg); err != nil {
			t.Fatalf("%d B: %v", n, err)
		}
		op, p, _, err := c.ReadMessage(wait)
		if err != nil || op != 2 || !bytes.Equal(p, msg) {
			t.Fatalf("%d B: got op %d, %d B, %v", n, op, len(p), err)
		}
	}
	if got := proto.Load(); got != "HTTP/2.0" {
		t.Errorf("the handshake callback saw %v, want HTTP/2.0", got)
	}
	if err := c.WriteFrame(true, 8, wstest.ClosePayload(1000, "bye")); err != nil {
		t.Fatal(err)
	}
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
		t.Fatalf("close: %d %v", code, err)
	}
	if err := c.ExpectEOF(wait); err != nil {
		t.Fatal(err)
	}
}

func TestH2SubprotocolAndDeflate(t *testing.T) {
	if inChild(t) {
		return
	}
	h := startH2(t, Config{Protocols: []string{"chat"}, Config: ws.Config{Deflate: &permessagedeflate.Config{}}}, echo)
	c, _ := h.dialH2(t, http.Header{
		"Sec-Websocket-Protocol":   {"other, chat"},
		"Sec-Websocket-Extensions": {"permessage-deflate"},
	})
	if got := c.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Errorf("subprotocol %q, want chat", got)
	}
	if got := c.Resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(got, "permessage-deflate") {
		t.Fatalf("extensions %q, want permessage-deflate", got)
	}
	msg := bytes.Repeat([]byte("compress me "), 1000)
	if err := c.Write(wstest.AppendFrame(nil, true, 0x4, 1, wstest.Deflate(msg))); err != nil {
		t.Fatal(err)
	}
	op, p, rsv1, err := c.ReadMessage(wait)
	if err != nil || op != 1 || !rsv1 {
		t.Fatalf("reply: op %d rsv1 %v %v", op, rsv1, err)
	}
	var in wstest.Inflater
	out, _, err := in.Inflate(p)
	if err != nil || !bytes.Equal(out, msg) {
		t.Fatalf("inflated reply: %d B, %v", len(out), err)
	}
}

func TestH2Refused(t *testing.T) {
	if inChild(t) {
		return
	}
	h := startH2(t, Config{}, echo)
	tests := []struct {
		name       string
		proto      string
		hdr        http.Header
		wantStatus int
		wantHeader string // a header the refusal carries
	}{
		{name: "another :protocol", proto: "webtransport", wantStatus: http.StatusNotImplemented},
		{name: "version 8", proto: "websocket", hdr: http.Header{"Sec-Websocket-Version": {"8"}}, wantStatus: http.StatusUpgradeRequired, wantHeader: "Sec-Websocket-Version"},
		{name: "bad subprotocol", proto: "websocket", hdr: http.Header{"Sec-Websocket-Protocol": {"a b"}}, wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := h.open(t, tt.proto, tt.hdr)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || len(body) == 0 {
				t.Fatalf("status %d (%q), want %d with a reason", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantHeader != "" && resp.Header.Get(tt.wantHeader) != "13" {
				t.Errorf("%s = %q, want 13", tt.wantHeader, resp.Header.Get(tt.wantHeader))
			}
		})
	}
	// The refusals leave the HTTP/2 connection usable.
	c, _ := h.dialH2(t, nil)
	echoes(t, c, "after the refusals")
}

func TestH2ResetMidMessage(t *testing.T) {
	if inChild(t) {
		return
	}
	closed := make(chan ws.CloseCode, 1)
	h := startH2(t, Config{}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) { closed <- code })
		})
	})
	c, reset := h.dialH2(t, nil)
	// Half a message: a frame header announcing 1000 bytes, 10 of them.
	half := wstest.AppendFrame(nil, true, 0, 2, make([]byte, 1000))
	if err := c.Write(half[:20]); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, "the server reading the first bytes", func() bool {
		for conn := range h.s.Connections() {
			if conn.Stats().BytesIn >= 20 {
				return true
			}
		}
		return false
	})
	reset()
	select {
	case code := <-closed:
		if code != frame.CloseAbnormal {
			t.Errorf("close code %d, want %d", code, frame.CloseAbnormal)
		}
	case <-time.After(wait):
		t.Fatal("no close event after the stream was reset")
	}
	wstest.WaitFor(t, "the connection leaving the registry", func() bool {
		for range h.s.Connections() {
			return false
		}
		return true
	})
}

func TestH2Stop(t *testing.T) {
	if inChild(t) {
		return
	}
	h := startH2(t, Config{}, echo)
	c, _ := h.dialH2(t, nil)
	echoes(t, c, "before Stop")
	stopped := make(chan error, 1)
	go func() { stopped <- h.Stop() }()
	code, _, err := c.ExpectClose(wait)
	if err != nil || code != int(frame.CloseAway) {
		t.Fatalf("close on Stop: %d %v", code, err)
	}
	c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
	if err := c.ExpectEOF(wait); err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// TestH2NotAdvertisedWithoutSetting checks that a process without
// GODEBUG=http2xconnect=1 does not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL: net/http's client then refuses to send
// an extended CONNECT.
func TestH2NotAdvertisedWithoutSetting(t *testing.T) {
	if extendedConnect {
		t.Skip("this process serves extended CONNECT")
	}
	h := startH2(t, Config{}, echo)
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest(http.MethodConnect, h.url+"/", pr)
	req.Header = http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}}
	resp, err := h.client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("extended CONNECT answered %d without GODEBUG=http2xconnect=1", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "extended connect not supported") {
		t.Fatalf("error %v, want the client's refusal of extended CONNECT", err)
	}
}

// startH2Location runs a server with cfg on its own TLS location; with
// GODEBUG=http2xconnect=1 it speaks HTTP/2 there.
func startH2Location(t *testing.T, cfg Config, setup func(*Server)) (*harness, *x509.CertPool) {
	t.Helper()
	cert, pool := wstest.Certificate(t)
	cfg.Locations = []Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}
	return start(t, cfg, setup), pool
}

func TestH2OwnLocation(t *testing.T) {
	if inChild(t) {
		return
	}
	h, pool := startH2Location(t, Config{}, echo)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	hc := &h2{harness: h, url: "https://" + h.addr, client: &http.Client{Transport: h2RoundTripper(t, tr, "https://"+h.addr, h.addr)}}
	c, _ := hc.dialH2(t, nil)
	echoes(t, c, "over the server's own HTTP/2")
	// HTTP/1.1 upgrades are still served on the same port.
	tc, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	c1, err := wstest.Handshake(tc, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	echoes(t, c1, "over HTTP/1.1 beside it")
	transports := map[string]int{}
	for conn := range h.s.Connections() {
		transports[conn.Transport()]++
	}
	if transports[TransportHTTP2] != 1 || transports[TransportHTTP1] != 1 {
		t.Errorf("transports %v, want one of each", transports)
	}
}

// TestH2OwnLocationStop: Stop closes a WebSocket on an HTTP/2 stream of
// the server's own location with 1001 and its closing handshake, before
// the HTTP/2 connection under it ends.
func TestH2OwnLocationStop(t *testing.T) {
	if inChild(t) {
		return
	}
	h, pool := startH2Location(t, Config{}, echo)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	hc := &h2{harness: h, url: "https://" + h.addr, client: &http.Client{Transport: h2RoundTripper(t, tr, "https://"+h.addr, h.addr)}}
	c, _ := hc.dialH2(t, nil)
	echoes(t, c, "before Stop")
	stopped := make(chan error, 1)
	go func() { stopped <- h.Stop() }()
	code, _, err := c.ExpectClose(wait)
	if err != nil || code != int(frame.CloseAway) {
		t.Fatalf("close on Stop: %d %v", code, err)
	}
	c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
	if err := c.ExpectEOF(wait); err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// TestH2OwnLocationHTTP1WithoutSetting checks that a TLS location of a
// process without GODEBUG=http2xconnect=1 does not offer HTTP/2 at all.
func TestH2OwnLocationHTTP1WithoutSetting(t *testing.T) {
	if extendedConnect {
		t.Skip("this process serves extended CONNECT")
	}
	h, pool := startH2Location(t, Config{}, echo)
	tc, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN chose %q, want http/1.1", p)
	}
}

func TestH2HandshakeCallback(t *testing.T) {
	if inChild(t) {
		return
	}
	h := startH2(t, Config{}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(_ *Server, c *Conn, req *handshake.Request) {
			if req.Origin() == "https://evil.example" {
				c.SendAcceptError(http.StatusForbidden, "origin refused", http.Header{"X-Why": {"origin"}})
				return
			}
			if err := c.SendAcceptResponse(&handshake.Response{Protocol: "b", Header: http.Header{"X-Chosen": {"b"}}}); err != nil {
				t.Errorf("SendAcceptResponse over HTTP/2: %v", err)
			}
		})
	})
	resp, _ := h.open(t, "websocket", http.Header{"Origin": {"https://evil.example"}})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || string(body) != "origin refused\n" || resp.Header.Get("X-Why") != "origin" {
		t.Fatalf("refusal: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	c, _ := h.dialH2(t, http.Header{"Sec-Websocket-Protocol": {"a, b"}})
	if c.Resp.Header.Get("Sec-WebSocket-Protocol") != "b" || c.Resp.Header.Get("X-Chosen") != "b" {
		t.Fatalf("accept header %v", c.Resp.Header)
	}
	echoes(t, c, "chosen by the callback")
}

// BenchmarkEchoH2 is BenchmarkEcho on an HTTP/2 stream (RFC 8441) of a
// mounted server: go test -bench EchoH2 with GODEBUG=http2xconnect=1.
// Unlike BenchmarkEcho, allocs/op count the client's too (net/http's
// HTTP/2 client and the test's copy of each chunk it reads).
func BenchmarkEchoH2(b *testing.B) {
	if !extendedConnect {
		b.Skip("needs GODEBUG=http2xconnect=1")
	}
	for _, bc := range []struct {
		name string
		size int
	}{{"16B", 16}, {"1KiB", 1024}, {"64KiB", 64 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			h := startH2(b, Config{}, echo)
			c, _ := h.dialH2(b, nil)
			req := wstest.AppendFrame(nil, true, 0, 2, make([]byte, bc.size))
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, _, _, err := c.ReadMessage(wait); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTransportHTTP1 checks Conn.Transport of a plain HTTP/1.1 upgrade,
// whose request is kept as its head's bytes: it says http/1.1 without
// parsing them.
func TestTransportHTTP1(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	echoes(t, c, "plain")
	for conn := range h.s.Connections() {
		if got := conn.Transport(); got != TransportHTTP1 {
			t.Errorf("Transport() = %q, want %q", got, TransportHTTP1)
		}
		conn.mu.Lock()
		parsed := conn.req != nil
		conn.mu.Unlock()
		if parsed {
			t.Error("Transport parsed the request head")
		}
	}
}

// BenchmarkEchoH1TLS is BenchmarkEchoH2's twin over HTTP/1.1: the same
// mounted server on the same TLS server, upgraded from HTTP/1.1 (ALPN
// http/1.1) instead of an HTTP/2 stream; go test -bench 'EchoH(1TLS|2)'
// with GODEBUG=http2xconnect=1 runs both. Unlike BenchmarkEchoH2,
// allocs/op count the server's only (the test client reads into one
// buffer).
func BenchmarkEchoH1TLS(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"16B", 16}, {"1KiB", 1024}, {"64KiB", 64 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			h := startH2(b, Config{}, echo)
			tc, err := tls.Dial("tcp", h.h2addr, &tls.Config{RootCAs: h.pool, NextProtos: []string{"http/1.1"}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { tc.Close() })
			c, err := wstest.Handshake(tc, "/", nil)
			if err != nil {
				b.Fatal(err)
			}
			req := wstest.AppendFrame(nil, true, 0, 2, make([]byte, bc.size))
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, _, _, err := c.ReadMessage(wait); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
