package server

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

const wait = 5 * time.Second

// harness runs a server on its own loop on a loopback port.
type harness struct {
	t    *testing.T
	s    *Server
	addr string
	done chan error
}

// start runs a server with cfg (listening on 127.0.0.1, port 0); setup
// installs callbacks before Run. The cleanup stops it and checks that the
// loop returned and no goroutine was left behind.
func start(t *testing.T, cfg Config, setup func(*Server)) *harness {
	t.Helper()
	before := runtime.NumGoroutine()
	if cfg.Locations == nil {
		cfg.Locations = []Location{{Host: "127.0.0.1"}}
	}
	loop := ws.NewLoop()
	s, err := New(cfg, loop)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	a, err := s.Addr()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, addr: a.String(), done: make(chan error, 1)}
	go func() { h.done <- loop.Run() }()
	t.Cleanup(func() {
		s.Stop()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Errorf("loop did not return after Stop")
		}
		checkGoroutines(t, before)
	})
	return h
}

// checkGoroutines waits for the goroutine count to come back to before.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) dial(hdr http.Header) *wstest.Client {
	h.t.Helper()
	c, err := wstest.Dial(h.addr, "/", hdr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// echo installs an echo of every message.
func echo(s *Server) {
	s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
}

func runtimeNumGoroutine() int { return runtime.NumGoroutine() }

// startBench runs an echo server for a benchmark.
func startBench(b *testing.B) *harness {
	return startBenchConfig(b, Config{})
}

// startBenchConfig runs an echo server with cfg (on 127.0.0.1 when it
// names no location) for a benchmark.
func startBenchConfig(b *testing.B, cfg Config) *harness {
	b.Helper()
	loop := ws.NewLoop()
	if cfg.Locations == nil {
		cfg.Locations = []Location{{Host: "127.0.0.1"}}
	}
	s, err := New(cfg, loop)
	if err != nil {
		b.Fatal(err)
	}
	echo(s)
	if err := s.Run(); err != nil {
		b.Fatal(err)
	}
	a, _ := s.Addr()
	h := &harness{s: s, addr: a.String(), done: make(chan error, 1)}
	go func() { h.done <- loop.Run() }()
	b.Cleanup(func() {
		s.Stop()
		<-h.done
	})
	return h
}
