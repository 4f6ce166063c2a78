//go:build linux

// What TestScale reads from the kernel and the runtime: /proc, getrusage,
// the open file limit, the collector's totals.

package reliability

import (
	"errors"
	"fmt"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readTCPExt returns the TcpExt counters of /proc/net/netstat (none where
// it cannot be read).
func readTCPExt() map[string]int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return nil
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "TcpExt:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		m := map[string]int64{}
		for i, name := range names {
			if i < len(f) {
				m[name], _ = strconv.ParseInt(f[i], 10, 64)
			}
		}
		return m
	}
	return nil
}

// gcTotals are the garbage collector's cycles and CPU time so far (the
// runtime's estimate, runtime/metrics).
type gcTotals struct {
	cycles uint64
	cpu    time.Duration
}

func gcStats() gcTotals {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return gcTotals{s[0].Value.Uint64(), time.Duration(s[1].Value.Float64() * float64(time.Second))}
}

func (g gcTotals) sub(o gcTotals) gcTotals { return gcTotals{g.cycles - o.cycles, g.cpu - o.cpu} }

// raiseFileLimit raises the soft limit of open files to the hard one and
// returns it.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return l.Cur, nil
}

// ephemeralPorts returns how many local ports connect may pick from.
func ephemeralPorts() (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, errors.New("ip_local_port_range: unexpected format")
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, errors.New("ip_local_port_range: unexpected format")
	}
	return hi - lo + 1, nil
}

// cpuTime returns the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// kernelMem is the kernel's memory for TCP: sockets in use and their
// buffer memory (the TCP line of /proc/net/sockstat, mem in bytes), and
// the slab allocator's (Slab and SUnreclaim of /proc/meminfo, bytes).
type kernelMem struct {
	tcpInuse, tcpMem    int64
	slab, unreclaimable int64
}

func (k kernelMem) sub(o kernelMem) kernelMem {
	return kernelMem{k.tcpInuse - o.tcpInuse, k.tcpMem - o.tcpMem, k.slab - o.slab, k.unreclaimable - o.unreclaimable}
}

func readKernel() (kernelMem, error) {
	var k kernelMem
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return k, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseInt(f[i+1], 10, 64)
			switch f[i] {
			case "inuse":
				k.tcpInuse = v
			case "mem":
				k.tcpMem = v * int64(os.Getpagesize())
			}
		}
	}
	if b, err = os.ReadFile("/proc/meminfo"); err != nil {
		return k, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Slab:":
			k.slab = v << 10
		case "SUnreclaim:":
			k.unreclaimable = v << 10
		}
	}
	return k, nil
}

// epollWatches returns how many file descriptors the epoll instances of
// this process watch (the tfd lines of their /proc/self/fdinfo).
func epollWatches() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err != nil || target != "anon_inode:[eventpoll]" {
			continue
		}
		b, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if strings.HasPrefix(line, "tfd:") {
				n++
			}
		}
	}
	return n
}

// slabs is the memory of each slab cache (active objects times object
// size) from /proc/slabinfo, which only root may read.
type slabs map[string]int64

type slabGrowth struct {
	name    string
	perConn int64
}

func readSlabs() (slabs, error) {
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return nil, err
	}
	s := slabs{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 4 || strings.HasPrefix(f[0], "#") || f[0] == "slabinfo" {
			continue
		}
		active, err1 := strconv.ParseInt(f[1], 10, 64)
		size, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 == nil && err2 == nil {
			s[f[0]] += active * size
		}
	}
	return s, nil
}

// growth returns the caches that grew by at least 32 bytes per connection
// since before, the largest first.
func (s slabs) growth(before slabs, conns int) []slabGrowth {
	if s == nil || before == nil {
		return nil
	}
	var g []slabGrowth
	for name, v := range s {
		if d := (v - before[name]) / int64(conns); d >= 32 {
			g = append(g, slabGrowth{name, d})
		}
	}
	slices.SortFunc(g, func(a, b slabGrowth) int { return int(b.perConn - a.perConn) })
	return g
}
