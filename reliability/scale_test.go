//go:build linux

package reliability

import (
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

var (
	scaleRun   = flag.Bool("reliability.scale", false, "run TestScale: memory, accept rate and echo latency of up to 19,000 connections, the clients in processes of their own (about 10 s)")
	scaleConns = flag.String("reliability.scale.conns", "1000,5000,10000,19000", "the connection counts TestScale measures, comma-separated")
)

const (
	// scalePerPeer is the most connections one client process holds,
	// well under the open files a process may have (`ulimit -Hn`: 20,000
	// where the figures come from): 19,000 connections take three
	// clients, which dial in parallel.
	scalePerPeer = 7000
	// scaleDialers is how many connections a client process dials at
	// once.
	scaleDialers = 32
	// scaleWorkers is how many connections of a client process do their
	// one round trip at once in the echo pass.
	scaleWorkers = 32
	// The active phase: scaleActive connections each do at most
	// scaleRounds round trips of scalePayload bytes, one at a time, for at
	// most scaleActiveFor.
	scaleActive    = 1000
	scaleRounds    = 200
	scaleActiveFor = 10 * time.Second
	scalePayload   = 1 << 10
	// scaleStep bounds a client command (a dial, an echo pass, the active
	// phase) but for the round trip under way (a dial and a handshake:
	// two), so the test waits scaleAnswer for its answer.
	scaleStep   = 30 * time.Second
	scaleAnswer = scaleStep + 2*scaleRoundTrip
	// scaleRoundTrip bounds one round trip.
	scaleRoundTrip = 10 * time.Second
)

func init() { peerRoles["scale"] = peerScale }

// TestScale measures what connections cost as their number grows, for the
// projection in docs/performance.md: the server (default configuration,
// echo) runs in this process; the clients run in processes of their own,
// at most scalePerPeer connections each, so that what this process
// measures is the server alone (its RSS, its CPU time). It holds
// connections at each count of -reliability.scale.conns in turn, adding to
// those it holds: the idle RSS per connection (from the RSS before the
// first), the same once every connection sent one message and got its
// echo, the accept rate while the clients dial as fast as they can, and
// the kernel's memory from /proc (both ends of a loopback connection are
// on this machine). At the largest count scaleActive of the connections
// send messages one at a time among the idle rest: the echo latency and
// the server's CPU time per message.
//
//	go test ./reliability -run TestScale -v -reliability.scale
func TestScale(t *testing.T) {
	if !*scaleRun {
		t.Skip("measures up to 19,000 connections; run with -reliability.scale")
	}
	counts, err := parseCounts(*scaleConns)
	if err != nil {
		t.Fatalf("-reliability.scale.conns: %v", err)
	}
	most := counts[len(counts)-1]
	files, err := raiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	// The server's process holds a socket per connection plus its
	// listener, pollers, the pipes to the clients and the like.
	if need := uint64(most) + 64; files < need {
		t.Fatalf("%d connections need %d open files in this process; it may have %d (ulimit -Hn)", most, need, files)
	}
	if ports, err := ephemeralPorts(); err == nil && ports < min(most, scalePerPeer) {
		t.Fatalf("a client's %d connections from its address to one port need as many local ports; net.ipv4.ip_local_port_range has %d", min(most, scalePerPeer), ports)
	}
	began := time.Now()

	up := &upgrades{}
	r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
		if err == nil {
			echo(s)
			s.ConnectionEvent().Add(func(*server.Server, *server.Conn, *handshake.Request) { up.note() })
		}
		return s, err
	})
	peers := make([]*scalePeer, (most+scalePerPeer-1)/scalePerPeer)
	for i := range peers {
		peers[i] = startScalePeer(t, r.Addr, scaleSource(i))
	}
	mem0, rss0 := goMemory(), settledRSS()
	k0, err := readKernel()
	if err != nil {
		t.Fatal(err)
	}
	slab0, _ := readSlabs()
	epoll0 := epollWatches()

	var rows []scaleRow
	have := 0
	for _, n := range counts {
		row := scaleRow{n: n}
		tcp0 := readTCPExt()
		up.arm(have, n)
		for i, p := range peers {
			p.tell(fmt.Sprintf("dial %d", share(n, len(peers), i)-share(have, len(peers), i)))
		}
		for _, p := range peers {
			if f := p.await("dialed", scaleAnswer); f[1] != "0" {
				t.Errorf("%s of the connections a client dialed failed (%s upgraded): %s", f[1], f[0], strings.TrimSpace(strings.Join(f[2:], " ")))
			}
		}
		first, last, got := up.wait(scaleStep)
		if got != n {
			t.Fatalf("%d connections upgraded, want %d", got, n)
		}
		if n-have > 1 {
			row.acceptRate = float64(n-have-1) / last.Sub(first).Seconds()
		}
		tcp1 := readTCPExt()
		row.listenDrops, row.synRetrans = tcp1["ListenDrops"]-tcp0["ListenDrops"], tcp1["TCPSynRetrans"]-tcp0["TCPSynRetrans"]
		have = n
		mem, rss := goMemory(), settledRSS()
		row.goIdle, row.rssIdle = (mem-mem0)/int64(n), (rss-rss0)/int64(n)
		row.rssTotal = rss - rss0
		k, err := readKernel()
		if err != nil {
			t.Fatal(err)
		}
		row.idle = k.sub(k0)
		if n == most {
			slab, _ := readSlabs()
			row.slabs = slab.growth(slab0, n)
			row.epoll = epollWatches() - epoll0
		}

		idleGoroutines := runtime.NumGoroutine()
		for _, p := range peers {
			p.tell("echo")
		}
		for _, p := range peers {
			if f := p.await("echoed", scaleAnswer); f[1] != "0" {
				t.Errorf("%s echoes missing or wrong (%s right): %s", f[1], f[0], strings.TrimSpace(strings.Join(f[2:], " ")))
			}
		}
		// A connection that was just busy keeps a goroutine until it has
		// been silent a few milliseconds: measure once they are gone.
		if !wstest.Poll(wait, func() bool { return runtime.NumGoroutine() <= idleGoroutines }) {
			t.Logf("%d goroutines %v after the echoes, %d before", runtime.NumGoroutine(), wait, idleGoroutines)
		}
		mem, rss = goMemory(), settledRSS()
		row.goEchoed, row.rssEchoed = (mem-mem0)/int64(n), (rss-rss0)/int64(n)
		if k, err = readKernel(); err != nil {
			t.Fatal(err)
		}
		row.echoed = k.sub(k0)
		rows = append(rows, row)
	}

	// scaleActive connections (or all there are) busy among the idle rest.
	active := min(scaleActive, most)
	cpu0, gc0 := cpuTime(), gcStats()
	for i, p := range peers {
		p.tell(fmt.Sprintf("active %d %d %s", share(active, len(peers), i), scaleRounds, scaleActiveFor))
	}
	lat := latencies{}
	var messages int64
	for _, p := range peers {
		f := p.await("active", scaleAnswer)
		m, _ := strconv.ParseInt(f[0], 10, 64)
		messages += m
		if f[1] != "0" {
			t.Errorf("%s active connections failed a round trip: %s", f[1], strings.TrimSpace(strings.Join(f[3:], " ")))
		}
		if err := lat.parse(f[2]); err != nil {
			t.Fatal(err)
		}
	}
	cpu, gc := cpuTime()-cpu0, gcStats().sub(gc0)
	if messages == 0 {
		t.Fatal("no round trip in the active phase")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "server: RSS %s before the first connection; client processes: %d; %s in all\n", mib(rss0), len(peers), time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "%7s %9s %9s %9s %9s %9s %9s %11s | %9s %9s %9s %10s %10s\n",
		"conns", "RSS/conn", "RSS/conn", "Go/conn", "RSS/conn", "Go/conn", "accept", "listen drop", "TCP inuse", "sock mem", "sock mem", "slab/conn", "unrecl.")
	fmt.Fprintf(&b, "%7s %9s %9s %9s %9s %9s %9s %11s | %9s %9s %9s %10s %10s\n",
		"", "idle", "the step", "idle", "echoed", "echoed", "conn/s", "SYN retr.", "idle", "idle", "echoed", "idle", "idle")
	page := int64(os.Getpagesize())
	for i, r := range rows {
		step := r.rssTotal / int64(r.n)
		if i > 0 {
			step = (r.rssTotal - rows[i-1].rssTotal) / int64(r.n-rows[i-1].n)
		}
		fmt.Fprintf(&b, "%7d %9s %9s %9s %9s %9s %9.0f %11s | %+9d %+9d %+9d %10s %10s\n",
			r.n, kib(r.rssIdle), kib(step), kib(r.goIdle), kib(r.rssEchoed), kib(r.goEchoed), r.acceptRate,
			fmt.Sprintf("%d/%d", r.listenDrops, r.synRetrans),
			r.idle.tcpInuse, r.idle.tcpMem/page, r.echoed.tcpMem/page,
			kib(r.idle.slab/int64(r.n)), kib(r.idle.unreclaimable/int64(r.n)))
	}
	b.WriteString("(per connection: over the RSS and Go memory before the first; the step: the idle RSS growth from the count before, per connection added; accept: the step's new connections, first to last upgrade, with the machine's listen drops and SYN retransmits meanwhile (/proc/net/netstat); kernel: growth over the baseline, both ends of every loopback connection: sockets in use and their buffers in pages (/proc/net/sockstat, TCP), Slab and SUnreclaim of /proc/meminfo per connection)\n")
	if top := rows[len(rows)-1].slabs; len(top) > 0 {
		fmt.Fprintf(&b, "slab caches grown the most at %d connections, bytes per connection (both ends):", most)
		for _, s := range top {
			fmt.Fprintf(&b, " %s %d", s.name, s.perConn)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "epoll registrations of the server's process: %.2f per connection (of the eventpoll_epi objects above, which count both ends)\n", float64(rows[len(rows)-1].epoll)/float64(most))
	fmt.Fprintf(&b, "%d active among %d: %d round trips of %d B, echo latency p50 %s p99 %s; server CPU %s per message (%s in all, of it %s in %d GC cycles)",
		active, most, messages, scalePayload, lat.quantile(0.50), lat.quantile(0.99),
		(cpu / time.Duration(messages)).Round(10*time.Nanosecond), cpu.Round(time.Millisecond), gc.cpu.Round(time.Millisecond), gc.cycles)
	t.Log("\n" + b.String())

	// Per-connection memory must not grow with the count (the first count
	// carries the process's fixed costs, so it is the highest if any).
	if len(rows) > 1 {
		lo, hi := rows[0], rows[len(rows)-1]
		if hi.rssIdle > 2*lo.rssIdle {
			t.Errorf("idle RSS per connection %s at %d connections, more than twice the %s at %d", kib(hi.rssIdle), hi.n, kib(lo.rssIdle), lo.n)
		}
		if hi.rssEchoed > 2*lo.rssEchoed {
			t.Errorf("RSS per connection after a message %s at %d connections, more than twice the %s at %d", kib(hi.rssEchoed), hi.n, kib(lo.rssEchoed), lo.n)
		}
	}
}

// scaleRow is what TestScale measured at one count.
type scaleRow struct {
	n                   int
	rssIdle, goIdle     int64 // per connection, idle
	rssTotal            int64 // the idle RSS growth of all n
	rssEchoed, goEchoed int64 // per connection, once each sent a message
	acceptRate          float64
	idle, echoed        kernelMem // growth over the baseline
	slabs               []slabGrowth
	epoll               int // growth of the server's epoll registrations
	listenDrops         int64
	synRetrans          int64
}

// parseCounts parses a comma-separated list of positive counts and
// returns it sorted.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		counts = append(counts, n)
	}
	slices.Sort(counts)
	return slices.Compact(counts), nil
}

// share is client i's part of n connections spread over clients.
func share(n, clients, i int) int {
	k := n / clients
	if i < n%clients {
		k++
	}
	return k
}

// upgrades counts the server's connection events and times those of one
// step: from the first after `from` to the one that makes `to`.
type upgrades struct {
	mu          sync.Mutex
	n, from, to int
	first, last time.Time
	reached     chan struct{}
}

func (u *upgrades) arm(from, to int) {
	u.mu.Lock()
	u.from, u.to, u.reached = from, to, make(chan struct{})
	u.mu.Unlock()
}

func (u *upgrades) note() {
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.n++
	if u.n == u.from+1 {
		u.first = now
	}
	if u.n == u.to {
		u.last = now
		close(u.reached)
	}
}

// wait waits (at most timeout) until the step's last upgrade and returns
// the times of its first and last one and how many there were in all.
func (u *upgrades) wait(timeout time.Duration) (first, last time.Time, n int) {
	u.mu.Lock()
	reached := u.reached
	u.mu.Unlock()
	select {
	case <-reached:
	case <-time.After(timeout):
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.first, u.last, u.n
}

// latencies is a histogram of round-trip times in buckets 1% wide,
// keyed by the bucket's index.
type latencies map[int]int64

func latencyBucket(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us < 1 {
		return 0
	}
	return int(math.Log(us) / math.Log(1.01))
}

// String encodes the histogram as index:count pairs separated by commas
// ("-" when empty), for one line of a client's answer.
func (l latencies) String() string {
	if len(l) == 0 {
		return "-"
	}
	var b strings.Builder
	for _, i := range slices.Sorted(maps.Keys(l)) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", i, l[i])
	}
	return b.String()
}

// parse adds the histogram encoded in s.
func (l latencies) parse(s string) error {
	if s == "-" {
		return nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		i, c, ok := strings.Cut(pair, ":")
		bucket, err1 := strconv.Atoi(i)
		count, err2 := strconv.ParseInt(c, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("latency histogram: bad pair %q", pair)
		}
		l[bucket] += count
	}
	return nil
}

// quantile returns the latency below which the fraction q of the round
// trips fell, to the histogram's 1%.
func (l latencies) quantile(q float64) time.Duration {
	var total int64
	for _, c := range l {
		total += c
	}
	want := int64(math.Ceil(q * float64(total)))
	var seen int64
	for _, i := range slices.Sorted(maps.Keys(l)) {
		if seen += l[i]; seen >= want {
			us := math.Pow(1.01, float64(i)+0.5)
			return time.Duration(us * float64(time.Microsecond)).Round(time.Microsecond)
		}
	}
	return 0
}

// The helpers of TestScale, which the default run skips.
func TestScaleHelpers(t *testing.T) {
	counts, err := parseCounts("19000, 1000,5000,1000")
	if err != nil || !slices.Equal(counts, []int{1000, 5000, 19000}) {
		t.Errorf("parseCounts: %v, %v; want [1000 5000 19000]", counts, err)
	}
	for _, bad := range []string{"", "1000,", "0", "-5", "1k"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q) = nil error", bad)
		}
	}
	for _, n := range []int{0, 1, 2, 1000, 19000} {
		sum := 0
		for i := range 3 {
			sum += share(n, 3, i)
		}
		if sum != n || share(n, 3, 0)-share(n, 3, 2) > 1 {
			t.Errorf("share(%d, 3, i) = %d, %d, %d", n, share(n, 3, 0), share(n, 3, 1), share(n, 3, 2))
		}
	}
	// 1..100 ms, one each: p50 50 ms, p99 99 ms, within the 1 % buckets,
	// also after a trip through a client's line.
	l := latencies{}
	for ms := 1; ms <= 100; ms++ {
		l[latencyBucket(time.Duration(ms)*time.Millisecond)]++
	}
	got := latencies{}
	if err := got.parse(l.String()); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[float64]time.Duration{0.50: 50 * time.Millisecond, 0.99: 99 * time.Millisecond} {
		if d := got.quantile(q); d < want*99/100 || d > want*102/100 {
			t.Errorf("quantile(%v) = %v, want %v within the bucket", q, d, want)
		}
	}
	if err := got.parse("7"); err == nil {
		t.Error("parse of a pair without a count succeeded")
	}
}
