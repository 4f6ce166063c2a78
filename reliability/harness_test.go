package reliability

import (
	"errors"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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

const wait = 10 * time.Second

// harness is a server on its own loop (servertest), listening on
// 127.0.0.1 unless the config names locations, with a tracker of its
// events.
type harness struct {
	*servertest.Running[*server.Server]
	t    testing.TB
	s    *server.Server
	addr string
	ev   *tracker
}

// start runs a server with cfg; setup installs callbacks before Run (the
// tracker is added after them). The cleanup stops the server and checks
// that the loop returned; the tests check goroutines and descriptors
// themselves, against a baseline of their own.
func start(t testing.TB, cfg server.Config, setup func(*server.Server)) *harness {
	t.Helper()
	if cfg.Locations == nil {
		cfg.Locations = []server.Location{{Host: "127.0.0.1"}}
	}
	ev := newTracker()
	r := servertest.Start(t, servertest.Options{NoLeakCheck: true}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(cfg, loop)
		if err == nil {
			if setup != nil {
				setup(s)
			}
			ev.install(s)
		}
		return s, err
	})
	return &harness{Running: r, t: t, s: r.Server, addr: r.Addr, ev: ev}
}

// stop stops the server (once) and waits for its loop to return.
func (h *harness) stop() {
	h.t.Helper()
	h.Stop()
}

// dial opens a WebSocket connection to path; the test's cleanup closes it.
func (h *harness) dial(path string, hdr http.Header) *wstest.Client { return h.Dial(path, hdr) }

// bytesRead returns how many bytes the server has read from the sockets
// of its registered connections.
func (h *harness) bytesRead() uint64 {
	var n uint64
	for c := range h.s.Connections() {
		n += c.Stats().BytesIn
	}
	return n
}

// echo installs an echo of every message.
func echo(s *server.Server) {
	s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
}

// tracker records a server's connection, close and disconnection events.
// A connection whose events are complete (one close event, then one
// disconnection event after it left the registry) is only counted, so
// that a soak of many connections does not grow the tracker.
type tracker struct {
	mu        sync.Mutex
	open      map[uint64]*connEvents // connections not yet complete
	finished  map[ws.CloseCode]int   // complete connections by close code
	anomalies []string
	nconn     int
	ndisc     int
	changed   chan struct{} // pulsed on every event
}

type connEvents struct {
	closes     []ws.CloseCode
	discs      int
	registered bool // still in the registry at its disconnection event
}

func newTracker() *tracker {
	return &tracker{
		open:     map[uint64]*connEvents{},
		finished: map[ws.CloseCode]int{},
		changed:  make(chan struct{}, 1),
	}
}

func (tr *tracker) install(s *server.Server) {
	s.ConnectionEvent().Add(func(s *server.Server, c *server.Conn, _ *handshake.Request) {
		id := c.ID()
		tr.note(func() {
			tr.open[id] = &connEvents{}
			tr.nconn++
		})
		c.CloseEvent().Add(func(_ *ws.Conn, code ws.CloseCode, _ string) {
			tr.note(func() {
				if ev := tr.open[id]; ev != nil {
					ev.closes = append(ev.closes, code)
				} else {
					tr.anomalies = append(tr.anomalies, "a close event for the finished connection "+strconv.FormatUint(id, 10))
				}
			})
		})
	})
	s.DisconnectionEvent().Add(func(s *server.Server, c *server.Conn) {
		id := c.ID()
		registered := s.Connection(id) != nil
		tr.note(func() {
			tr.ndisc++
			ev := tr.open[id]
			if ev == nil {
				tr.anomalies = append(tr.anomalies, "a disconnection event for the finished connection "+strconv.FormatUint(id, 10))
				return
			}
			ev.discs++
			ev.registered = ev.registered || registered
			if len(ev.closes) == 1 && ev.discs == 1 && !ev.registered {
				tr.finished[ev.closes[0]]++
				delete(tr.open, id)
			}
		})
	})
}

func (tr *tracker) note(f func()) {
	tr.mu.Lock()
	f()
	tr.mu.Unlock()
	select {
	case tr.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond (called with the tracker locked) holds.
func (tr *tracker) waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		tr.mu.Lock()
		ok := cond()
		tr.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-tr.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// waitDisconnections waits until n disconnection events have fired.
func (tr *tracker) waitDisconnections(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	tr.waitFor(t, strconv.Itoa(n)+" disconnections", timeout, func() bool { return tr.ndisc >= n })
}

// await reports whether n disconnection events fire within timeout.
func (tr *tracker) await(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		if tr.ndiscs() >= n {
			return true
		}
		select {
		case <-tr.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return false
		}
	}
}

// connections returns the number of connection events so far.
func (tr *tracker) connections() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.nconn
}

// ndiscs returns the number of disconnection events so far.
func (tr *tracker) ndiscs() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ndisc
}

// checkOnce verifies that every connection that was established, but for
// stillOpen of them, had exactly one close event and then exactly one
// disconnection event, fired after it left the registry; it returns how
// many ended with each close code.
func (tr *tracker) checkOnce(t testing.TB, stillOpen int) map[ws.CloseCode]int {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, a := range tr.anomalies {
		if i == 5 {
			t.Errorf("and %d more", len(tr.anomalies)-5)
			break
		}
		t.Error(a)
	}
	bad, open := 0, 0
	for id, ev := range tr.open {
		if len(ev.closes) == 0 && ev.discs == 0 {
			open++
			continue
		}
		if bad < 5 {
			t.Errorf("connection %d: close events %v, disconnection events %d (still registered: %v); want one each", id, ev.closes, ev.discs, ev.registered)
		}
		bad++
	}
	if bad > 0 {
		t.Errorf("%d connections did not see exactly one close and one disconnection", bad)
	}
	if open != stillOpen {
		t.Errorf("%d connections without any close or disconnection event, want %d", open, stillOpen)
	}
	return maps.Clone(tr.finished)
}

// rssBytes returns the process's resident set size from /proc/self/status
// (VmRSS), or -1 where that does not exist.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n << 10
				}
			}
		}
	}
	return -1
}

// settledRSS collects garbage, returns freed memory to the system and
// reads the RSS.
func settledRSS() int64 {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes()
}

// goMemory is the Go memory in use after a collection: live heap objects
// plus goroutine stacks. Two collections: what sync.Pools hold survives
// the first.
func goMemory() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// peakSampler samples the live heap (objects, including garbage not yet
// collected) and goroutine stacks every millisecond until stopped.
type peakSampler struct {
	stop chan struct{}
	done chan int64
}

func samplePeak() *peakSampler {
	p := &peakSampler{stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		samples := []metrics.Sample{
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/stacks:bytes"},
		}
		var peak int64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			if v := int64(samples[0].Value.Uint64() + samples[1].Value.Uint64()); v > peak {
				peak = v
			}
			select {
			case <-p.stop:
				p.done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// Peak stops sampling and returns the highest value seen.
func (p *peakSampler) Peak() int64 {
	close(p.stop)
	return <-p.done
}

// mib formats a byte count.
func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

// kib formats a byte count.
func kib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
}

// dialTCP opens a plain TCP connection to addr.
func dialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// readByPeer reports whether every byte written on nc, a TCP connection
// to a server in this process, has been read by the server: nc has no
// byte left unacknowledged and the server's socket none left unread (the
// tx_queue and rx_queue columns of /proc/net/tcp, on loopback). Where
// /proc/net/tcp does not exist it reports true: the tests that wait on
// it then order their events by chance.
func readByPeer(nc net.Conn) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	_, local, _ := strings.Cut(nc.LocalAddr().String(), ":")
	_, remote, _ := strings.Cut(nc.RemoteAddr().String(), ":")
	lport, _ := strconv.Atoi(local)
	rport, _ := strconv.Atoi(remote)
	port := func(addr string) int {
		_, hex, _ := strings.Cut(addr, ":")
		n, _ := strconv.ParseUint(hex, 16, 16)
		return int(n)
	}
	queue := func(q string, rx bool) uint64 {
		tx, rxq, _ := strings.Cut(q, ":")
		if rx {
			tx = rxq
		}
		n, _ := strconv.ParseUint(tx, 16, 64)
		return n
	}
	sent, received := false, false
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "sl" {
			continue
		}
		from, to := port(f[1]), port(f[2])
		switch {
		case from == lport && to == rport: // nc
			sent = queue(f[4], false) == 0
		case from == rport && to == lport: // the server's socket
			received = queue(f[4], true) == 0
		}
	}
	return sent && received
}

var errClosedByServer = errors.New("the server sent a close frame")

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
