package ws

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

// readMessages reads n frames from c and returns their opcodes and
// payloads (inflated with in when compressed).
func readFrames(t *testing.T, c *wstest.Client, in *wstest.Inflater, n int) []string {
	t.Helper()
	var got []string
	for i := range n {
		f, err := c.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		p := f.Payload
		if f.Rsv1 {
			if p, _, err = in.Inflate(p); err != nil {
				t.Fatalf("frame %d: inflate: %v", i, err)
			}
		}
		got = append(got, string(rune('0'+f.Opcode))+":"+string(p))
	}
	return got
}

// A prepared message is one frame shared by every server connection it is
// queued on: the queue refers to its bytes instead of copying them, in
// order with the connection's other sends, and each queue lets go of it
// once written. A pooled one goes back to the pool after the last.
func TestPreparedMessageIsSharedByTheQueues(t *testing.T) {
	loop := runningLoop(t)
	payload := bytes.Repeat([]byte("shared "), 3000) // 21 KB: over a queue chunk
	pm, err := newPrepared(OpBinary, payload, true)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*Conn
	var clients []*wstest.Client
	for range 3 {
		srv, cli := tcpPair(t)
		c, cl := startConn(t, srv, cli, &Config{}, connOptions{Loop: loop}, nil)
		conns = append(conns, c)
		clients = append(clients, cl)
	}
	for _, c := range conns {
		c.q.holdFlush() // as the reading goroutine does: nothing is written yet
		if err := c.SendText("before"); err != nil {
			t.Fatal(err)
		}
		if err := c.SendPrepared(pm); err != nil {
			t.Fatal(err)
		}
		c.q.mu.Lock()
		last := c.q.out[len(c.q.out)-1]
		shared := unsafe.SliceData(last) == unsafe.SliceData(pm.plain) && len(c.q.pinsLocked()) == 1
		c.q.mu.Unlock()
		if !shared {
			t.Error("the queue holds a copy of the prepared frame, not the frame")
		}
		if err := c.SendText("after"); err != nil {
			t.Fatal(err)
		}
	}
	if got := pm.refs.Load(); got != 4 {
		t.Errorf("%d references while queued on 3 connections, want 4 (theirs and the maker's)", got)
	}
	for _, c := range conns {
		c.q.releaseFlush()
	}
	want := []string{"1:before", "2:" + string(payload), "1:after"}
	for i, cl := range clients {
		got := readFrames(t, cl, &wstest.Inflater{}, 3)
		for k := range want {
			if got[k] != want[k] {
				t.Fatalf("connection %d, frame %d: %.20q..., want %.20q...", i, k, got[k], want[k])
			}
		}
	}
	wstest.WaitFor(t, "every queue letting go of the prepared message", func() bool { return pm.refs.Load() == 1 })
	pm.unref()
	if pm.backing != nil || pm.plain != nil {
		t.Error("the pooled prepared message kept its buffers after its last reference")
	}
}

// With permessage-deflate, the connections without server context
// takeover share one compressed frame per level and window size; one with
// context takeover compresses the message itself. Every peer inflates the
// same message.
func TestPreparedMessageCompressedOncePerParameters(t *testing.T) {
	loop := runningLoop(t)
	text := strings.Repeat(`{"price":101.25,"symbol":"ACME"},`, 100)
	second := strings.Repeat(`{"second":true},`, 100)
	pm, err := NewPreparedMessage(OpText, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Deflate: &permessagedeflate.Config{Level: 1, Threshold: 64}}
	params := []permessagedeflate.Params{
		{ServerNoContextTakeover: true},
		{ServerNoContextTakeover: true},
		{ServerNoContextTakeover: true, ServerMaxWindowBits: 10},
		{}, // context takeover
	}
	var clients []*wstest.Client
	for _, p := range params {
		srv, cli := tcpPair(t)
		c, wc := startConn(t, srv, cli, cfg, connOptions{Loop: loop, Deflate: &p}, nil)
		c.q.holdFlush()
		// The second prepared frame is queued behind a message waiting
		// to be compressed, and keeps its place.
		for _, err := range []error{c.SendPrepared(pm), c.SendText(second), c.SendPrepared(pm)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		c.q.releaseFlush()
		clients = append(clients, wc)
	}
	for i, cl := range clients {
		in := &wstest.Inflater{NoContextTakeover: params[i].ServerNoContextTakeover}
		for k, got := range readFrames(t, cl, in, 3) {
			want := "1:" + text
			if k == 1 {
				want = "1:" + second
			}
			if got != want {
				t.Fatalf("connection %d, message %d: %.30q..., want %.30q...", i, k, got, want)
			}
		}
	}
	pm.mu.Lock()
	variants := len(pm.deflated)
	pm.mu.Unlock()
	if variants != 2 {
		t.Errorf("%d compressed frames for two window sizes without context takeover, want 2", variants)
	}
}

// What cannot be prepared is refused when it is made; a prepared message
// sent where it cannot go says why, and counts against the queue limit.
func TestPreparedMessageMisuse(t *testing.T) {
	if _, err := NewPreparedMessage(frame.OpPing, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("a ping: %v, want ErrInvalid", err)
	}
	if _, err := NewPreparedMessage(OpText, []byte{0xff}); !errors.Is(err, ErrInvalid) {
		t.Errorf("text not UTF-8: %v, want ErrInvalid", err)
	}
	pm, err := NewPreparedMessage(OpBinary, make([]byte, 4096))
	if err != nil {
		t.Fatal(err)
	}
	loop := runningLoop(t)
	srv, cli := tcpPair(t)
	c, cl := startConn(t, srv, cli, &Config{SendQueueLimit: 1024, SendQueuePolicy: BackpressureRefuse}, connOptions{Loop: loop}, nil)
	if err := c.SendPrepared(pm); !errors.Is(err, ErrBackpressure) {
		t.Errorf("over the queue limit: %v, want ErrBackpressure", err)
	}
	if err := c.Close(frame.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.SendPrepared(pm); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if code, _, err := cl.ExpectClose(5 * time.Second); err != nil || code != 1000 {
		t.Fatalf("close %d, %v", code, err)
	}
	if got := pm.refs.Load(); got != 1 {
		t.Errorf("%d references after refused sends, want the maker's only", got)
	}
}

// A deferred send claims the queue's write and records the connection;
// a second message queued before the run reaches it rides on the same
// claim (nothing is recorded for it), and the run writes both, in order,
// with the connection's own sends between them. More connections than
// one goroutine's share (deferredChunk) are split across runs.
func TestDeferredSendsShareOneWrite(t *testing.T) {
	loop := runningLoop(t)
	const n = 4*deferredChunk + 3
	var conns []*Conn
	var clients []*wstest.Client
	for range n {
		srv, cli := tcpPair(t)
		c, cl := startConn(t, srv, cli, &Config{}, connOptions{Loop: loop}, nil)
		conns = append(conns, c)
		clients = append(clients, cl)
	}
	one, err := NewPreparedMessage(OpText, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := NewPreparedMessage(OpText, []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	first, second := newDeferred(), newDeferred()
	for _, c := range conns {
		if err := c.sendDeferred(one, first); err != nil {
			t.Fatal(err)
		}
	}
	// A connection whose reading goroutine is busy at that moment is not
	// recorded: that goroutine writes its queue when it is done.
	if len(first.Conns) < n-3 {
		t.Fatalf("%d connections recorded for the first message, want about %d", len(first.Conns), n)
	}
	claimed := map[*Conn]bool{}
	for _, c := range first.Conns {
		claimed[c] = true
	}
	for _, c := range conns {
		if err := c.SendText("between"); err != nil {
			t.Fatal(err)
		}
		if err := c.sendDeferred(two, second); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range second.Conns {
		if claimed[c] {
			t.Fatal("a connection recorded twice: the second message's write was not left to the first run")
		}
	}
	flushDeferred(second)
	flushDeferred(first)
	want := []string{"1:one", "1:between", "1:two"}
	for i, cl := range clients {
		got := readFrames(t, cl, &wstest.Inflater{}, 3)
		for k := range want {
			if got[k] != want[k] {
				t.Fatalf("connection %d, frame %d: %q, want %q", i, k, got[k], want[k])
			}
		}
	}
	// The claim is given back right after the write the clients read.
	wstest.WaitFor(t, "every claim given back", func() bool {
		for _, c := range conns {
			if c.q.busy() {
				return false
			}
		}
		return true
	})
}
