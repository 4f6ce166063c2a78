package reliability

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws/server"
)

// clientHello returns the first bytes a TLS client sends.
func clientHello(t testing.TB) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go tls.Client(a, &tls.Config{InsecureSkipVerify: true}).Handshake()
	b.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	return buf[:n]
}

// Item 11: wss on a location with a tls.Config. Clients that open TCP and
// never finish the TLS handshake (silent, or stuck halfway through their
// ClientHello), and clients that finish it but send no request, are
// closed by the handshake timeout; plain HTTP requests to the TLS port get
// a 400 and leave nothing behind; the wss client is served throughout.
func TestTLSAbuse(t *testing.T) {
	n := scale(100, 1000)
	timeout := scale(time.Second, 3*time.Second)
	cert, pool := wstest.Certificate(t)
	hello := clientHello(t)
	base := servertest.TakeBaseline()
	cfg := server.Config{
		Locations: []server.Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}},
		HTTP:      server.HTTPConfig{HandshakeTimeout: timeout},
	}
	h := start(t, cfg, echo)
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	tc, err := tls.Dial("tcp", h.addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	wss, err := wstest.Handshake(tc, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	echoes := func(what string) {
		t.Helper()
		wss.WriteMessage(1, []byte(what))
		if _, p, _, err := wss.ReadMessage(wait); err != nil || string(p) != what {
			t.Fatalf("wss echo %s: %q %v", what, p, err)
		}
	}
	echoes("before")

	// Stalled clients of three kinds, all at once.
	kinds := []string{"silent after TCP", "half a ClientHello", "TLS done, no request"}
	type result struct {
		kind   int
		closed time.Duration // -1: still open at the client's deadline, wait past the handshake timeout
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	started := time.Now()
	for i := range n {
		kind := i % len(kinds)
		nc := dialTCP(t, h.addr)
		var rd io.Reader = nc
		switch kind {
		case 1:
			nc.Write(hello[:len(hello)/2])
		case 2:
			c := tls.Client(nc, clientTLS)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			rd = c
		}
		opened := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer nc.Close()
			nc.SetReadDeadline(opened.Add(timeout + wait))
			_, err := io.Copy(io.Discard, rd)
			if isTimeout(err) {
				results <- result{kind, -1}
				return
			}
			results <- result{kind, time.Since(opened)}
		}()
	}
	echoes("while they stall")

	// Plain HTTP to the TLS port.
	for range n {
		nc := dialTCP(t, h.addr)
		nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"))
		nc.SetReadDeadline(time.Now().Add(wait))
		line, _ := bufio.NewReader(nc).ReadString('\n')
		if !strings.Contains(line, "400") {
			t.Fatalf("plain HTTP to the TLS port: %q", line)
		}
		if _, err := io.Copy(io.Discard, nc); err != nil && isTimeout(err) {
			t.Fatal("plain HTTP to the TLS port: the connection stays open")
		}
		nc.Close()
	}

	wg.Wait()
	close(results)
	var early, open int
	var longest time.Duration
	for r := range results {
		switch {
		case r.closed < 0:
			open++
		case r.closed < timeout-50*time.Millisecond:
			early++
		}
		longest = max(longest, r.closed)
	}
	t.Logf("%d stalled clients (%s), handshake timeout %v: closed after %v at the longest; %d plain HTTP requests answered 400; the whole took %v",
		n, strings.Join(kinds, ", "), timeout, longest.Round(time.Millisecond), n, time.Since(started).Round(time.Millisecond))
	if open > 0 || early > 0 {
		t.Errorf("%d stalled clients still open %v past the handshake timeout, %d closed before it", open, wait, early)
	}
	echoes("after")
	wss.Close()
	running := base
	running.Goroutines += 3
	running.FDs++
	running.Check(t, 0, wait) // nothing left behind, the server still running
	h.stop()
	base.Check(t, 0, wait)
}
