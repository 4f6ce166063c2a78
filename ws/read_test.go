package ws

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

// runningLoop returns a loop that runs, holding a handle, until the test
// ends.
func runningLoop(t testing.TB) *Loop {
	loop := NewLoop()
	loop.ref()
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	t.Cleanup(func() {
		loop.unref()
		<-done
	})
	return loop
}

// tcpPair returns both ends of a loopback TCP connection; the client's end
// is closed when the test ends.
func tcpPair(t testing.TB) (srv, cli net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	if srv, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	return srv, cli
}

// startConn starts a server connection on srv (its 101 as the preamble,
// o's other options as given) after setup, and returns it with the client
// reading on cli, past the handshake.
func startConn(t *testing.T, srv, cli net.Conn, cfg *Config, o connOptions, setup func(*Conn)) (*Conn, *wstest.Client) {
	t.Helper()
	o.Role, o.Preamble = frame.RoleServer, []byte(fake101)
	c := newConn(srv, cfg, o)
	if setup != nil {
		setup(c)
	}
	c.start()
	wc, err := wstest.ReadHandshake(cli, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c, wc
}

// The reassembly buffer grows with the payload that has arrived, not with
// the length a frame header announces: a header for a 4 MiB frame followed
// by one byte must not make the connection hold 4 MiB.
func TestReassemblyBufferFollowsArrivedPayload(t *testing.T) {
	loop := runningLoop(t)
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	c := newConn(srv, &Config{}, connOptions{Loop: loop, Role: frame.RoleServer})
	c.takeScratch() // as the goroutine that calls process has
	var got []byte
	c.OnMessage(func(_ *Conn, m *Message) { got = bytes.Clone(m.Payload) })

	payload := bytes.Repeat([]byte("0123456789abcdef"), (defaultMaxMessageSize-1024)/16)
	wire := wstest.AppendFrame(nil, true, 0, 2, payload)
	hdrLen := len(wire) - len(payload)
	// process runs on this goroutine here, as it would on the I/O
	// goroutine: the reader's state may be inspected between calls.
	c.process(wire[:hdrLen+1])
	if n := cap(c.a.buf); n > defaultReadBufferSize {
		t.Fatalf("after a %d-byte frame header and 1 byte: %d bytes held", len(payload), n)
	}
	arrived := 1
	for off := hdrLen + 1; off < len(wire); off += defaultReadBufferSize {
		end := min(off+defaultReadBufferSize, len(wire))
		c.process(wire[off:end])
		arrived += end - off
		if c.a.buf != nil && cap(c.a.buf) > 2*arrived+defaultReadBufferSize {
			t.Fatalf("%d bytes arrived, %d held", arrived, cap(c.a.buf))
		}
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("message of %d bytes delivered as %d bytes (or differs)", len(payload), len(got))
	}
	if c.a.buf != nil {
		t.Fatalf("%d bytes still held after the message", cap(c.a.buf))
	}
}

// countingConn counts the reads of a connection.
type countingConn struct {
	net.Conn
	reads atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// After the idle timeout has closed a connection, the close handshake
// goes on: the peer's answer is read (so the close event reports 1001,
// not 1006), and the idle deadline, now in the past, does not make the
// I/O goroutine spin on reads that time out at once.
func TestIdleTimeoutCloseHandshake(t *testing.T) {
	loop := runningLoop(t)
	srv, cli := net.Pipe()
	defer cli.Close()
	cc := &countingConn{Conn: srv}
	cfg := &Config{IdleTimeout: 50 * time.Millisecond, PingInterval: -1, CloseTimeout: time.Second}
	c := newConn(cc, cfg, connOptions{Loop: loop, Role: frame.RoleServer})
	closed := make(chan CloseCode, 1)
	c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
	c.start()

	cli.SetDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(cli, hdr[:]); err != nil || hdr[0] != 0x88 {
		t.Fatalf("expected the idle timeout's close frame: % x %v", hdr, err)
	}
	payload := make([]byte, hdr[1])
	io.ReadFull(cli, payload)
	// The case under test: a peer that stays silent a while before it
	// answers, as one across the world would.
	readsAtClose := cc.reads.Load()
	time.Sleep(200 * time.Millisecond)
	if n := cc.reads.Load() - readsAtClose; n > 5 {
		t.Errorf("%d reads in the 200ms after the close frame: the I/O goroutine spins", n)
	}
	if _, err := cli.Write(wstest.AppendFrame(nil, true, 0, 8, wstest.ClosePayload(1001, ""))); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, cli)
	expectCloseEvent(t, closed, frame.CloseAway, "the peer answered the close")
}

// expectCloseEvent waits up to wstest.WaitTimeout for a close event's
// code on events and checks it; what says what happened, for the failure.
func expectCloseEvent(t *testing.T, events <-chan CloseCode, want CloseCode, what string) {
	t.Helper()
	select {
	case code := <-events:
		if code != want {
			t.Errorf("%s: close event with %v, want %v", what, code, want)
		}
	case <-time.After(wstest.WaitTimeout):
		t.Fatalf("%s: no close event within %v", what, wstest.WaitTimeout)
	}
}

// expectNoSecondCloseEvent checks that no further close event comes on
// events within 50 ms of the first.
func expectNoSecondCloseEvent(t *testing.T, events <-chan CloseCode) {
	t.Helper()
	if wstest.Poll(50*time.Millisecond, func() bool { return len(events) > 0 }) {
		t.Errorf("a second close event (%v)", <-events)
	}
}

// A compressed message that inflates past the limit costs about the limit:
// the output buffer has room for the one byte past it that tells, instead
// of growing by a quarter to hold it.
func TestInflateBombCostsTheLimit(t *testing.T) {
	loop := runningLoop(t)
	srv, cli := net.Pipe()
	defer cli.Close()
	go io.Copy(io.Discard, cli) // the close frame
	const limit = 1 << 20
	cfg := &Config{MaxMessageSize: limit, Deflate: &permessagedeflate.Config{}}
	c := newConn(srv, cfg, connOptions{Loop: loop, Role: frame.RoleServer, Deflate: &permessagedeflate.Params{}})
	c.takeScratch() // as the goroutine that calls process has
	// 1 GiB of zeros, about 1 MB compressed: over the limit as it
	// arrives, so a smaller one (256 KiB compressed) makes the point.
	wire := wstest.AppendFrame(nil, true, 4, 2, wstest.DeflateBomb(256))
	c.a.decomp = permessagedeflate.NewDecompressor(*c.params)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c.process(wire)
	runtime.ReadMemStats(&after)
	if !c.hs.failed || c.hs.code != frame.CloseMessageTooBig {
		t.Fatalf("failed %v with %v, want %v", c.hs.failed, c.hs.code, frame.CloseMessageTooBig)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes allocated inflating a 256 MiB bomb with a %d-byte limit", allocated, limit)
	if allocated > limit+limit/8 {
		t.Errorf("%d bytes allocated for a %d-byte limit", allocated, limit)
	}
}
