package reliability

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/server"
)

// echoLoop sends messages of size bytes and checks their echoes until
// stop is closed; it counts round trips and keeps the first error.
type echoLoop struct {
	trips atomic.Int64
	err   atomic.Value
	done  chan struct{}
}

func runEchoLoop(c *wstest.Client, size int, stop chan struct{}) *echoLoop {
	e := &echoLoop{done: make(chan struct{})}
	go func() {
		defer close(e.done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			msg := bytes.Repeat([]byte{byte(i)}, size)
			if err := c.WriteMessage(2, msg); err != nil {
				e.err.Store(err)
				return
			}
			if _, p, _, err := c.ReadMessage(wait); err != nil || !bytes.Equal(p, msg) {
				e.err.Store(fmt.Errorf("echo %d: %d bytes, %v", i, len(p), err))
				return
			}
			e.trips.Add(1)
		}
	}()
	return e
}

// progressed reports whether e made a round trip since it had made
// before, or has ended (an ended loop reports its error at the end).
func (e *echoLoop) progressed(before int64) bool {
	select {
	case <-e.done:
		return true
	default:
		return e.trips.Load() > before
	}
}

// waitRoundTrips waits until every loop has made another round trip.
func waitRoundTrips(t *testing.T, loops []*echoLoop) {
	t.Helper()
	before := make([]int64, len(loops))
	for i, e := range loops {
		before[i] = e.trips.Load()
	}
	wstest.WaitFor(t, "a round trip on every connection", func() bool {
		for i, e := range loops {
			if !e.progressed(before[i]) {
				return false
			}
		}
		return true
	})
}

// Item 13: Configure while traffic flows. Limits change, locations are
// swapped (the old one stops listening, a new one opens) and the HTTP
// front end is replaced, again and again; the connections in place keep
// their config and keep working, and each new connection gets the config
// of its time.
func TestConfigureUnderLoad(t *testing.T) {
	k := scale(20, 200)
	rounds := scale(10, 100)
	base := servertest.TakeBaseline()
	// Two configs that differ in everything Configure can change.
	a := server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}, Protocols: []string{"a"}}
	a.MaxMessageSize = 1000
	b := server.Config{Locations: []server.Location{{Host: "127.0.0.1", Nagle: true}}, Protocols: []string{"b"}}
	b.MaxMessageSize = 2000
	b.HTTP.MaxHeaderBytes = 4 << 10
	h := start(t, a, echo)
	offer := http.Header{"Sec-WebSocket-Protocol": {"a, b"}}

	stop := make(chan struct{})
	var loops []*echoLoop
	var clients []*wstest.Client
	dialLoops := func(addr string) {
		for range k {
			c, err := wstest.Dial(addr, "/", offer)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			clients = append(clients, c)
			loops = append(loops, runEchoLoop(c, 500, stop))
		}
	}
	dialLoops(h.addr)
	// A connection made under a, kept idle to check its limit at the end.
	probeA := h.dial("/", offer)

	var mu sync.Mutex
	var closedAddrs []string
	checkNew := func(cfg server.Config, addr string) {
		t.Helper()
		c, err := wstest.Dial(addr, "/", offer)
		if err != nil {
			t.Fatalf("a new connection on %s: %v", addr, err)
		}
		defer c.Close()
		if got, want := c.Resp.Header.Get("Sec-WebSocket-Protocol"), cfg.Protocols[0]; got != want {
			t.Errorf("a new connection got subprotocol %q, want %q", got, want)
		}
		msg := make([]byte, 1500) // over a's limit, under b's
		c.WriteMessage(2, msg)
		if cfg.MaxMessageSize < 1500 {
			if code, _, err := c.ExpectClose(wait); err != nil || code != 1009 {
				t.Errorf("a new connection under limit %d: close %d %v, want 1009", cfg.MaxMessageSize, code, err)
			}
		} else if _, p, _, err := c.ReadMessage(wait); err != nil || len(p) != 1500 {
			t.Errorf("a new connection under limit %d: %d bytes %v", cfg.MaxMessageSize, len(p), err)
		}
	}
	started := time.Now()
	for r := range rounds {
		cfg := b
		if r%2 == 1 {
			cfg = a
		}
		old, _ := h.s.Addr()
		if err := h.s.Configure(cfg); err != nil {
			t.Fatal(err)
		}
		addr, err := h.s.Addr()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		closedAddrs = append(closedAddrs, old.String())
		mu.Unlock()
		checkNew(cfg, addr.String())
		if r < 2 {
			dialLoops(addr.String()) // load on the new generations too
		}
		waitRoundTrips(t, loops)
	}
	reconfigured := time.Since(started)
	waitRoundTrips(t, loops)
	close(stop)
	var trips int64
	for i, e := range loops {
		<-e.done
		if err := e.err.Load(); err != nil {
			t.Errorf("connection %d, in place while the server was reconfigured: %v", i, err)
		}
		trips += e.trips.Load()
	}
	for _, addr := range closedAddrs {
		if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			nc.Close()
			t.Errorf("%s still accepts after its location was removed", addr)
		}
	}
	// The connection made under a still has a's limit.
	probeA.WriteMessage(2, make([]byte, 1500))
	if code, _, err := probeA.ExpectClose(wait); err != nil || code != 1009 {
		t.Errorf("a connection from before: close %d %v, want 1009 (its own limit)", code, err)
	}
	t.Logf("%d reconfigurations in %v while %d connections echoed (%d round trips); every one kept working",
		rounds, reconfigured.Round(time.Millisecond), len(loops), trips)
	closeAll(append(clients, probeA))
	h.ev.waitDisconnections(t, len(clients)+1+rounds, wait)
	h.ev.checkOnce(t, 0)
	h.stop()
	base.Check(t, 0, wait)
}
