package server

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
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
	c, err := wstest.Dial(h.addr, "/", http.Header{"Sec-WebSocket-Protocol": {"chat"}})
	if err != nil {
		t.Fatal(err)
	}
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
