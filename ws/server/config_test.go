package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"unievent.dev/ws"
)

// Every size and count limit a user sets is an int, so that one value
// (a constant, a flag) fits any of them without conversions.
func TestSizeLimitsAreInts(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[ws.Config](), reflect.TypeFor[Config](), reflect.TypeFor[HTTPConfig]()} {
		for f := range typ.Fields() {
			if f.Anonymous {
				continue
			}
			limit := strings.HasPrefix(f.Name, "Max") || strings.HasSuffix(f.Name, "Size") || strings.HasSuffix(f.Name, "Limit") || strings.HasSuffix(f.Name, "Bytes")
			if limit && f.Type.Kind() != reflect.Int {
				t.Errorf("%s.%s is %s, want int", typ.Name(), f.Name, f.Type)
			}
		}
	}
}

// Configure must not compare the handler (a func type panics when
// compared).
func TestConfigureWithHandlerFunc(t *testing.T) {
	cfg := Config{HTTP: HTTPConfig{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}}
	h := start(t, cfg, echo)
	cfg.Locations = []Location{{Host: "127.0.0.1"}}
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.MaxHeaderBytes = 2048 // a new front end takes over
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	c := h.dial(nil)
	c.Close()
}

// New and Configure refuse a config that cannot work, with an error; a
// refused Configure leaves the running config as it was.
func TestConfigRefusesBadSettings(t *testing.T) {
	local := Location{Host: "127.0.0.1", Port: 8080}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative MaxFrameSize", Config{Config: ws.Config{MaxFrameSize: -1}}},
		{"ReadBufferSize below 512", Config{Config: ws.Config{ReadBufferSize: 100}}},
		{"negative HTTP.MaxHeaderBytes", Config{HTTP: HTTPConfig{MaxHeaderBytes: -1}}},
		{"negative RetryAfter", Config{RetryAfter: -1}},
		{"port 65536", Config{Locations: []Location{{Host: "127.0.0.1", Port: 65536}}}},
		{"negative port", Config{Locations: []Location{{Host: "127.0.0.1", Port: -1}}}},
		{"negative backlog", Config{Locations: []Location{{Host: "127.0.0.1", Backlog: -1}}}},
		{"a location twice", Config{Locations: []Location{local, local}}},
		{"a subprotocol with a space", Config{Protocols: []string{"chat v2"}}},
		{"an empty subprotocol", Config{Protocols: []string{""}}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("New, %s: accepted", tc.name)
		}
	}

	h := start(t, Config{Protocols: []string{"chat"}}, echo)
	if err := h.s.Configure(Config{Protocols: []string{"chat v2"}}); err == nil {
		t.Fatal("Configure with a bad subprotocol: accepted")
	}
	c := h.Dial("/", http.Header{"Sec-WebSocket-Protocol": {"chat"}})
	defer c.Close()
	if got := c.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Fatalf("protocol %q after a refused Configure, want chat", got)
	}
}

// DefaultConfig stands for the zero Config: a server made with either
// applies the same limits and timeouts.
func TestDefaultConfigIsTheZeroConfig(t *testing.T) {
	zero, def := &Server{}, &Server{}
	zero.setConfig(&Config{})
	d := DefaultConfig()
	def.setConfig(&d)
	if err := d.validate(); err != nil {
		t.Fatalf("DefaultConfig does not validate: %v", err)
	}
	type limits struct{ conns, fields, retry int }
	if got, want := (limits{def.cfg.maxConnections(), def.cfg.maxHeaderFields(), def.cfg.retryAfter()}),
		(limits{zero.cfg.maxConnections(), zero.cfg.maxHeaderFields(), zero.cfg.retryAfter()}); got != want {
		t.Errorf("DefaultConfig's limits %+v, the zero Config's %+v", got, want)
	}
	zs, ds := zero.newFrontEnd(), def.newFrontEnd()
	defer zs.srv.Close()
	defer ds.srv.Close()
	if zs.srv.MaxHeaderBytes != ds.srv.MaxHeaderBytes || zs.srv.ReadHeaderTimeout != ds.srv.ReadHeaderTimeout ||
		zs.srv.IdleTimeout != ds.srv.IdleTimeout || zs.srv.WriteTimeout != ds.srv.WriteTimeout {
		t.Errorf("DefaultConfig's HTTP server %+v, the zero Config's %+v", ds.srv, zs.srv)
	}
	if *def.wsCfg != ws.DefaultConfig() {
		t.Errorf("DefaultConfig's ws.Config %+v, want ws.DefaultConfig()", *def.wsCfg)
	}
}

func TestConfigureAppliesToNewConnections(t *testing.T) {
	var cfg Config
	cfg.MaxMessageSize = 100
	h := start(t, cfg, echo)
	old := h.dial(nil)
	cfg.MaxMessageSize = 1000
	cfg.Locations = []Location{{Host: "127.0.0.1"}, {Host: "127.0.0.1", Port: 0, Nagle: true}}
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	if n := len(h.s.Listeners()); n != 2 {
		t.Fatalf("%d listeners after adding a location, want 2", n)
	}
	second := h.s.Listeners()[1].Addr().String()
	nw := dialAt(t, second, "/", nil)
	defer nw.Close()
	msg := make([]byte, 500)
	nw.WriteMessage(2, msg)
	if _, p, _, err := nw.ReadMessage(wait); err != nil || len(p) != 500 {
		t.Fatalf("new connection: %d bytes %v", len(p), err)
	}
	old.WriteMessage(2, msg)
	if code, _, err := old.ExpectClose(wait); err != nil || code != 1009 {
		t.Fatalf("old connection kept its limit? close %d %v", code, err)
	}
	// Dropping the first location stops it; the second stays.
	cfg.Locations = cfg.Locations[1:]
	if err := h.s.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", h.addr, time.Second); err == nil {
		t.Fatal("removed location still accepts")
	}
	if a, _ := h.s.Addr(); a.String() != second {
		t.Fatalf("Addr %v, want %s", a, second)
	}
}

func TestBadConfig(t *testing.T) {
	bad := []Config{
		{Locations: []Location{{Port: 70000}}},
		{Locations: []Location{{Host: "127.0.0.1", Port: 8080}, {Host: "127.0.0.1", Port: 8080}}},
		{Protocols: []string{"bad protocol"}},
		{HTTP: HTTPConfig{MaxHeaderBytes: -1}},
	}
	bad = append(bad, Config{})
	bad[len(bad)-1].MaxMessageSize = -5
	for i, cfg := range bad {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %d: New accepted it", i)
		}
	}
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Configure(bad[0]); err == nil {
		t.Error("Configure accepted a bad config")
	}
	if _, err := s.Addr(); !errors.Is(err, ErrNoListeners) {
		t.Errorf("Addr without listeners: %v", err)
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
