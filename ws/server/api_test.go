package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

func TestHandshakeCallback(t *testing.T) {
	h := start(t, Config{Protocols: []string{"chat", "superchat"}}, func(s *Server) {
		echo(s)
		s.OnHandshake(func(s *Server, c *Conn, req *handshake.Request) {
			if req.Err() != nil {
				return // default error response
			}
			switch req.HTTP.URL.Path {
			case "/private":
				c.SendAcceptError(http.StatusForbidden, "no entry", http.Header{"X-Why": {"private"}})
			case "/custom":
				c.SendAcceptResponse(&handshake.Response{Protocol: "superchat", Header: http.Header{"X-Custom": {"yes"}}})
			}
		})
	})

	resp := rawRequest(t, h.addr, "/private", nil)
	if resp.StatusCode != 403 || resp.Header.Get("X-Why") != "private" || readBody(resp) != "no entry" {
		t.Fatalf("refusal: %d %v", resp.StatusCode, resp.Header)
	}

	c, err := wstest.Dial(h.addr, "/custom", http.Header{"Sec-WebSocket-Protocol": {"chat, superchat"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "superchat" {
		t.Fatalf("protocol %q, want the callback's superchat", got)
	}
	if c.Resp.Header.Get("X-Custom") != "yes" {
		t.Fatal("the callback's header is missing")
	}

	c2, err := wstest.Dial(h.addr, "/", http.Header{"Sec-WebSocket-Protocol": {"superchat, chat"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got := c2.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Fatalf("protocol %q, want the server's preference chat", got)
	}

	// An invalid request gets the default answer.
	resp = rawRequest(t, h.addr, "/", http.Header{"Sec-WebSocket-Version": {"8"}})
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("bad version: %d %v", resp.StatusCode, resp.Header)
	}

	// Removing the callback accepts /private.
	h.s.OnHandshake(nil)
	c3, err := wstest.Dial(h.addr, "/private", nil)
	if err != nil {
		t.Fatal(err)
	}
	c3.Close()
}

// rawRequest sends an upgrade request (with the given header fields
// overriding the defaults) and returns the response.
func rawRequest(t *testing.T, addr, path string, over http.Header) *http.Response {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key, _ := handshake.NewKey()
	hdr := http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-WebSocket-Key":     {key},
		"Sec-WebSocket-Version": {"13"},
	}
	for k, v := range over {
		hdr[http.CanonicalHeaderKey(k)] = v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, addr)
	hdr.Write(&b)
	b.WriteString("\r\n")
	nc.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(nc, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readBody(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestConnectionsAndBroadcast(t *testing.T) {
	joined := make(chan struct{}, 10)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
				for peer := range s.Connections() {
					peer.SendText(string(m.Payload))
				}
			})
			joined <- struct{}{}
		})
	})
	var cs []*wstest.Client
	for range 3 {
		cs = append(cs, h.dial(nil))
		<-joined
	}
	cs[0].WriteMessage(1, []byte("to all"))
	for i, c := range cs {
		_, p, _, err := c.ReadMessage(wait)
		if err != nil || string(p) != "to all" {
			t.Fatalf("client %d: %q %v", i, p, err)
		}
	}
	n := 0
	var last uint64
	for c := range h.s.Connections() {
		if c.ID() <= last {
			t.Fatalf("Connections not in id order: %d after %d", c.ID(), last)
		}
		last = c.ID()
		n++
	}
	if n != 3 || h.s.Len() != 3 {
		t.Fatalf("Connections yielded %d, Len %d; want 3", n, h.s.Len())
	}
}

func TestStopClosesEveryPeer(t *testing.T) {
	closes := make(chan ws.CloseCode, 10)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) { closes <- code })
		})
	})
	s := h.s
	var cs []*wstest.Client
	for range 3 {
		c, err := wstest.Dial(h.addr, "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	s.Stop(frame.CloseServiceRestart)
	for _, c := range cs {
		code, _, err := c.ExpectClose(wait)
		if err != nil || code != 1012 {
			t.Fatalf("close %d %v, want 1012", code, err)
		}
		c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
	}
	for range cs {
		if code := <-closes; code != frame.CloseServiceRestart {
			t.Fatalf("close event with %v", code)
		}
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("loop: %v", err)
	}
	if _, err := s.Addr(); !errors.Is(err, ErrNoListeners) {
		t.Fatalf("Addr after Stop: %v", err)
	}
	if _, err := net.Dial("tcp", h.addr); err == nil {
		t.Fatal("still listening after Stop")
	}
}

func TestStopAndStartListening(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	h.s.StopListening()
	if _, err := net.DialTimeout("tcp", h.addr, time.Second); err == nil {
		t.Fatal("dial succeeded after StopListening")
	}
	// The established connection is served on.
	c.WriteMessage(1, []byte("still here"))
	if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "still here" {
		t.Fatalf("%q %v", p, err)
	}
	if err := h.s.StartListening(); err != nil {
		t.Fatal(err)
	}
	a, err := h.s.Addr()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := wstest.Dial(a.String(), "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
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
	nw, err := wstest.Dial(second, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
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

func TestAllInterfaces(t *testing.T) {
	h := start(t, Config{Locations: []Location{{Host: "*"}}}, echo)
	_, port, _ := net.SplitHostPort(h.addr)
	targets := []string{net.JoinHostPort("127.0.0.1", port)}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		targets = append(targets, net.JoinHostPort("::1", port))
	}
	for _, a := range targets {
		c, err := wstest.Dial(a, "/", nil)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		c.Close()
	}
}
