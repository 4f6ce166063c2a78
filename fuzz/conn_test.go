package fuzz

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// Timeouts of the server FuzzConn talks to: short, so that an input that
// leaves the connection waiting (a frame cut short, a message never
// finished) still ends quickly, through the same code as in production.
const (
	connIdle    = 10 * time.Millisecond
	connClose   = 10 * time.Millisecond
	connMessage = 20 * time.Millisecond
	// connLimit is how long one input may take from dial to the server's
	// disconnection event; beyond it the connection hangs. Every path
	// ends within connIdle + connClose plus scheduling.
	connLimit = 10 * time.Second
)

// Mode bits of a FuzzConn input.
const (
	connDeflate   = 1 << iota // offer permessage-deflate
	connPipeline              // send the bytes in the same write as the upgrade request
	connCloseTail             // send a valid close frame after the bytes
	connAnswer                // answer the server's close frame
	// Bits 4 to 6 pick the size of the writes the bytes go out in: 0 for
	// one write, n for writes of 2^(n-1) bytes.
	connChunk = 7 << 4
	// connFIN half-closes the client's side once its bytes are out: the
	// server may then end without a close frame (the peer left), and
	// need not wait for its idle and close timeouts.
	connFIN = 1 << 7
)

// connServer is the server every input of a FuzzConn worker talks to.
type connServer struct {
	s    *server.Server
	addr string

	mu    sync.Mutex
	conns map[string]*connRecord // by the X-Fuzz-Id of the request
}

// connRecord is what the server reported about one input's connection.
type connRecord struct {
	id           uint64
	closes       atomic.Int32
	code         atomic.Int32 // of the close event
	stillThere   atomic.Bool  // registered when the disconnection event ran
	disconnected chan struct{}
}

func startConnServer(tb testing.TB) *connServer {
	var cfg server.Config
	cfg.Locations = []server.Location{{Host: "127.0.0.1"}}
	cfg.MaxMessageSize = 4 << 10
	cfg.MaxFragments = 8
	cfg.SendQueueLimit = 16 << 10
	cfg.Deflate = &permessagedeflate.Config{Threshold: 64}
	cfg.IdleTimeout = connIdle
	cfg.CloseTimeout = connClose
	cfg.MessageTimeout = connMessage
	cfg.PingInterval = -1 // a dropped peer has no close frame: kept out of this oracle
	cfg.HTTP.HandshakeTimeout = time.Second
	cs := &connServer{conns: map[string]*connRecord{}}
	r := servertest.Start(tb, servertest.Options{NoLeakCheck: true}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(cfg, loop)
		if err == nil {
			cs.install(s)
		}
		return s, err
	})
	cs.s, cs.addr = r.Server, r.Addr
	return cs
}

// install records every connection's events in cs.
func (cs *connServer) install(s *server.Server) {
	s.OnConnection(func(s *server.Server, c *server.Conn, req *handshake.Request) {
		cs.mu.Lock()
		rec := cs.conns[req.HTTP.Header.Get("X-Fuzz-Id")]
		cs.mu.Unlock()
		if rec == nil {
			panic("fuzz: connection without a record")
		}
		rec.id = c.ID()
		// As examples/echo does: a reassembled or inflated payload
		// passes to the send queue without a copy.
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.SendMessage(m) })
		c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) {
			rec.code.Store(int32(code))
			rec.closes.Add(1)
		})
	})
	s.OnDisconnection(func(s *server.Server, c *server.Conn) {
		cs.mu.Lock()
		var rec *connRecord
		for _, r := range cs.conns {
			if r.id == c.ID() {
				rec = r
			}
		}
		cs.mu.Unlock()
		if rec == nil {
			panic("fuzz: disconnection of an unknown connection")
		}
		rec.stillThere.Store(s.Connection(c.ID()) != nil)
		close(rec.disconnected)
	})
}

var connSeq atomic.Uint64

// connKey masks the seed frames: reproducible corpus entries.
var connKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func connFrame(dst []byte, fin bool, rsv, op byte, payload []byte) []byte {
	return wstest.AppendFrameKey(dst, fin, rsv, op, connKey, payload)
}

func connSeeds() []struct {
	mode byte
	data []byte
} {
	long := make([]byte, 300)
	for i := range long {
		long[i] = byte('a' + i%26)
	}
	var frag []byte
	frag = connFrame(frag, false, 0, 1, []byte("Hel"))
	frag = connFrame(frag, true, 0, 9, []byte("ping"))
	frag = connFrame(frag, true, 0, 0, []byte("lo"))
	var empties []byte
	empties = connFrame(empties, false, 0, 2, nil)
	for range 10 {
		empties = connFrame(empties, false, 0, 0, nil)
	}
	var pings []byte
	for range 50 {
		pings = connFrame(pings, true, 0, 9, long[:125])
	}
	tooLong := []byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0}
	tooLong = append(tooLong, connKey[:]...)
	return []struct {
		mode byte
		data []byte
	}{
		{connCloseTail, connFrame(nil, true, 0, 1, []byte("hello"))},
		{connCloseTail | connPipeline, connFrame(connFrame(nil, true, 0, 2, long), true, 0, 1, []byte("κόσμε"))},
		{connCloseTail | 2<<4, frag},
		{connAnswer, connFrame(nil, true, 0, 1, []byte{'o', 'k', 0xff})},
		{connAnswer | connCloseTail, connFrame(nil, true, 0, 8, wstest.ClosePayload(4000, "bye"))},
		{0, connFrame(nil, true, 0, 8, wstest.ClosePayload(1005, ""))},
		{0, connFrame(nil, true, 0, 8, []byte{3})},
		{connAnswer, connFrame(nil, true, 0, 3, nil)},
		{connAnswer, connFrame(nil, true, 4, 1, []byte("rsv1 without the extension"))},
		{connDeflate | connCloseTail, connFrame(nil, true, 4, 1, wstest.Deflate(long))},
		{connDeflate, connFrame(nil, true, 4, 2, []byte{0xff, 0xff, 0xff})},
		{connDeflate | connAnswer, connFrame(nil, true, 4, 2, wstest.Deflate(make([]byte, 64<<10)))},
		{connAnswer, empties},
		{0, connFrame(nil, true, 0, 2, make([]byte, 5000))},
		{connAnswer, tooLong},
		{0, connFrame(nil, true, 0, 1, long)[:20]}, // cut short: the idle timeout ends it
		{connCloseTail, connFrame(nil, false, 0, 1, []byte("never finished"))},
		{connAnswer | 1<<4, pings},
		{0, []byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}}, // unmasked
		{connCloseTail, nil},
		{connFIN, connFrame(nil, true, 0, 1, long)[:20]}, // cut short, and the client leaves
		{connFIN | connCloseTail, connFrame(nil, true, 0, 2, []byte("bye"))},
	}
}

// FuzzConn sends arbitrary bytes from a client into a real server
// connection on 127.0.0.1, after a valid opening handshake (or in the same
// write as it), and checks that the connection always ends in a defined
// close: the server sends well-formed frames and then a close frame with
// a code valid on the wire, and then closes TCP (at once, or after the
// close timeout); the close and disconnection events fire once each and
// the registry lets the connection go. A panic anywhere in the server
// ends the fuzzing process; an input that leaves the connection open
// past connLimit is a hang.
func FuzzConn(f *testing.F) {
	for _, s := range connSeeds() {
		f.Add(s.mode, s.data)
	}
	cs := startConnServer(f)
	f.Fuzz(func(t *testing.T, mode byte, data []byte) { cs.run(t, mode, data) })
}

func (cs *connServer) run(t *testing.T, mode byte, data []byte) {
	key := strconv.FormatUint(connSeq.Add(1), 10)
	rec := &connRecord{disconnected: make(chan struct{})}
	cs.mu.Lock()
	cs.conns[key] = rec
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		delete(cs.conns, key)
		cs.mu.Unlock()
	}()
	deadline := time.Now().Add(connLimit)

	nc, err := net.DialTimeout("tcp", cs.addr, connLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hdr := http.Header{"X-Fuzz-Id": {key}}
	if mode&connDeflate != 0 {
		hdr.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	}
	req, _ := wstest.Request(cs.addr, "/", hdr)
	var wmu sync.Mutex
	var firstWrite, lastWrite time.Time // of the frames, after the request
	write := func(p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		nc.SetWriteDeadline(deadline)
		if firstWrite.IsZero() && !lastWrite.IsZero() {
			firstWrite = time.Now()
		}
		_, err := nc.Write(p)
		lastWrite = time.Now()
		return err
	}
	rest := data
	if mode&connPipeline != 0 {
		req = append(req, data...)
		rest = nil
	}
	if err := write(req); err != nil {
		t.Fatal(err)
	}

	// The reader checks everything the server sends until it closes.
	type outcome struct {
		err       error
		sawClose  bool
		closeCode int
		end       time.Time // when the connection ended
	}
	res := make(chan outcome, 1)
	go func() {
		cl, err := wstest.ReadHandshake(nc, deadline)
		if err != nil {
			res <- outcome{err: errors.New("handshake: " + err.Error())}
			return
		}
		deflate := cl.Resp.Header.Get("Sec-WebSocket-Extensions") != ""
		var o outcome
		for {
			fr, err := cl.ReadFrame(time.Until(deadline))
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					o.err = errors.New("the connection is still open after " + connLimit.String())
				} else if !isEnd(err) {
					o.err = err // a malformed frame from the server
				}
				o.end = time.Now()
				res <- o
				return
			}
			if o.sawClose {
				o.err = errors.New("a frame after the close frame")
				res <- o
				return
			}
			if err := checkServerFrame(fr, deflate); err != nil {
				o.err = err
				res <- o
				return
			}
			if fr.Opcode == 8 {
				o.sawClose = true
				o.closeCode = 1005
				if len(fr.Payload) >= 2 {
					o.closeCode = int(fr.Payload[0])<<8 | int(fr.Payload[1])
				}
				if mode&connAnswer != 0 && mode&connFIN == 0 {
					write(wstest.AppendFrameKey(nil, true, 0, 8, connKey, fr.Payload[:min(len(fr.Payload), 2)]))
				}
			}
		}
	}()

	if len(rest) > 0 {
		size := len(rest)
		if n := mode & connChunk >> 4; n > 0 {
			size = 1 << (n - 1)
		}
		for len(rest) > 0 {
			n := min(size, len(rest))
			if write(rest[:n]) != nil {
				break // the server closed: the reader has the rest
			}
			rest = rest[n:]
		}
	}
	if mode&connCloseTail != 0 {
		write(wstest.AppendFrameKey(nil, true, 0, 8, connKey, wstest.ClosePayload(1000, "")))
	}
	if mode&connFIN != 0 {
		wmu.Lock()
		nc.(*net.TCPConn).CloseWrite()
		wmu.Unlock()
	}

	o := <-res
	if o.err != nil {
		t.Fatal(o.err)
	}
	wmu.Lock()
	quiet := o.end.Sub(lastWrite)
	sending := !lastWrite.Before(o.end) && !firstWrite.IsZero() && o.end.Sub(firstWrite) >= connClose
	wmu.Unlock()
	// Without a close frame, only the client's FIN or a close handshake
	// that timed out may end the connection: the server closed (an idle
	// timeout), could not get its close frame out within the close
	// timeout (a loaded machine), and dropped the connection. Or the
	// client was still sending when the server, having failed the
	// connection, had lingered its close timeout and closed: the bytes
	// arriving after that turn the close into a reset, which destroys a
	// close frame the client has not read yet (on a loaded machine, with
	// the client writing its input in small chunks). That cannot happen
	// within the close timeout of the client's first frame.
	if !o.sawClose && mode&connFIN == 0 && quiet < connIdle+connClose && !sending {
		t.Fatalf("the server closed TCP without a close frame %v after the last byte it was sent", quiet)
	}
	select {
	case <-rec.disconnected:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("no disconnection event %v after the dial (close code %d)", connLimit, o.closeCode)
	}
	if n := rec.closes.Load(); n != 1 {
		t.Fatalf("%d close events, want 1", n)
	}
	if code := ws.CloseCode(rec.code.Load()); !o.sawClose && code != frame.CloseAbnormal {
		t.Fatalf("no close frame arrived, yet the close event reports %v", code)
	}
	if rec.stillThere.Load() {
		t.Fatal("the connection was still registered at its disconnection event")
	}
}

// checkServerFrame checks one frame the server sent (wstest has checked
// the mask bit and the length encoding).
func checkServerFrame(fr wstest.Frame, deflate bool) error {
	if fr.Rsv2 || fr.Rsv3 {
		return errors.New("RSV2 or RSV3 set by the server")
	}
	switch fr.Opcode {
	case 1, 2:
		if !fr.Fin {
			return errors.New("the server fragmented an echo")
		}
		if fr.Rsv1 && !deflate {
			return errors.New("RSV1 without permessage-deflate")
		}
		if fr.Opcode == 1 && !fr.Rsv1 && !utf8.Valid(fr.Payload) {
			return errors.New("the server sent invalid UTF-8 as text")
		}
	case 8, 10:
		if !fr.Fin || fr.Rsv1 || len(fr.Payload) > 125 {
			return errors.New("a malformed control frame")
		}
		if fr.Opcode == 8 && len(fr.Payload) > 0 {
			if len(fr.Payload) < 2 {
				return errors.New("a close payload of one byte")
			}
			code := frame.CloseCode(int(fr.Payload[0])<<8 | int(fr.Payload[1]))
			if !code.ValidOnWire() {
				return errors.New("close code " + strconv.Itoa(int(code)) + " is not valid on the wire")
			}
			if !utf8.Valid(fr.Payload[2:]) {
				return errors.New("a close reason that is not UTF-8")
			}
		}
	default:
		return errors.New("opcode " + strconv.Itoa(int(fr.Opcode)) + " from the server")
	}
	return nil
}

// isEnd reports whether err is the end of the TCP connection (EOF, or a
// reset once the server dropped it with unread input).
func isEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
