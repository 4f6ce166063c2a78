//go:build unix

package server

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// BenchmarkEchoConns is the bench's e1 and e3 rows in one process: many
// connections, one 1 KiB (or 16-byte) binary message in flight on each,
// every client on a goroutine of its own. The connections start after
// they have been silent long enough for the loop's pollers to take them,
// so with 500 of them the round trips run through the pollers as in the
// bench. Besides the time and allocations per message it reports the
// process's context switches per message (voluntary: a thread went to
// sleep, so something had to wake it) and its CPU time per message; the
// client is in the same process, so both count its share too. Compare
// builds on the switches, which depend less on other load than time.
func BenchmarkEchoConns(b *testing.B) {
	for _, bc := range []struct {
		name  string
		conns int
		size  int
	}{
		{"10x16B", 10, 16},
		{"500x1KiB", 500, 1024},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := startBenchConfig(b, Config{})
			conns := make([]net.Conn, bc.conns)
			readers := make([]io.Reader, bc.conns)
			for i := range conns {
				nc, err := net.Dial("tcp", h.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				c, err := wstest.Handshake(nc, "/", nil)
				if err != nil {
					b.Fatal(err)
				}
				conns[i], readers[i] = nc, c.Reader()
			}
			req := wstest.AppendFrame(nil, true, 0, 2, make([]byte, bc.size))
			hdr := 2
			if bc.size > 125 {
				hdr = 4
			}
			// Silent for longer than a connection's goroutine waits
			// before it hands the socket to its poller.
			time.Sleep(50 * time.Millisecond)
			var tickets atomic.Int64
			tickets.Store(int64(b.N))
			var failed atomic.Value
			var wg sync.WaitGroup
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			before := usage()
			b.ResetTimer()
			for i := range conns {
				wg.Add(1)
				go func(nc net.Conn, r io.Reader) {
					defer wg.Done()
					reply := make([]byte, hdr+bc.size)
					for tickets.Add(-1) >= 0 {
						if _, err := nc.Write(req); err != nil {
							failed.Store(err)
							return
						}
						if _, err := io.ReadFull(r, reply); err != nil {
							failed.Store(err)
							return
						}
					}
				}(conns[i], readers[i])
			}
			wg.Wait()
			b.StopTimer()
			after := usage()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			n := float64(b.N)
			b.ReportMetric(float64(after.Nvcsw-before.Nvcsw)/n, "vcsw/op")
			b.ReportMetric(float64(after.Nivcsw-before.Nivcsw)/n, "ivcsw/op")
			cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
			b.ReportMetric(float64(cpu.Nanoseconds()), "cpu-ns/op")
		})
	}
}

// usage returns the process's resource usage so far.
func usage() syscall.Rusage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}
