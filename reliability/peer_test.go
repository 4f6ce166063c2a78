package reliability

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// Some tests measure the server's memory and file descriptors while
// thousands of hostile clients hold connections to it. Those clients run
// in a second process (this test binary again, in a peer role), so that
// what the test process measures is the server alone.
const peerEnv = "RELIABILITY_PEER"

func TestMain(m *testing.M) {
	if role := os.Getenv(peerEnv); role != "" {
		os.Exit(runPeer(role))
	}
	os.Exit(m.Run())
}

// peer is a client process.
type peer struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr bytes.Buffer
	done   chan struct{}
}

// startPeer runs a client process in role with the given parameters.
func startPeer(t testing.TB, role string, params map[string]string) *peer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peerEnv+"="+role)
	for k, v := range params {
		cmd.Env = append(cmd.Env, "RELIABILITY_"+k+"="+v)
	}
	p := &peer{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.lines = bufio.NewScanner(out)
	t.Cleanup(p.stop)
	return p
}

// expect reads the peer's output until a line starting with word and
// returns the rest of that line.
func (p *peer) expect(word string) string {
	p.t.Helper()
	for p.lines.Scan() {
		if rest, ok := strings.CutPrefix(p.lines.Text(), word); ok {
			return strings.TrimSpace(rest)
		}
	}
	p.stop()
	p.t.Fatalf("peer ended before %q: %v\n%s", word, p.lines.Err(), p.stderr.String())
	return ""
}

// stop tells the peer to exit (it closes its connections) and waits for it.
func (p *peer) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.stdin.Close()
	ch := make(chan error, 1)
	go func() { ch <- p.cmd.Wait() }()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-ch
		p.t.Errorf("peer did not exit; killed\n%s", p.stderr.String())
	}
}

func peerParam(name string) string { return os.Getenv("RELIABILITY_" + name) }

func peerInt(name string) int {
	n, err := strconv.Atoi(peerParam(name))
	if err != nil {
		panic("peer parameter " + name + ": " + err.Error())
	}
	return n
}

func peerDuration(name string) time.Duration {
	d, err := time.ParseDuration(peerParam(name))
	if err != nil {
		panic("peer parameter " + name + ": " + err.Error())
	}
	return d
}

// peerRoles are the clients a peer process can run, by role; a test file
// built for some platforms only adds its roles in an init function
// (scale_test.go, Linux).
var peerRoles = map[string]func() error{
	"slowloris":   peerSlowloris,
	"slowreaders": peerSlowReaders,
}

// runPeer runs a client role and returns the exit status.
func runPeer(role string) int {
	err := fmt.Errorf("unknown peer role %q", role)
	if run := peerRoles[role]; run != nil {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		return 1
	}
	return 0
}

// waitStdin returns when the test closes the peer's standard input.
func waitStdin() { io.Copy(io.Discard, os.Stdin) }

// peerSlowloris opens N sockets to ADDR and sends each an upgrade request
// one byte every INTERVAL, until the server closes it or LIMIT passes. It
// prints "ready" once every socket is open, then "result" with the number
// of sockets the server closed, the earliest and latest time from opening
// to closing, and the most request bytes any socket got to send.
func peerSlowloris() error {
	addr, n := peerParam("ADDR"), peerInt("N")
	interval, limit := peerDuration("INTERVAL"), peerDuration("LIMIT")
	req, _ := wstest.Request(addr, "/", nil)
	conns := make([]net.Conn, n)
	opened := make([]time.Time, n)
	for i := range conns {
		nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return fmt.Errorf("socket %d: %w", i, err)
		}
		conns[i], opened[i] = nc, time.Now()
	}
	fmt.Println("ready")
	var mu sync.Mutex
	closed, maxSent := 0, 0
	var first, last time.Duration
	var wg sync.WaitGroup
	for i, nc := range conns {
		wg.Add(2)
		gone := make(chan struct{})
		go func() { // the reader notices the server's close
			defer wg.Done()
			defer close(gone)
			nc.SetReadDeadline(opened[i].Add(limit))
			_, err := io.Copy(io.Discard, nc)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return
			}
			d := time.Since(opened[i])
			mu.Lock()
			if closed == 0 || d < first {
				first = d
			}
			last = max(last, d)
			closed++
			mu.Unlock()
		}()
		go func() { // the writer trickles the request
			defer wg.Done()
			sent := trickle(nc, req, interval, gone)
			mu.Lock()
			maxSent = max(maxSent, sent)
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("result %d %d %d %d\n", closed, first.Milliseconds(), last.Milliseconds(), maxSent)
	waitStdin()
	for _, nc := range conns {
		nc.Close()
	}
	return nil
}

// trickle writes p to nc one byte every interval until it is all sent, a
// write fails or gone is closed, and returns how many bytes it wrote.
func trickle(nc net.Conn, p []byte, interval time.Duration, gone chan struct{}) int {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for sent := range p {
		select {
		case <-gone:
			return sent
		case <-tick.C:
		}
		if _, err := nc.Write(p[sent : sent+1]); err != nil {
			return sent
		}
	}
	return len(p)
}

// peerSlowReaders opens N WebSocket connections to ADDR on PATH with a
// small receive buffer and never reads from them; with FIELDS, each
// upgrade request carries that many extra header fields of FIELDSIZE
// bytes; with TLS set, they are wss connections (the server's certificate
// is not checked). It prints
// "ready" once they are all upgraded and holds them until its standard
// input closes.
func peerSlowReaders() error {
	addr, path, n := peerParam("ADDR"), peerParam("PATH"), peerInt("N")
	hdr := http.Header{}
	if peerParam("FIELDS") != "" {
		value := strings.Repeat("v", peerInt("FIELDSIZE"))
		for i := range peerInt("FIELDS") {
			hdr["H"+strconv.Itoa(i)] = []string{value}
		}
	}
	conns := make([]net.Conn, 0, n)
	for i := range n {
		nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		nc.(*net.TCPConn).SetReadBuffer(4 << 10)
		if peerParam("TLS") != "" {
			nc = tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
		}
		if _, err := wstest.Handshake(nc, path, hdr); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, nc)
	}
	fmt.Println("ready")
	waitStdin()
	for _, nc := range conns {
		nc.Close()
	}
	return nil
}
