package server

import (
	"io"
	"net"
	"testing"
	"time"
)

// Stop ends the connections still sending their request head (read by the
// locations' fast path, outside net/http) at once, as net/http's Close
// does for its own, instead of leaving them to the handshake timeout.
func TestStopClosesHandshakesInProgress(t *testing.T) {
	h := start(t, Config{}, echo)
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the server is reading the head
	h.s.Stop()
	start := time.Now()
	nc.SetReadDeadline(time.Now().Add(wait))
	io.Copy(io.Discard, nc)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("the half-sent request held its socket %v after Stop (handshake timeout %v)", el, DefaultHandshakeTimeout)
	}
}
