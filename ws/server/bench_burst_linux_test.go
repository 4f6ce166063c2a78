package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/fdtable"
	"unievent.dev/internal/wstest"
)

const burstChildEnv = "UNIEVENT_BURST_CHILD"

// BenchmarkAcceptBurst measures what a burst of connections leaves in a
// fresh server process: burstConns clients upgrade at once, 64 at a time,
// and stay open; then the server reports its threads (the Go scheduler
// keeps every thread it started) and its descriptor table. Each op is a
// new process (TestAcceptBurstChild), so the table starts small as in a
// real server. Run sizes the table first (fdtable): without that the
// table doubles under the burst and the process grew to 100 threads and
// more.
func BenchmarkAcceptBurst(b *testing.B) {
	const burstConns = 5000
	var threads, fds float64
	b.ReportAllocs()
	for b.Loop() {
		t, f := acceptBurst(b, burstConns)
		threads += float64(t)
		fds += float64(f)
	}
	b.ReportMetric(threads/float64(b.N), "threads/op")
	b.ReportMetric(fds/float64(b.N), "fdtable-slots/op")
}

func acceptBurst(b *testing.B, n int) (threads, fdSize int) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptBurstChild$")
	cmd.Env = append(os.Environ(), burstChildEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("the server process: %v", err)
		}
	}()
	out := bufio.NewReader(outPipe)
	line := func() string {
		s, err := out.ReadString('\n')
		if err != nil {
			b.Fatalf("the server process: %v", err)
		}
		return strings.TrimSpace(s)
	}
	addr, ok := strings.CutPrefix(line(), "addr ")
	if !ok {
		b.Fatal("the server process did not say its address")
	}
	req, _ := wstest.Request(addr, "/", nil)
	conns := make([]net.Conn, n)
	var next sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		next.Add(1)
		go func() {
			defer next.Done()
			buf := make([]byte, 512)
			for i := w; i < n; i += 64 {
				nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = nc
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := nc.Write(req); err != nil {
					errs <- err
					return
				}
				if k, err := nc.Read(buf); err != nil || k < 12 || string(buf[9:12]) != "101" {
					errs <- fmt.Errorf("handshake: %q %v", buf[:k], err)
					return
				}
			}
		}()
	}
	next.Wait()
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	io.WriteString(in, "report\n")
	f := strings.Fields(line())
	if len(f) != 3 || f[0] != "threads" {
		b.Fatalf("the server process reported %q", f)
	}
	threads, _ = strconv.Atoi(f[1])
	fdSize, _ = strconv.Atoi(f[2])
	return threads, fdSize
}

// TestAcceptBurstChild is BenchmarkAcceptBurst's server process: it
// prints its address, and its threads and descriptor table size for each
// line it reads, until its input ends.
func TestAcceptBurstChild(t *testing.T) {
	if os.Getenv(burstChildEnv) == "" {
		t.Skip("the server process of BenchmarkAcceptBurst")
	}
	srv, err := New(Config{Locations: []Location{{Host: "127.0.0.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(); err != nil {
		t.Fatal(err)
	}
	a, err := srv.Addr()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Loop().Run()
	fmt.Printf("addr %s\n", a)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("threads %d %d\n", procThreads(), fdtable.Size())
	}
	srv.Stop()
}

func procThreads() int {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
