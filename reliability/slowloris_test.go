package reliability

import (
	"fmt"
	"strconv"
	"time"
	"unievent.dev/internal/wstest/servertest"

	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/server"
)

// Item 1, slowloris: thousands of sockets send their upgrade request one
// byte per second. A new client is still upgraded and echoed promptly,
// every slow socket is closed by the handshake timeout, and the server's
// memory stays bounded; the test reports the bytes each slow socket costs.
func TestSlowloris(t *testing.T) {
	n := scale(300, 2000)
	timeout := scale(3*time.Second, server.DefaultConfig().HTTP.HandshakeTimeout)
	base := servertest.TakeBaseline()
	var cfg server.Config
	cfg.HTTP.HandshakeTimeout = timeout
	h := start(t, cfg, echo)
	mem0, rss0 := goMemory(), settledRSS()

	p := startPeer(t, "slowloris", map[string]string{
		"ADDR": h.addr, "N": strconv.Itoa(n), "INTERVAL": "1s", "LIMIT": (timeout + 20*time.Second).String(),
	})
	p.expect("ready")
	opened := time.Now()
	time.Sleep(timeout / 2) // the attack runs half the handshake timeout before its cost is measured
	mem1, rss1 := goMemory(), settledRSS()
	perSocket := (mem1 - mem0) / int64(n)

	// A well-behaved client gets in and is echoed while they hang on.
	t0 := time.Now()
	c, err := wstest.Dial(h.addr, "/", nil)
	if err != nil {
		t.Fatalf("a new client during the slowloris: %v", err)
	}
	if err := c.WriteMessage(1, []byte("still there?")); err != nil {
		t.Fatal(err)
	}
	if _, got, _, err := c.ReadMessage(wait); err != nil || string(got) != "still there?" {
		t.Fatalf("echo during the slowloris: %q %v", got, err)
	}
	latency := time.Since(t0)
	c.Close()
	// Served while the slow sockets still hang on: before the first of
	// them can have reached the handshake timeout.
	if time.Since(opened) > timeout {
		t.Fatalf("the good client was served only after the handshake timeout of the slow sockets (it took %v)", latency)
	}

	res := p.expect("result")
	var closed, firstMS, lastMS, sent int
	if _, err := fmt.Sscan(res, &closed, &firstMS, &lastMS, &sent); err != nil {
		t.Fatalf("peer result %q: %v", res, err)
	}
	first, last := time.Duration(firstMS)*time.Millisecond, time.Duration(lastMS)*time.Millisecond
	t.Logf("%d slow sockets, handshake timeout %v: closed %d, after %v to %v, at most %d request bytes sent each",
		n, timeout, closed, first, last, sent)
	t.Logf("server memory: %s before, %s with the slow sockets (%s per socket); RSS %s -> %s",
		mib(mem0), mib(mem1), kib(perSocket), mib(rss0), mib(rss1))
	t.Logf("a new client was upgraded and echoed in %v", latency)
	// The peer stops waiting 20 s past the handshake timeout (LIMIT): a
	// socket it counts as closed was closed by the server before that.
	if closed != n {
		t.Errorf("the server closed %d of %d slow sockets", closed, n)
	}
	if first < timeout-100*time.Millisecond { // the peer's clock starts after the server's
		t.Errorf("a slow socket was closed after %v, before the handshake timeout %v", first, timeout)
	}
	// What a slow socket costs is a goroutine, net/http's connection state
	// and its 4 KiB read buffer: bounded by a few tens of KiB, not by
	// anything the client sends.
	if perSocket > 64<<10 {
		t.Errorf("%s of server memory per slow socket", kib(perSocket))
	}
	// Once they are gone, so is what they cost (under the race detector,
	// whose goroutines and pools cost more, within four times as much).
	left := int64(4 << 10)
	if raceEnabled {
		left *= 4
	}
	mem2 := goMemory()
	if mem2 > mem0+int64(n)*left {
		t.Errorf("server memory %s after the slow sockets were closed, %s before", mib(mem2), mib(mem0))
	}
	p.stop()
	h.stop()
	base.Check(t, 0, wait)
}
