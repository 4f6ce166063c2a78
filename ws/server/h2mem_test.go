package server

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// TestIdleMemoryPerTransport measures what an idle WebSocket costs the
// server on each transport: N connections over HTTP/2 streams (200 per
// HTTP/2 connection, as a browser puts every socket of an origin on one),
// over HTTP/1.1 with TLS, and over plain HTTP/1.1 (the epoll path), each
// in a server process of its own (this test binary, run as
// TestIdleMemoryServer with GODEBUG=http2xconnect=1). It reports the
// server's RSS, heap and goroutine stacks per connection after a GC. A
// measurement, run on purpose only (Linux):
//
//	UNIEVENT_IDLE_N=2000 go test -run TestIdleMemoryPerTransport -v ./ws/server
func TestIdleMemoryPerTransport(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("UNIEVENT_IDLE_N"))
	if n <= 0 || runtime.GOOS != "linux" {
		t.Skip("a measurement: set UNIEVENT_IDLE_N (Linux)")
	}
	for _, transport := range []string{"h2", "http/1.1+tls", "http/1.1"} {
		s := startMemoryServer(t)
		base := s.measure(t, 0)
		var closers []io.Closer
		var clients []*wstest.Client
		switch transport {
		case "h2":
			var c *rawH2
			for i := range n {
				if i%200 == 0 {
					c = dialRawH2(t, s.tlsAddr, nil)
					closers = append(closers, c.nc)
				}
				clients = append(clients, wstest.Opened(c.accept(websocketFields(s.tlsAddr)...), nil))
			}
		case "http/1.1+tls":
			for range n {
				tc, err := tls.Dial("tcp", s.tlsAddr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
				if err != nil {
					t.Fatal(err)
				}
				c, err := wstest.Handshake(tc, "/", nil)
				if err != nil {
					t.Fatal(err)
				}
				closers = append(closers, tc)
				clients = append(clients, c)
			}
		case "http/1.1":
			for range n {
				c, err := wstest.Dial(s.plainAddr, "/", nil)
				if err != nil {
					t.Fatal(err)
				}
				closers = append(closers, c.Conn)
				clients = append(clients, c)
			}
		}
		d := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) }
		report := func(when string) {
			// Idle: let the connections settle (the poller takes
			// plain sockets after 5 ms of silence).
			time.Sleep(500 * time.Millisecond)
			m := s.measure(t, n)
			t.Logf("%-13s %d WebSockets %-12s RSS %5.1f KiB/conn, heap %5.1f KiB/conn, stacks %4.1f KiB/conn, goroutines %.2f/conn",
				transport, n, when+":", d(m.rss, base.rss)/1024, d(m.heap, base.heap)/1024, d(m.stacks, base.stacks)/1024, d(m.goroutines, base.goroutines))
		}
		report("idle")
		for _, c := range clients {
			echoes(t, c, "one message")
		}
		report("after 1 msg")
		for _, c := range closers {
			c.Close()
		}
		s.stop(t)
	}
}

// memoryServer is a server process of TestIdleMemoryServer.
type memoryServer struct {
	cmd                *exec.Cmd
	stdin              io.Closer
	tlsAddr, plainAddr string
	statsURL           string
	client             *http.Client
}

type memoryFigures struct{ rss, heap, stacks, goroutines uint64 }

func startMemoryServer(t *testing.T) *memoryServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleMemoryServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GODEBUG=http2xconnect=1", "UNIEVENT_IDLE_SERVER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &memoryServer{cmd: cmd, stdin: stdin}
	t.Cleanup(func() { s.stop(t) })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "listening" {
			s.tlsAddr, s.plainAddr = f[1], f[2]
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if s.tlsAddr == "" {
		t.Fatal("the memory server printed no addresses")
	}
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return s
}

// measure waits until the server has want connections, has it collect
// garbage, and reads its figures.
func (s *memoryServer) measure(t *testing.T, want int) memoryFigures {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.client.Get("http://" + s.plainAddr + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var conns int
		var m memoryFigures
		fmt.Sscan(string(body), &conns, &m.heap, &m.stacks, &m.goroutines)
		if conns == want {
			m.rss = rss(t, s.cmd.Process.Pid)
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server has %d connections, want %d", conns, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *memoryServer) stop(t *testing.T) {
	if s.stdin != nil {
		s.stdin.Close()
		s.stdin = nil
		s.cmd.Wait()
	}
}

// rss reads a process's resident set size.
func rss(t *testing.T, pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestIdleMemoryServer is the server process of TestIdleMemoryPerTransport:
// a TLS location (HTTP/2 and HTTP/1.1) and a plain one, echo, and
// GET /stats on the plain one answering the connection count, heap and
// stack bytes and goroutines after a GC. It runs until its stdin closes.
func TestIdleMemoryServer(t *testing.T) {
	if os.Getenv("UNIEVENT_IDLE_SERVER") == "" {
		t.Skip("the server process of TestIdleMemoryPerTransport")
	}
	cert, _ := wstest.Certificate(t)
	var s *Server
	stats := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stats" {
			return // upgraded
		}
		runtime.GC()
		debug.FreeOSMemory()
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/sched/goroutines:goroutines"}}
		metrics.Read(samples)
		fmt.Fprintln(w, count(s.Connections()), samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64())
	})
	cfg := Config{Locations: []Location{
		{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}},
		{Host: "127.0.0.1"},
	}}
	cfg.MaxConnections = -1
	cfg.HTTP.Handler = stats
	h := start(t, cfg, echo)
	s = h.s
	var addrs []string
	for _, l := range s.Listeners() {
		addrs = append(addrs, l.Addr().String())
	}
	fmt.Printf("listening %s %s\n", addrs[0], addrs[1])
	io.Copy(io.Discard, os.Stdin)
}
