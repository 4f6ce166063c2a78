package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
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

// recorder collects what a client connection's listeners see.
type recorder struct {
	msgs   chan ws.Message // payloads copied
	pings  chan []byte
	closed chan closeEvent
}

type closeEvent struct {
	code   ws.CloseCode
	reason string
}

// listen installs the recorder's listeners on c.
func (r *recorder) listen(c *ws.Conn) {
	c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
		r.msgs <- ws.Message{Opcode: m.Opcode, Payload: append([]byte(nil), m.Payload...)}
	})
	c.OnPing(func(_ *ws.Conn, m *ws.Message) { r.pings <- append([]byte(nil), m.Payload...) })
	c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) { r.closed <- closeEvent{code, reason} })
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan ws.Message, 64), pings: make(chan []byte, 16), closed: make(chan closeEvent, 1)}
}

// message waits for the next message.
func (r *recorder) message(t *testing.T) ws.Message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(wstest.WaitTimeout):
		t.Fatal("no message arrived")
	}
	return ws.Message{}
}

// close waits for the close listener.
func (r *recorder) close(t *testing.T) closeEvent {
	t.Helper()
	select {
	case e := <-r.closed:
		return e
	case <-time.After(wstest.WaitTimeout):
		t.Fatal("the connection did not close")
	}
	return closeEvent{}
}

// dialRun dials url with cfg on a loop of its own, installs a recorder and
// runs the loop; the cleanup closes the connection and waits for the loop
// to return.
func dialRun(t *testing.T, url string, cfg *Config) (*ws.Conn, *recorder) {
	t.Helper()
	loop := ws.NewLoop()
	c, err := Dial(context.Background(), url, cfg, loop)
	if err != nil {
		t.Fatalf("Dial(%s): %v", url, err)
	}
	r := newRecorder()
	r.listen(c)
	done := make(chan struct{})
	go func() { loop.Run(); close(done) }()
	t.Cleanup(func() {
		c.Close(ws.CloseCode(1000), "")
		select {
		case <-done:
		case <-time.After(servertest.StopTimeout):
			t.Error("the client's loop did not return")
		}
	})
	return c, r
}

// startEcho runs this project's server on 127.0.0.1 with an echo of every
// message; setup may install more.
func startEcho(t *testing.T, cfg server.Config, setup func(*server.Server)) string {
	t.Helper()
	cfg.Locations = []server.Location{{Host: "127.0.0.1"}}
	r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(cfg, loop)
		if err != nil {
			return nil, err
		}
		s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
		})
		if setup != nil {
			setup(s)
		}
		return s, nil
	})
	return "ws://" + r.Addr + "/echo"
}

// peer is the server side of one connection to a hostile server.
type peer struct {
	nc  net.Conn
	br  *bufio.Reader
	req *http.Request
}

// hostile runs a raw TCP server on 127.0.0.1 that reads one upgrade
// request and hands the connection to serve; it returns the URL to dial.
// The cleanup closes the listener and the connection and waits for serve
// to return.
func hostile(t testing.TB, serve func(p *peer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, nc)
		mu.Unlock()
		nc.SetReadDeadline(time.Now().Add(wstest.WaitTimeout))
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		nc.SetReadDeadline(time.Time{})
		if err != nil {
			t.Errorf("hostile server: read the request: %v", err)
			nc.Close()
			return
		}
		serve(&peer{nc: nc, br: br, req: req})
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws://" + ln.Addr().String() + "/hostile"
}

// accept writes a valid 101 for the request, with the extra header lines
// (each ending in \r\n).
func (p *peer) accept(extra string) error {
	key := p.req.Header.Get("Sec-WebSocket-Key")
	_, err := fmt.Fprintf(p.nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
		handshake.AcceptKey(key), extra)
	return err
}

// write writes raw bytes.
func (p *peer) write(b []byte) error {
	_, err := p.nc.Write(b)
	return err
}

// serverFrame encodes an unmasked frame (RFC 6455 section 5.2), written
// here apart from ws/frame.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// clientFrame is a frame as the client sent it, unmasked.
type clientFrame struct {
	fin     bool
	op      byte
	masked  bool
	key     [4]byte
	payload []byte
}

// readFrame reads one frame the client sent.
func (p *peer) readFrame() (clientFrame, error) {
	p.nc.SetReadDeadline(time.Now().Add(wstest.WaitTimeout))
	defer p.nc.SetReadDeadline(time.Time{})
	var h [2]byte
	if _, err := io.ReadFull(p.br, h[:]); err != nil {
		return clientFrame{}, err
	}
	f := clientFrame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(p.br, ext[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(p.br, ext[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if f.masked {
		if _, err := io.ReadFull(p.br, f.key[:]); err != nil {
			return f, err
		}
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(p.br, f.payload); err != nil {
		return f, err
	}
	for i := range f.payload {
		f.payload[i] ^= f.key[i&3]
	}
	return f, nil
}

// expectClose reads frames until the client's close frame and returns its
// code.
func (p *peer) expectClose() (int, error) {
	for range 100 {
		f, err := p.readFrame()
		if err != nil {
			return 0, err
		}
		if f.op == 8 {
			if len(f.payload) < 2 {
				return 1005, nil
			}
			return int(binary.BigEndian.Uint16(f.payload)), nil
		}
	}
	return 0, fmt.Errorf("no close frame in 100 frames")
}

// isEOF reports whether the client ended the TCP connection within
// timeout.
func (p *peer) isEOF(timeout time.Duration) bool {
	p.nc.SetReadDeadline(time.Now().Add(timeout))
	defer p.nc.SetReadDeadline(time.Time{})
	_, err := io.Copy(io.Discard, p.br)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// contains reports whether the request's header field name holds want.
func headerHas(h http.Header, name, want string) bool {
	return strings.Contains(strings.Join(h.Values(name), ","), want)
}

// finishClose reads until the client's close frame, echoes it and closes
// the TCP connection, as a server ends a connection the client closes.
func (p *peer) finishClose() {
	if code, err := p.expectClose(); err == nil {
		p.write(serverFrame(true, 8, wstest.ClosePayload(code, "")))
	}
	p.nc.Close()
}
