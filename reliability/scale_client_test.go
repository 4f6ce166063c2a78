//go:build linux

// TestScale's clients: the peer role "scale" and the test's end of its
// pipes.

package reliability

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// scalePeer is a client process of TestScale, which answers the test's
// commands with one line each.
type scalePeer struct {
	*peer
	out chan string
}

// scaleSource is the address client i dials from: one of its own, as
// clients on many hosts have. From one address for all, connect's search
// for a free local port slowed the step from 10,000 to 19,000
// connections to a fifth of the others' accept rate or less.
func scaleSource(i int) string { return "127.0.0." + strconv.Itoa(2+i) }

func startScalePeer(t *testing.T, addr, src string) *scalePeer {
	t.Helper()
	p := &scalePeer{peer: startPeer(t, "scale", map[string]string{"ADDR": addr, "SRC": src}), out: make(chan string, 64)}
	go func() {
		for p.lines.Scan() {
			p.out <- p.lines.Text()
		}
		close(p.out)
	}()
	p.await("ready", wait)
	return p
}

// tell sends the client a command.
func (p *scalePeer) tell(cmd string) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		p.t.Fatalf("command %q to a client: %v", cmd, err)
	}
}

// await waits at most timeout for the client's line starting with word
// and returns the fields after it, with three empty ones added so that a
// short line can be indexed.
func (p *scalePeer) await(word string, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.out:
			if !ok {
				p.stop()
				p.t.Fatalf("client ended before %q\n%s", word, p.stderr.String())
			}
			if rest, ok := strings.CutPrefix(line, word); ok && (rest == "" || rest[0] == ' ') {
				return append(strings.Fields(rest), "", "", "")
			}
		case <-deadline.C:
			p.stop()
			p.t.Fatalf("no %q from a client within %v\n%s", word, timeout, p.stderr.String())
		}
	}
}

// peerScale is TestScale's client: it connects from SRC to ADDR and answers
// commands, one a line on its standard input, with one line each:
//
//	dial K            dials K more connections, scaleDialers at a time:
//	                  "dialed OK FAILED [first error]"
//	echo              every connection sends one scalePayload message
//	                  and waits for its echo: "echoed OK BAD [first error]"
//	active K R D      K connections each do at most R round trips, for at
//	                  most D: "active ROUNDTRIPS FAILED HISTOGRAM [first
//	                  error]" (a latencies histogram)
//
// It prints "ready" first. Once its standard input closes it resets its
// connections (SO_LINGER 0: no TIME_WAIT left to the next run) and exits.
func peerScale() error {
	addr := peerParam("ADDR")
	d := &net.Dialer{
		Timeout:   scaleRoundTrip,
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(peerParam("SRC"))},
		// The local port is picked by connect, for the whole 4-tuple,
		// not by bind for the address alone.
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
			}); err != nil {
				return err
			}
			return serr
		},
	}
	files, err := raiseFileLimit()
	if err != nil {
		return err
	}
	if files < scalePerPeer+32 {
		return fmt.Errorf("this process may hold %d open files, fewer than %d", files, scalePerPeer+32)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), scalePayload/16)
	var conns []*scaleConn
	defer func() {
		for _, c := range conns {
			c.c.Conn.(*net.TCPConn).SetLinger(0)
			c.c.Close()
		}
	}()
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 2 && f[0] == "dial":
			k, _ := strconv.Atoi(f[1])
			dialed, failed, err := dialScale(d, addr, k, len(conns), payload)
			conns = append(conns, dialed...)
			fmt.Println("dialed", len(dialed), failed, errText(err))
		case len(f) == 1 && f[0] == "echo":
			var bad atomic.Int64
			var first firstError
			stop := time.Now().Add(scaleStep)
			forEach(conns, scaleWorkers, func(c *scaleConn) {
				err := errors.New("out of time")
				if time.Now().Before(stop) {
					_, err = c.roundTrip(payload)
				}
				if err != nil {
					bad.Add(1)
					first.set(err)
				}
			})
			fmt.Println("echoed", int64(len(conns))-bad.Load(), bad.Load(), errText(first.get()))
		case len(f) == 4 && f[0] == "active":
			k, _ := strconv.Atoi(f[1])
			rounds, _ := strconv.Atoi(f[2])
			dur, err := time.ParseDuration(f[3])
			if err != nil {
				return err
			}
			n, failed, lat, err := activeScale(conns[:min(k, len(conns))], rounds, dur, payload)
			fmt.Println("active", n, failed, lat, errText(err))
		default:
			return fmt.Errorf("unknown command %q", in.Text())
		}
	}
	return in.Err()
}

// dialScale dials k connections, scaleDialers at a time, within scaleStep;
// their masking keys start at key.
func dialScale(d *net.Dialer, addr string, k, key int, payload []byte) ([]*scaleConn, int, error) {
	var (
		mu     sync.Mutex
		conns  []*scaleConn
		first  firstError
		failed atomic.Int64
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	stop := time.Now().Add(scaleStep)
	for range min(scaleDialers, k) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= k {
					return
				}
				if time.Now().After(stop) {
					failed.Add(1)
					first.set(errors.New("out of time"))
					continue
				}
				c, err := dialScaleConn(d, addr, uint32(key+i), payload)
				if err != nil {
					failed.Add(1)
					first.set(err)
					continue
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return conns, int(failed.Load()), first.get()
}

// activeScale runs the active phase on conns and returns the round trips
// done, how many connections failed one, and their latencies.
func activeScale(conns []*scaleConn, rounds int, d time.Duration, payload []byte) (int64, int64, latencies, error) {
	var (
		mu     sync.Mutex
		all    = latencies{}
		n      atomic.Int64
		failed atomic.Int64
		first  firstError
		wg     sync.WaitGroup
	)
	stop := time.Now().Add(d)
	for _, c := range conns {
		wg.Go(func() {
			mine := latencies{}
			for r := 0; r < rounds && time.Now().Before(stop); r++ {
				rtt, err := c.roundTrip(payload)
				if err != nil {
					failed.Add(1)
					first.set(err)
					break
				}
				mine[latencyBucket(rtt)]++
				n.Add(1)
			}
			mu.Lock()
			for i, c := range mine {
				all[i] += c
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return n.Load(), failed.Load(), all, first.get()
}

// forEach runs f on every connection, workers at a time.
func forEach(conns []*scaleConn, workers int, f func(*scaleConn)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(conns)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(conns); i = int(next.Add(1)) - 1 {
				f(conns[i])
			}
		})
	}
	wg.Wait()
}

// scaleConn is one connection of TestScale's client. A goroutine reads it
// all the time, answering the server's pings (an idle connection outlives
// the server's ping interval in a long run) and handing data messages to
// echoes.
type scaleConn struct {
	c      *wstest.Client
	wmu    sync.Mutex // one writer at a time: round trips and pongs
	frame  []byte     // the masked message it sends
	echoes chan []byte
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT of linux/in.h, which
// package syscall defines on some architectures only.
const ipBindAddressNoPort = 24

func dialScaleConn(d *net.Dialer, addr string, key uint32, payload []byte) (*scaleConn, error) {
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := wstest.Handshake(nc, "/", nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	k := [4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key) | 1}
	sc := &scaleConn{c: c, frame: wstest.AppendFrameKey(nil, true, 0, 2, k, payload), echoes: make(chan []byte, 1)}
	go sc.read()
	return sc, nil
}

func (sc *scaleConn) read() {
	defer close(sc.echoes)
	for {
		op, p, _, err := sc.c.ReadMessage(time.Hour)
		if err != nil || op == 8 {
			return
		}
		if op == 9 {
			sc.wmu.Lock()
			err = sc.c.WriteFrame(true, 10, p)
			sc.wmu.Unlock()
			if err != nil {
				return
			}
			continue
		}
		sc.echoes <- p
	}
}

// roundTrip sends the message and waits for its echo.
func (sc *scaleConn) roundTrip(payload []byte) (time.Duration, error) {
	start := time.Now()
	sc.wmu.Lock()
	err := sc.c.Write(sc.frame)
	sc.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	timer := time.NewTimer(scaleRoundTrip)
	defer timer.Stop()
	select {
	case p, ok := <-sc.echoes:
		switch {
		case !ok:
			return 0, errors.New("the connection ended before the echo")
		case !bytes.Equal(p, payload):
			return 0, fmt.Errorf("the echo (%d bytes) differs from the %d bytes sent", len(p), len(payload))
		}
		return time.Since(start), nil
	case <-timer.C:
		return 0, fmt.Errorf("no echo within %v", scaleRoundTrip)
	}
}

// firstError keeps the first error set.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
