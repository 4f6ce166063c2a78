package server

import (
	"errors"
	"net"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
)

// An IPv6 host may be given bracketed, as in a URL.
func TestBracketedIPv6Host(t *testing.T) {
	if got := (Location{Host: "[::1]", Port: 80}).address(); got != "[::1]:80" {
		t.Fatalf("address %q, want [::1]:80", got)
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		ln.Close()
	}
	h := start(t, Config{Locations: []Location{{Host: "[::1]"}}}, echo)
	echoes(t, h.dial(nil), "v6")
}

// A location's error names it once, with the server's prefix once.
func TestLocationErrorSaysItOnce(t *testing.T) {
	_, err := New(Config{Locations: []Location{{Host: "127.0.0.1", Port: 70000}}})
	if err == nil {
		t.Fatal("port 70000 accepted")
	}
	if msg := err.Error(); strings.Count(msg, "server:") != 1 || strings.Count(msg, "location") != 1 || !strings.Contains(msg, "70000 out of range") {
		t.Fatalf("error %q", msg)
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

// Two locations with port 0 each get a free port.
func TestTwoPortZeroLocationsBothListen(t *testing.T) {
	local := Location{Host: "127.0.0.1"}
	h := start(t, Config{Locations: []Location{local, local}}, echo)
	ls := h.s.Listeners()
	if len(ls) != 2 || ls[0].Addr().String() == ls[1].Addr().String() {
		t.Fatalf("listeners %v, want two on different ports", ls)
	}
	for _, l := range ls {
		c := dialAt(t, l.Addr().String(), "/", nil)
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
	c := dialAt(t, a.String(), "/", nil)
	echoes(t, c, "reopened")
	c.Close()
}
