//go:build !unievent_nopoll

package ws

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// rawSocketOf returns c's transport as a rawSocket, nil when it is not one.
func rawSocketOf(c *Conn) *rawSocket {
	s, _ := c.transport().(*rawSocket)
	return s
}

// descriptorOpen reports whether fd is an open descriptor.
func descriptorOpen(fd int) bool {
	_, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	return e == 0
}

// Once the poller has a plain TCP connection, the connection holds its
// socket's descriptor, not a net.TCPConn: the addresses are the same,
// NetConn still reaches the socket's options, and messages and the close
// handshake go on as before.
func TestPollerHoldsARawSocket(t *testing.T) {
	loop := runningLoop(t)
	srv, cli := tcpPair(t)
	local, remote := srv.LocalAddr().String(), srv.RemoteAddr().String()
	closed := make(chan CloseCode, 1)
	c, wc := startConn(t, srv, cli, &Config{}, connOptions{Loop: loop}, func(c *Conn) {
		echoListener(c)
		c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
	})
	if !wstest.Poll(5*time.Second, func() bool { return c.p.watched.Load() && rawSocketOf(c) != nil }) {
		t.Fatalf("the poller took the connection with a %T, want a rawSocket", c.transport())
	}
	s := rawSocketOf(c)
	if s.holdsWait() {
		t.Error("an idle connection holds a wait file")
	}
	if got := c.LocalAddr().String(); got != local {
		t.Errorf("LocalAddr %s, want %s", got, local)
	}
	if got := c.RemoteAddr().String(); got != remote {
		t.Errorf("RemoteAddr %s, want %s", got, remote)
	}
	nc, ok := c.NetConn().(*net.TCPConn)
	if !ok {
		t.Fatalf("NetConn is %T, want a *net.TCPConn", c.NetConn())
	}
	if err := nc.SetWriteBuffer(64 << 10); err != nil {
		t.Errorf("SetWriteBuffer on NetConn: %v", err)
	}
	if nc.RemoteAddr().String() != remote {
		t.Errorf("NetConn's RemoteAddr %s, want %s", nc.RemoteAddr(), remote)
	}
	nc.Close() // the duplicate only
	for i := range 3 {
		msg := []byte{'m', byte(i)}
		if err := wc.WriteMessage(2, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, _, err := wc.ReadMessage(5 * time.Second); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %d after NetConn was closed: %q, %v", i, got, err)
		}
	}
	wc.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	if code, _, err := wc.ExpectClose(5 * time.Second); err != nil || code != 1000 {
		t.Fatalf("close %d, %v", code, err)
	}
	expectCloseEvent(t, closed, CloseCode(1000), "the close handshake")
	if descriptorOpen(s.fd) && s.refs.Load()&1 == 0 {
		t.Error("the descriptor is still open after the connection ended")
	}
	if c.RemoteAddr().String() != remote {
		t.Errorf("RemoteAddr after the end %s, want %s", c.RemoteAddr(), remote)
	}
}

// A busy connection on its own goroutine waits on a wait file, which the
// next hand-off to the poller drops again.
func TestRawSocketWaitFileLastsWhileBusy(t *testing.T) {
	loop := runningLoop(t)
	c, cl := tcpConn(t, loop, &Config{}, echoListener)
	if !wstest.Poll(5*time.Second, func() bool { return c.p.watched.Load() && rawSocketOf(c) != nil }) {
		t.Fatal("the poller did not take the connection as a rawSocket")
	}
	s := rawSocketOf(c)
	held := false
	for i := 0; i < 1000 && !held; i++ {
		msg := []byte{byte(i), byte(i >> 8)}
		if err := cl.WriteMessage(2, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, _, err := cl.ReadMessage(5 * time.Second); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
		held = !c.p.watched.Load() && s.holdsWait()
	}
	if !held {
		t.Fatal("1000 round trips and no goroutine waited on the socket")
	}
	if !wstest.Poll(5*time.Second, func() bool { return c.p.watched.Load() && !s.holdsWait() }) {
		t.Fatalf("back on the poller (%v), the wait file still held (%v)", c.p.watched.Load(), s.holdsWait())
	}
	cl.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	if code, _, err := cl.ExpectClose(5 * time.Second); err != nil || code != 1000 {
		t.Fatalf("close %d, %v", code, err)
	}
}

// rawPair returns a rawSocket on the server's end of a loopback TCP
// connection, and the client's end.
func rawPair(t *testing.T) (*rawSocket, net.Conn) {
	t.Helper()
	srv, cli := tcpPair(t)
	s, err := newRawSocket(srv.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	return s, cli
}

// Close leaves the descriptor to the last system call in flight on it:
// it is closed once, after that call, never under it.
func TestRawSocketClosesAfterTheLastUse(t *testing.T) {
	s, _ := rawPair(t)
	if !s.incref() {
		t.Fatal("a fresh socket refuses a use")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !descriptorOpen(s.fd) {
		t.Fatal("Close closed the descriptor under a system call in flight")
	}
	if s.incref() {
		t.Fatal("a closed socket allows a new use")
	}
	s.decref()
	if descriptorOpen(s.fd) {
		t.Fatal("the last use after Close left the descriptor open")
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	if err := s.access().Control(func(uintptr) { t.Error("Control ran on a closed socket") }); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Control after Close: %v, want net.ErrClosed", err)
	}
}

// Close from one goroutine while others read (waiting on the wait file),
// write, set deadlines and use the descriptor: every one of them returns,
// the descriptor is closed exactly once, and nothing runs on it after.
func TestRawSocketCloseRacesItsUsers(t *testing.T) {
	for round := range 20 {
		s, cli := rawPair(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(4)
		go func() { // a reader that waits: the peer sends nothing
			defer wg.Done()
			<-start
			buf := make([]byte, 64)
			for {
				if _, err := s.Read(buf); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			for s.access().Control(func(fd uintptr) { syscall.Getsockname(int(fd)) }) == nil {
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			for s.SetReadDeadline(time.Now().Add(time.Hour)) == nil {
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			for {
				if _, err := s.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
		close(start)
		if round%2 == 1 {
			runtime.Gosched()
		}
		s.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a user of the socket did not return after Close", round)
		}
		if r := s.refs.Load(); r != 1 {
			t.Fatalf("round %d: refs %d after every user returned, want 1 (closed, none in flight)", round, r)
		}
		if descriptorOpen(s.fd) {
			t.Fatalf("round %d: descriptor %d open after Close and its last use", round, s.fd)
		}
		cli.Close()
	}
}

// A blocking write through the wait file honours the write deadline, and
// writeBuffers writes everything once the peer reads.
func TestRawSocketBlockingWrites(t *testing.T) {
	s, cli := rawPair(t)
	defer s.Close()
	s.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	big := bytes.Repeat([]byte("y"), 64<<20) // more than both socket buffers hold
	if _, err := s.Write(big); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a write to a peer that reads nothing: %v, want the deadline", err)
	}
	// Drain what the write left, then write three buffers with one call.
	s.SetWriteDeadline(time.Time{})
	cli.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 1<<20)
	for {
		if _, err := cli.Read(buf); err != nil {
			break
		}
	}
	cli.SetReadDeadline(time.Time{})
	parts := [][]byte{bytes.Repeat([]byte("a"), 3<<20), []byte("b"), bytes.Repeat([]byte("c"), 2<<20)}
	want := bytes.Join(parts, nil)
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(want))
		n := 0
		for n < len(b) {
			m, err := cli.Read(b[n:])
			if err != nil {
				break
			}
			n += m
		}
		got <- b[:n]
	}()
	bufs := net.Buffers(parts)
	if n, err := s.writeBuffers(&bufs); err != nil || n != int64(len(want)) {
		t.Fatalf("writeBuffers: %d, %v; want %d", n, err, len(want))
	}
	if len(bufs) != 0 {
		t.Errorf("%d buffers left unconsumed", len(bufs))
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("the peer read %d bytes, not the %d written in order", len(b), len(want))
	}
}

// BenchmarkIdleConnection measures what an idle plain TCP connection
// holds once its loop's poller has it: the live heap per connection
// (after a GC, with the connections open, less the same before), and the
// allocations that made it, accept and upgrade included. The peers are
// bare descriptors, which hold nothing on the Go heap. One op is a batch
// of idleBatch connections, opened, measured and closed.
func BenchmarkIdleConnection(b *testing.B) {
	const idleBatch = 500
	loop := NewLoop()
	loop.ref()
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	defer func() { loop.unref(); <-done }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var heap, allocs float64
	b.ReportAllocs()
	for b.Loop() {
		var ended sync.WaitGroup
		ended.Add(idleBatch)
		peers := make([]int, 0, idleBatch)
		conns := make([]*Conn, 0, idleBatch)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.GC() // and the pools' victims
		runtime.ReadMemStats(&before)
		for range idleBatch {
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				b.Fatal(err)
			}
			peers = append(peers, fd)
			nc, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			c := newConn(nc, &Config{}, connOptions{Loop: loop, Preamble: []byte(fake101)})
			c.OnClose(func(*Conn, CloseCode, string) { ended.Done() })
			c.start()
			conns = append(conns, c)
		}
		for _, c := range conns {
			if !wstest.Poll(10*time.Second, func() bool { return c.p.watched.Load() }) {
				b.Fatal("a connection was not handed to the poller")
			}
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap += float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
		allocs += float64(after.Mallocs - before.Mallocs)
		runtime.KeepAlive(conns)
		for _, fd := range peers {
			syscall.Close(fd)
		}
		ended.Wait()
	}
	n := float64(b.N) * idleBatch
	b.ReportMetric(heap/n, "heap-B/conn")
	b.ReportMetric(allocs/n, "allocs/conn")
}

// A connection the poller holds as a rawSocket fails the way any does:
// our close frame, then our FIN (CloseWrite on the descriptor) while the
// close listeners run, then a wait for the peer's FIN (a read on the wait
// file) before the descriptor is closed.
func TestRawSocketFailHalfClosesAndLingers(t *testing.T) {
	loop := runningLoop(t)
	closed := make(chan CloseCode, 1)
	c, cl := tcpConn(t, loop, &Config{}, func(c *Conn) {
		c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
	})
	if !wstest.Poll(5*time.Second, func() bool { return c.p.watched.Load() && rawSocketOf(c) != nil }) {
		t.Fatal("the poller did not take the connection as a rawSocket")
	}
	s := rawSocketOf(c)
	// RSV1 without permessage-deflate: 1002 (RFC 6455 section 5.2).
	if err := cl.Write(wstest.AppendFrame(nil, true, 4, 2, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if code, _, err := cl.ExpectClose(5 * time.Second); err != nil || code != 1002 {
		t.Fatalf("close %d, %v; want 1002", code, err)
	}
	if err := cl.ExpectEOF(5 * time.Second); err != nil {
		t.Fatalf("no FIN after the close frame: %v", err)
	}
	expectCloseEvent(t, closed, CloseCode(1002), "failing the connection")
	if s.refs.Load()&1 != 0 {
		t.Fatal("the descriptor was closed before the peer's FIN")
	}
	cl.Close()
	if !wstest.Poll(5*time.Second, func() bool { return s.refs.Load() == 1 }) {
		t.Fatalf("refs %d after the peer's FIN, want 1 (closed, none in flight)", s.refs.Load())
	}
}

// A read or write past its deadline fails without being tried, as on a
// net.Conn, even while the socket has data for it: a peer that keeps the
// socket readable must not push the deadline back.
func TestRawSocketDeadlinePassedFailsAtOnce(t *testing.T) {
	s, cli := rawPair(t)
	defer s.Close()
	if _, err := cli.Write([]byte("data waiting")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	// The data is there before the deadline passes.
	if !wstest.Poll(5*time.Second, func() bool {
		n := 0
		s.access().Control(func(fd uintptr) {
			n, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		})
		return n > 0
	}) {
		t.Fatal("the data did not arrive")
	}
	s.SetReadDeadline(time.Now().Add(-time.Second))
	if n, err := s.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline with data waiting: %d bytes, %v; want os.ErrDeadlineExceeded", n, err)
	}
	s.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := s.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past the deadline: %v; want os.ErrDeadlineExceeded", err)
	}
	s.SetReadDeadline(time.Time{})
	s.SetWriteDeadline(time.Time{})
	if n, err := s.Read(buf); err != nil || string(buf[:n]) != "data waiting" {
		t.Fatalf("Read without a deadline: %q, %v", buf[:n], err)
	}
}

// Once a NetConn was made on a duplicate of the descriptor, Close shuts
// the socket down: the peer sees its end even while the duplicate is
// still open.
func TestRawSocketCloseEndsTheConnectionDespiteALentNetConn(t *testing.T) {
	s, cli := rawPair(t)
	nc := s.netConn()
	if nc == nil {
		t.Fatal("netConn made nothing")
	}
	defer nc.Close()
	s.Close()
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := cli.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the peer read %d bytes, %v after Close; want io.EOF while the NetConn is open", n, err)
	}
}
