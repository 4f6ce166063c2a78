package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// echoes checks that c is served: a message comes back.
func echoes(t *testing.T, c *wstest.Client, what string) {
	t.Helper()
	if err := c.WriteMessage(1, []byte(what)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != what {
		t.Fatalf("%s: %q %v", what, p, err)
	}
}

// A close code that may not go on the wire is refused before Stop does
// anything: the server listens and serves on, and a valid code later
// stops it.
func TestStopRefusesACodeNotForTheWire(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	for _, code := range []ws.CloseCode{frame.CloseAbnormal, frame.CloseTLSHandshake, 999, 5000} {
		if err := h.s.Stop(code); !errors.Is(err, ws.ErrInvalid) {
			t.Errorf("Stop(%d): %v, want ws.ErrInvalid", code, err)
		}
	}
	if err := h.s.Stop(frame.CloseAway, frame.CloseNormal); err == nil {
		t.Error("Stop with two codes: accepted")
	}
	echoes(t, c, "still served")
	h.dial(nil).Close() // still listening
	if err := h.s.Stop(frame.CloseServiceRestart); err != nil {
		t.Fatalf("Stop(1012): %v", err)
	}
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1012 {
		t.Fatalf("close %d %v, want 1012", code, err)
	}
	if err := h.s.Stop(); err != nil {
		t.Fatalf("Stop on a stopped server: %v, want nil", err)
	}
}

// A connection that is closing already when Stop comes is no error.
func TestStopWithAConnectionClosingAlready(t *testing.T) {
	ids := make(chan uint64, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) { ids <- c.ID() })
	})
	c := h.dial(nil)
	if err := h.s.Connection(<-ids).Close(frame.CloseNormal, "bye"); err != nil {
		t.Fatal(err)
	}
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
		t.Fatalf("close %d %v", code, err)
	}
	if err := h.s.Stop(); err != nil {
		t.Fatalf("Stop: %v, want nil", err)
	}
}

// Configure keeps the handler SetHTTPHandler set, and Config returns the
// config in force, so that one field can change.
func TestConfigureKeepsTheHTTPHandler(t *testing.T) {
	h := start(t, Config{}, echo)
	h.s.SetHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	cfg := h.s.Config()
	if cfg.HTTP.Handler == nil || len(cfg.Locations) != 1 {
		t.Fatalf("Config: handler %v, locations %v", cfg.HTTP.Handler, cfg.Locations)
	}
	cfg.MaxMessageSize = 1000
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	if got := h.s.Config().MaxMessageSize; got != 1000 {
		t.Fatalf("MaxMessageSize %d after Configure, want 1000", got)
	}
	// A config written from scratch, without a handler, keeps it too.
	if err := h.s.Configure(Config{Locations: cfg.Locations}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + h.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(resp); resp.StatusCode != http.StatusOK || b != "hello" {
		t.Fatalf("plain GET after Configure: %d %q, want 200 hello", resp.StatusCode, b)
	}
	cfg.Locations[0].Port = 1 // a copy: the server's config stays
	if got := h.s.Config().Locations[0].Port; got != 0 {
		t.Fatalf("Config shares its Locations with the server (port %d)", got)
	}
	h.s.SetHTTPHandler(nil)
	resp, err = http.Get("http://" + h.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	if readBody(resp); resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("after SetHTTPHandler(nil): %d, want 426", resp.StatusCode)
	}
}

// busyPort returns a loopback port something else listens on.
func busyPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// A Configure that cannot open a location changes nothing: not the
// limits, not the subprotocols, not the listeners.
func TestFailedConfigureChangesNothing(t *testing.T) {
	cfg := Config{Protocols: []string{"a"}}
	cfg.MaxMessageSize = 100
	h := start(t, cfg, echo)
	before := h.s.Listeners()

	next := h.s.Config()
	next.MaxMessageSize = 1000
	next.Protocols = []string{"b"}
	port := busyPort(t)
	next.Locations = append(next.Locations, Location{Host: "127.0.0.1", Nagle: true}, Location{Host: "127.0.0.1", Port: port})
	err := h.s.Configure(next)
	if err == nil || !strings.Contains(err.Error(), "location 2 (127.0.0.1:"+strconv.Itoa(port)+")") {
		t.Fatalf("Configure with a busy port: %v, want an error naming location 2", err)
	}
	if after := h.s.Listeners(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("listeners %v after a failed Configure, want %v", after, before)
	}
	if got := h.s.Config(); got.MaxMessageSize != 100 || len(got.Locations) != 1 || got.Protocols[0] != "a" {
		t.Fatalf("config after a failed Configure: %d, %v, %v", got.MaxMessageSize, got.Locations, got.Protocols)
	}
	c := h.dial(http.Header{"Sec-WebSocket-Protocol": {"a, b"}})
	if p := c.Resp.Header.Get("Sec-WebSocket-Protocol"); p != "a" {
		t.Fatalf("subprotocol %q, want a", p)
	}
	c.WriteMessage(2, make([]byte, 500))
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1009 {
		t.Fatalf("a 500-byte message under the old limit: close %d %v, want 1009", code, err)
	}
}

// Run opens every location or none.
func TestFailedRunOpensNothing(t *testing.T) {
	port := busyPort(t)
	s, err := New(Config{Locations: []Location{{Host: "127.0.0.1"}, {Host: "127.0.0.1", Port: port}}}, ws.NewLoop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(); err == nil || !strings.Contains(err.Error(), "location 1") {
		t.Fatalf("Run with a busy port: %v, want an error naming location 1", err)
	}
	if ls := s.Listeners(); len(ls) != 0 {
		t.Fatalf("listeners after a failed Run: %v", ls)
	}
	if s.HTTP() != nil {
		t.Fatal("HTTP() is not nil after a failed Run")
	}
	if err := s.StartListening(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("StartListening after a failed Run: %v, want ErrNotRunning", err)
	}
}

// A location whose socket stays the same (same host, port and socket
// options) keeps it when only what applies to accepted connections
// changes: no second bind of the port.
func TestConfigureRetunesALocationInPlace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h := start(t, Config{Locations: []Location{{Host: "127.0.0.1", Port: port}}}, echo)
	before := h.s.Listeners()
	cfg := h.s.Config()
	cfg.Locations[0].Nagle = true
	if err := h.s.Configure(cfg); err != nil {
		t.Fatalf("Configure turning Nagle on: %v", err)
	}
	if after := h.s.Listeners(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("listeners %v, want the same socket %v", after, before)
	}
	echoes(t, h.dial(nil), "retuned")
}

// Two locations with port 0 each get a free port.
func TestTwoPortZeroLocationsBothListen(t *testing.T) {
	local := Location{Host: "127.0.0.1"}
	h := start(t, Config{Locations: []Location{local, local}}, echo)
	ls := h.s.Listeners()
	if len(ls) != 2 || ls[0].Addr().String() == ls[1].Addr().String() {
		t.Fatalf("listeners %v, want two on different ports", ls)
	}
	for _, l := range ls {
		c, err := wstest.Dial(l.Addr().String(), "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		echoes(t, c, l.Addr().String())
		c.Close()
	}
}

// A listener the user closed is no longer listed, Addr moves on to the
// next, and StartListening opens its location again.
func TestListenersForgetAClosedOne(t *testing.T) {
	local := Location{Host: "127.0.0.1"}
	h := start(t, Config{Locations: []Location{local, local}}, echo)
	ls := h.s.Listeners()
	ls[0].Close()
	if got := h.s.Listeners(); len(got) != 1 || got[0] != ls[1] {
		t.Fatalf("listeners %v after closing the first, want [%v]", got, ls[1])
	}
	if a, err := h.s.Addr(); err != nil || a.String() != ls[1].Addr().String() {
		t.Fatalf("Addr %v %v, want %v", a, err, ls[1].Addr())
	}
	ls[1].Close()
	if a, err := h.s.Addr(); !errors.Is(err, ErrNoListeners) {
		t.Fatalf("Addr %v %v with every listener closed, want ErrNoListeners", a, err)
	}
	if err := h.s.StartListening(); err != nil {
		t.Fatal(err)
	}
	if got := h.s.Listeners(); len(got) != 2 {
		t.Fatalf("%d listeners after StartListening, want 2", len(got))
	}
	a, _ := h.s.Addr()
	c, err := wstest.Dial(a.String(), "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	echoes(t, c, "reopened")
	c.Close()
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
	c, err := wstest.Dial(a.String(), "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	echoes(t, c, "back")
	c.Close()
}
