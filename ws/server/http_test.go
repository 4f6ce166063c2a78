package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

func TestHTTPHandlerAndAutoUpgrade(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/denied", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", 401) })
	// Anything else writes nothing: upgrade requests are upgraded.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	h := start(t, Config{HTTP: HTTPConfig{Handler: mux}}, echo)

	resp, err := http.Get("http://" + h.addr + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(resp); b != "hello" {
		t.Fatalf("plain request: %q", b)
	}
	if resp := rawRequest(t, h.addr, "/denied", nil); resp.StatusCode != 401 {
		t.Fatalf("handler's refusal: %d", resp.StatusCode)
	}
	c := h.Dial("/anything", nil)
	c.Close()
	if h.s.HTTP() == nil {
		t.Fatal("HTTP() is nil on a standalone server")
	}
}

func TestPlainRequestWithoutHandler(t *testing.T) {
	h := start(t, Config{}, echo)
	resp, err := http.Get("http://" + h.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	readBody(resp)
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
}

func TestMountedOnForeignServer(t *testing.T) {
	h := startMounted(t, Config{}, echo)
	s := h.s
	mux := http.NewServeMux()
	mux.Handle("/ws", s)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close) // before the harness's check that nothing is left
	if _, err := s.Addr(); err == nil {
		t.Fatal("Addr without locations did not fail")
	}
	addr := strings.TrimPrefix(hs.URL, "http://")
	c := dialAt(t, addr, "/ws", nil)
	c.WriteMessage(1, []byte("via mux"))
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "via mux" {
		t.Fatalf("%q %v", p, err)
	}
	s.Stop()
	if code, _, _ := c.ExpectClose(wait); code != 1001 {
		t.Fatalf("close %d, want 1001", code)
	}
	c.Close()
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestHeaderLimit(t *testing.T) {
	h := start(t, Config{HTTP: HTTPConfig{MaxHeaderBytes: 1024}}, echo)
	resp := rawRequest(t, h.addr, "/", http.Header{"X-Big": {strings.Repeat("a", 8000)}})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	h := start(t, Config{HTTP: HTTPConfig{HandshakeTimeout: 200 * time.Millisecond}}, echo)
	nc := h.DialTCP()
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n") // and nothing more
	// The handshake timeout ends it long before the client's deadline.
	nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, nc); isTimeout(err) {
		t.Fatalf("slow client still held after %v: %v", wait, err)
	}
	// A well-behaved client still gets in.
	c := h.dial(nil)
	c.Close()
}

func TestMaxConnections(t *testing.T) {
	h := start(t, Config{MaxConnections: 2, RetryAfter: 7}, echo)
	h.dial(nil)
	h.dial(nil)
	resp := rawRequest(t, h.addr, "/", nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("third connection: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestPanicInCallbackClosesWith1011(t *testing.T) {
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				if string(m.Payload) == "boom" {
					panic("test panic")
				}
				c.Send(m.Opcode, m.Payload)
			})
		})
	})
	bad, good := h.dial(nil), h.dial(nil)
	bad.WriteMessage(1, []byte("boom"))
	if code, _, err := bad.ExpectClose(wait); err != nil || code != 1011 {
		t.Fatalf("close %d %v, want 1011", code, err)
	}
	good.WriteMessage(1, []byte("fine"))
	if _, p, _, err := good.ReadMessage(wait); err != nil || string(p) != "fine" {
		t.Fatalf("other connection: %q %v", p, err)
	}
}

func TestTLSLocation(t *testing.T) {
	cert, pool := wstest.Certificate(t, "example.com")

	h := start(t, Config{
		Locations: []Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}},
		HTTP:      HTTPConfig{HandshakeTimeout: 300 * time.Millisecond},
	}, echo)
	tc, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: pool, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := wstest.Handshake(tc, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(1, []byte("secure"))
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "secure" {
		t.Fatalf("%q %v", p, err)
	}
	// A client that never finishes the TLS handshake is dropped.
	nc := h.DialTCP()
	nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, nc); isTimeout(err) {
		t.Fatalf("silent TLS client still held after %v: %v", wait, err)
	}
	// Plain HTTP to the TLS port gets an answer and a close, not a hang.
	nc2 := h.DialTCP()
	io.WriteString(nc2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	nc2.SetReadDeadline(time.Now().Add(wait))
	line, _ := bufio.NewReader(nc2).ReadString('\n')
	if !strings.Contains(line, "400") {
		t.Fatalf("plain HTTP on TLS port: %q", line)
	}
}

func TestReusePortAndBacklog(t *testing.T) {
	if !reusePortSupported {
		if _, err := New(Config{Locations: []Location{{ReusePort: true}}}); err == nil {
			t.Fatal("ReusePort accepted where unsupported")
		}
		return
	}
	a := start(t, Config{Locations: []Location{{Host: "127.0.0.1", ReusePort: true, Backlog: 16}}}, echo)
	_, port, _ := net.SplitHostPort(a.addr)
	p := 0
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	b := start(t, Config{Locations: []Location{{Host: "127.0.0.1", Port: p, ReusePort: true, Backlog: 16}}}, echo)
	if a.addr != b.addr {
		t.Fatalf("%s != %s", a.addr, b.addr)
	}
	c := a.dial(nil)
	c.WriteMessage(1, []byte("x"))
	if _, _, _, err := c.ReadMessage(wait); err != nil {
		t.Fatal(err)
	}
}

// A server mounted on a foreign http.Server answers every refusal through
// the ResponseWriter it is given: a bad handshake with its status and
// headers, too many header fields, a full server, a ResponseWriter that
// cannot be hijacked, a stopped server.
func TestMountedRefusals(t *testing.T) {
	h := startMounted(t, Config{MaxConnections: 1}, echo)
	s := h.s
	mux := http.NewServeMux()
	mux.Handle("/ws", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	addr := strings.TrimPrefix(hs.URL, "http://")

	upgradeReq := func(method string, over http.Header) *http.Request {
		r, err := http.NewRequest(method, hs.URL+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := handshake.NewKey()
		r.Header = http.Header{
			"Upgrade":               {"websocket"},
			"Connection":            {"Upgrade"},
			"Sec-Websocket-Key":     {key},
			"Sec-Websocket-Version": {"13"},
		}
		for k, v := range over {
			if v == nil {
				r.Header.Del(k)
			} else {
				r.Header[http.CanonicalHeaderKey(k)] = v
			}
		}
		return r
	}
	many := http.Header{}
	for i := range defaultMaxHeaderFields {
		many["X-Field-"+strconv.Itoa(i)] = []string{"v"}
	}
	for _, tc := range []struct {
		name           string
		method         string
		over           http.Header
		status         int
		header, hvalue string
	}{
		{"version 8", http.MethodGet, http.Header{"Sec-WebSocket-Version": {"8"}}, http.StatusUpgradeRequired, "Sec-WebSocket-Version", "13"},
		{"no key", http.MethodGet, http.Header{"Sec-WebSocket-Key": nil}, http.StatusBadRequest, "X-Content-Type-Options", "nosniff"},
		{"POST", http.MethodPost, nil, http.StatusMethodNotAllowed, "Allow", "GET"},
		{"too many fields", http.MethodGet, many, http.StatusRequestHeaderFieldsTooLarge, "X-Content-Type-Options", "nosniff"},
	} {
		resp, err := http.DefaultClient.Do(upgradeReq(tc.method, tc.over))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get(tc.header) != tc.hvalue || len(body) == 0 || !resp.Close {
			t.Errorf("%s: %d %s: %q, body %q, close %v; want %d with %s: %s, a reason and Connection: close",
				tc.name, resp.StatusCode, tc.header, resp.Header.Get(tc.header), body, resp.Close, tc.status, tc.header, tc.hvalue)
		}
	}

	// A ResponseWriter that cannot be hijacked: 500, and the error.
	rec := httptest.NewRecorder()
	if err := s.UpgradeConnection(rec, upgradeReq(http.MethodGet, nil)); err == nil || rec.Code != http.StatusInternalServerError {
		t.Errorf("unhijackable writer: %d, %v; want 500 and an error", rec.Code, err)
	}

	// The one connection allowed, then a second: 503 with Retry-After.
	c := dialAt(t, addr, "/ws", nil)
	resp, err := http.DefaultClient.Do(upgradeReq(http.MethodGet, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the limit: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	c.WriteMessage(1, []byte("still served"))
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "still served" {
		t.Fatalf("the admitted connection: %q %v", p, err)
	}

	s.Stop()
	c.ExpectClose(wait)
	c.Close()
	h.Stop()
	rec = httptest.NewRecorder()
	if err := s.UpgradeConnection(rec, upgradeReq(http.MethodGet, nil)); !errors.Is(err, ErrStopped) || rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after Stop: %d, %v; want 503 and ErrStopped", rec.Code, err)
	}
}

// HTTP is nil without locations, Configure having removed them too.
func TestHTTPNilWithoutLocations(t *testing.T) {
	h := start(t, Config{}, echo)
	if h.s.HTTP() == nil {
		t.Fatal("HTTP() is nil with a location")
	}
	if err := h.s.Configure(Config{}); err != nil {
		t.Fatal(err)
	}
	if h.s.HTTP() != nil {
		t.Fatal("HTTP() is not nil after Configure removed every location")
	}
	if ls := h.s.Listeners(); len(ls) != 0 {
		t.Fatalf("listeners %v", ls)
	}
	if err := h.s.Configure(Config{Locations: []Location{{Host: "127.0.0.1"}}}); err != nil {
		t.Fatal(err)
	}
	if h.s.HTTP() == nil {
		t.Fatal("HTTP() is nil after Configure added a location")
	}
	a, _ := h.s.Addr()
	c := dialAt(t, a.String(), "/", nil)
	echoes(t, c, "back")
	c.Close()
}

// A plain request the HTTP handler writes nothing for gets net/http's 200
// with an empty body, as it would from any http.Handler.
func TestHandlerThatWritesNothing(t *testing.T) {
	h := start(t, Config{HTTP: HTTPConfig{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}}, echo)
	resp, err := http.Get("http://" + h.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(resp); resp.StatusCode != http.StatusOK || b != "" {
		t.Fatalf("%d %q, want 200 and no body", resp.StatusCode, b)
	}
	echoes(t, h.dial(nil), "upgraded")
}
