package server

import (
	"net"
	"strings"
	"testing"
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
