package server

import (
	"net"
	"net/http"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

const wait = 5 * time.Second

// harness is a server of this package on its own loop (servertest), with
// the short names the tests use.
type harness struct {
	*servertest.Running[*Server]
	s    *Server
	addr string
}

// start runs a server with cfg (listening on 127.0.0.1, port 0, when it
// names no location); setup installs callbacks before Run. The cleanup
// stops it and checks that the loop returned and nothing was left behind.
func start(tb testing.TB, cfg Config, setup func(*Server)) *harness {
	tb.Helper()
	if cfg.Locations == nil {
		cfg.Locations = []Location{{Host: "127.0.0.1"}}
	}
	return startWith(tb, servertest.Options{}, cfg, setup)
}

// startMounted runs a server with cfg as it is: without locations it
// listens nowhere, for mounting on another http.Server.
func startMounted(tb testing.TB, cfg Config, setup func(*Server)) *harness {
	tb.Helper()
	return startWith(tb, servertest.Options{}, cfg, setup)
}

func startWith(tb testing.TB, opts servertest.Options, cfg Config, setup func(*Server)) *harness {
	tb.Helper()
	r := servertest.Start(tb, opts, func(loop *ws.Loop) (*Server, error) {
		s, err := New(cfg, loop)
		if err == nil && setup != nil {
			setup(s)
		}
		return s, err
	})
	return &harness{Running: r, s: r.Server, addr: r.Addr}
}

// dial opens a connection to "/" with the extra header hdr, closed by the
// test's cleanup.
func (h *harness) dial(hdr http.Header) *wstest.Client { return h.Dial("/", hdr) }

// dialAt opens a connection to path at addr (a listener other than the
// first, or one that opened later) with the extra header hdr, closed by
// the test's cleanup.
func dialAt(t testing.TB, addr, path string, hdr http.Header) *wstest.Client {
	t.Helper()
	c, err := wstest.Dial(addr, path, hdr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo installs an echo of every message.
func echo(s *Server) {
	s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
}

// startBench runs an echo server for a benchmark.
func startBench(b *testing.B) *harness { return startBenchConfig(b, Config{}) }

// startBenchConfig runs an echo server with cfg (on 127.0.0.1 when it
// names no location) for a benchmark.
func startBenchConfig(b *testing.B, cfg Config) *harness {
	b.Helper()
	return startBenchWith(b, cfg, echo)
}

// startBenchWith runs a server with cfg (on 127.0.0.1 when it names no
// location) and the callbacks setup installs, for a benchmark.
func startBenchWith(b *testing.B, cfg Config, setup func(*Server)) *harness {
	b.Helper()
	if cfg.Locations == nil {
		cfg.Locations = []Location{{Host: "127.0.0.1"}}
	}
	return startWith(b, servertest.Options{NoLeakCheck: true}, cfg, setup)
}

// dialRaw connects, writes raw (a handshake and whatever follows it) and
// returns a client positioned after the 101 response.
func dialRaw(t *testing.T, addr string, raw []byte) *wstest.Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := nc.Write(raw); err != nil {
		t.Fatal(err)
	}
	c, err := wstest.ReadHandshake(nc, time.Now().Add(wait))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

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
