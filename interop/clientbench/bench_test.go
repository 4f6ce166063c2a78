// Package clientbench compares WebSocket clients on one machine: this
// project's (ws/client), gorilla/websocket's and lxzan/gws's, each
// against the same servers, with the same message sizes. It is a module of
// its own so that the root go.mod requires neither peer.
//
//	cd interop/clientbench && go test -bench . -benchmem
//
// BenchmarkEcho is one round trip per operation: a binary message to
// examples/echo, run as a process of its own (built by TestMain), and its
// echo back. BenchmarkSend is one message per operation to a server in
// this process that reads and discards (discard.go), the last one
// written out before the timer stops. Each client is used the way its
// documentation shows at its cheapest: ws/client and gws send the next
// message from their message callback, on the goroutine that read the
// echo; gorilla writes, then reads the echo with NextReader into a buffer
// the benchmark reuses (its ReadMessage allocates the message). Every
// client masks its frames as RFC 6455 requires: ws/client with keys from
// crypto/rand drawn in batches, gorilla with 4 bytes of crypto/rand per
// frame, gws with a key from math/rand/v2 per frame.
//
// The allocation figures count this process only (the echo server runs
// in another), so they are the client's and the benchmark's.
package clientbench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
)

// sizes are the message sizes of every benchmark.
var sizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// echoURL is examples/echo's address, set by TestMain.
var echoURL string

func TestMain(m *testing.M) {
	stop, err := startEcho()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientbench:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startEcho builds examples/echo and runs it on a free loopback port.
func startEcho() (stop func(), err error) {
	dir, err := os.MkdirTemp("", "clientbench")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "echo")
	build := exec.Command("go", "build", "-o", bin, "unievent.dev/examples/echo")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("building examples/echo: %w", err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		u, ok := strings.CutPrefix(l, "listening on ")
		if !ok {
			stop()
			return nil, fmt.Errorf("examples/echo printed %q", l)
		}
		echoURL = u
		return stop, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, fmt.Errorf("examples/echo did not start")
	}
}

// TestEchoes checks that every client's echo benchmark sees the echo of
// what it sent: the benchmarks measure real round trips.
func TestEchoes(t *testing.T) {
	p := []byte("a message to echo, then its echo checked")
	for _, c := range contenders {
		t.Run(c.name, func(t *testing.T) {
			got := c.echo(t, p, 3)
			if string(got) != string(p) {
				t.Errorf("echo %q, want %q", got, p)
			}
		})
	}
}

// contender is one of the clients compared: echo runs n round trips of p
// and returns the last echo; send sends n messages of p to url.
type contender struct {
	name string
	echo func(tb testing.TB, p []byte, n int) []byte
	send func(tb testing.TB, url string, p []byte, n int)
}

var contenders = []contender{
	{"unievent", unieventEcho, unieventSend},
	{"gorilla", gorillaEcho, gorillaSend},
	{"gws", gwsEcho, gwsSend},
}

func BenchmarkEcho(b *testing.B) {
	for _, c := range contenders {
		for _, s := range sizes {
			b.Run(c.name+"/"+s.name, func(b *testing.B) {
				c.echo(b, make([]byte, s.n), 0)
			})
		}
	}
}

func BenchmarkSend(b *testing.B) {
	for _, c := range contenders {
		for _, s := range sizes {
			b.Run(c.name+"/"+s.name, func(b *testing.B) {
				url, read := discardServer(b)
				c.send(b, url, make([]byte, s.n), 0)
				if want := int64(b.N) * int64(s.n); <-read < want {
					b.Fatalf("the server read fewer than the %d payload bytes sent", want)
				}
			})
		}
	}
}

// timing starts the benchmark's timer when tb is a *testing.B.
func timing(tb testing.TB, size int) {
	if b, ok := tb.(*testing.B); ok {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		b.ResetTimer()
	}
}

func stopTimer(tb testing.TB) {
	if b, ok := tb.(*testing.B); ok {
		b.StopTimer()
	}
}

// count is n, or b.N for a benchmark.
func count(tb testing.TB, n int) int {
	if b, ok := tb.(*testing.B); ok && n == 0 {
		return b.N
	}
	return n
}

// warmup is how many round trips or sends go before the timer starts.
const warmup = 100

func unieventEcho(tb testing.TB, p []byte, n int) []byte {
	n = count(tb, n)
	loop := ws.NewLoop()
	c, err := client.Dial(context.Background(), echoURL, nil, loop)
	if err != nil {
		tb.Fatal(err)
	}
	left := 0
	var last []byte
	finished := make(chan struct{}, 1)
	c.OnMessage(func(c *ws.Conn, m *ws.Message) {
		if left--; left > 0 {
			c.SendBinary(p)
			return
		}
		last = append(last[:0], m.Payload...)
		finished <- struct{}{}
	})
	done := make(chan struct{})
	go func() { loop.Run(); close(done) }()
	run := func(k int) {
		c.Loop().Exec(func() { left = k })
		c.SendBinary(p)
		<-finished
	}
	run(warmup)
	timing(tb, len(p))
	run(n)
	stopTimer(tb)
	c.Close(1000, "")
	<-done
	return last
}

func unieventSend(tb testing.TB, url string, p []byte, n int) {
	n = count(tb, n)
	cfg := &client.Config{}
	cfg.SendQueuePolicy = ws.BackpressureRefuse
	cfg.CloseTimeout = 10 * time.Millisecond // the server answers no close frame
	loop := ws.NewLoop()
	c, err := client.Dial(context.Background(), url, cfg, loop)
	if err != nil {
		tb.Fatal(err)
	}
	drained := make(chan struct{}, 1)
	c.OnDrain(func(*ws.Conn) {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	done := make(chan struct{})
	go func() { loop.Run(); close(done) }()
	send := func(k int) {
		for range k {
			for c.SendBinary(p) == ws.ErrBackpressure {
				<-drained
			}
		}
		for c.BufferedAmount() > 0 {
			select {
			case <-drained:
			case <-time.After(time.Millisecond):
			}
		}
	}
	send(warmup)
	timing(tb, len(p))
	send(n)
	stopTimer(tb)
	c.Close(1000, "")
	<-done
}

func gorillaDial(tb testing.TB, url string) *websocket.Conn {
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func gorillaEcho(tb testing.TB, p []byte, n int) []byte {
	n = count(tb, n)
	c := gorillaDial(tb, echoURL)
	defer c.Close()
	buf := make([]byte, len(p))
	var got int
	trip := func() {
		if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
			tb.Fatal(err)
		}
		_, r, err := c.NextReader()
		if err != nil {
			tb.Fatal(err)
		}
		if got, err = io.ReadFull(r, buf); err != nil {
			tb.Fatal(err)
		}
	}
	for range warmup {
		trip()
	}
	timing(tb, len(p))
	for range n {
		trip()
	}
	stopTimer(tb)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	return buf[:got]
}

func gorillaSend(tb testing.TB, url string, p []byte, n int) {
	n = count(tb, n)
	c := gorillaDial(tb, url)
	for range warmup {
		c.WriteMessage(websocket.BinaryMessage, p)
	}
	timing(tb, len(p))
	for range n {
		if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
			tb.Fatal(err)
		}
	}
	stopTimer(tb)
	c.Close()
}

// gwsHandler sends the next message from OnMessage, as ws/client's
// benchmark does from its listener.
type gwsHandler struct {
	gws.BuiltinEventHandler
	p        []byte
	left     atomic.Int64
	last     []byte
	finished chan struct{}
}

func (h *gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if h.left.Add(-1) > 0 {
		c.WriteMessage(gws.OpcodeBinary, h.p)
		return
	}
	h.last = append(h.last[:0], m.Bytes()...)
	h.finished <- struct{}{}
}

func gwsEcho(tb testing.TB, p []byte, n int) []byte {
	n = count(tb, n)
	h := &gwsHandler{p: p, finished: make(chan struct{}, 1)}
	c, _, err := gws.NewClient(h, &gws.ClientOption{Addr: echoURL})
	if err != nil {
		tb.Fatal(err)
	}
	go c.ReadLoop()
	run := func(k int) {
		h.left.Store(int64(k))
		c.WriteMessage(gws.OpcodeBinary, p)
		<-h.finished
	}
	run(warmup)
	timing(tb, len(p))
	run(n)
	stopTimer(tb)
	c.WriteClose(1000, nil)
	return h.last
}

func gwsSend(tb testing.TB, url string, p []byte, n int) {
	n = count(tb, n)
	c, _, err := gws.NewClient(&gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: url})
	if err != nil {
		tb.Fatal(err)
	}
	go c.ReadLoop()
	for range warmup {
		c.WriteMessage(gws.OpcodeBinary, p)
	}
	timing(tb, len(p))
	for range n {
		if err := c.WriteMessage(gws.OpcodeBinary, p); err != nil {
			tb.Fatal(err)
		}
	}
	stopTimer(tb)
	c.NetConn().Close()
}
