package reliability

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// Item 8: connections that end abruptly. Each ends in the disconnection
// event with the right code (1006 where the peer sent no close frame), the
// registry no longer holds the connection, and no goroutine or file
// descriptor is left behind.
func TestAbruptEndings(t *testing.T) {
	req, _ := wstest.Request("x", "/", nil)
	partialFrame := wstest.AppendFrame(nil, true, 0, 2, make([]byte, 1000))[:20]
	cases := []struct {
		name string
		cfg  func(*server.Config)
		// run does the client's part; it returns the sockets it leaves
		// open on purpose (counted in the file descriptors).
		run func(t *testing.T, h *harness) int
		// code is the close event expected, 0 for none (the upgrade
		// never completed).
		code ws.CloseCode
	}{
		{"TCP reset in the middle of a frame", nil, func(t *testing.T, h *harness) int {
			c := h.dial("/", nil)
			c.Write(partialFrame)
			wstest.WaitFor(t, "the server reading the partial frame", func() bool { return h.bytesRead() >= uint64(len(partialFrame)) })
			c.Conn.(*net.TCPConn).SetLinger(0)
			c.Close()
			return 0
		}, frame.CloseAbnormal},
		{"EOF in the middle of a frame", nil, func(t *testing.T, h *harness) int {
			c := h.dial("/", nil)
			c.Write(partialFrame)
			c.Conn.(*net.TCPConn).CloseWrite()
			if err := c.ExpectEOF(wait); err != nil {
				t.Fatal(err)
			}
			c.Close()
			return 0
		}, frame.CloseAbnormal},
		{"a peer that vanishes without FIN, found by the keepalive", func(c *server.Config) {
			c.PingInterval = 200 * time.Millisecond
			c.PongTimeout = 300 * time.Millisecond
		}, func(t *testing.T, h *harness) int {
			bh := newBlackhole(t, h.addr)
			c, err := wstest.Dial(bh.addr(), "/", nil)
			if err != nil {
				t.Fatal(err)
			}
			c.WriteMessage(1, []byte("hello"))
			if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != "hello" {
				t.Fatalf("through the proxy: %q %v", p, err)
			}
			bh.vanish() // from now on the server's packets go nowhere
			c.Close()
			h.ev.waitDisconnections(t, 1, wait)
			bh.wait()
			return 0
		}, frame.CloseAbnormal},
		{"a close frame, then silence", func(c *server.Config) { c.CloseTimeout = 300 * time.Millisecond }, func(t *testing.T, h *harness) int {
			c := h.dial("/", nil)
			c.WriteFrame(true, 8, wstest.ClosePayload(1000, "bye"))
			if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
				t.Fatalf("close answer %d %v", code, err)
			}
			// The client neither reads on nor closes its socket: the
			// server lingers for its FIN until the close timeout.
			h.ev.waitDisconnections(t, 1, wait)
			return 1
		}, frame.CloseNormal},
		{"the server's close frame, then silence", func(c *server.Config) { c.CloseTimeout = 300 * time.Millisecond }, func(t *testing.T, h *harness) int {
			c := h.dial("/", nil)
			c.WriteMessage(1, []byte("close me"))
			if code, _, err := c.ExpectClose(wait); err != nil || code != 1000 {
				t.Fatalf("close %d %v", code, err)
			}
			h.ev.waitDisconnections(t, 1, wait)
			if err := c.ExpectEOF(wait); err != nil {
				t.Fatal(err)
			}
			return 1
		}, frame.CloseAbnormal},
		{"EOF in the middle of the handshake", nil, func(t *testing.T, h *harness) int {
			nc := dialTCP(t, h.addr)
			nc.Write(req[:len(req)/2])
			nc.(*net.TCPConn).CloseWrite()
			nc.SetReadDeadline(time.Now().Add(wait))
			io.Copy(io.Discard, nc)
			nc.Close()
			return 0
		}, 0},
		{"TCP reset in the middle of the handshake", nil, func(t *testing.T, h *harness) int {
			nc := dialTCP(t, h.addr)
			nc.Write(req[:len(req)/2])
			wstest.WaitFor(t, "the server reading half the request", func() bool { return readByPeer(nc) })
			nc.(*net.TCPConn).SetLinger(0)
			nc.Close()
			return 0
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := servertest.TakeBaseline()
			var cfg server.Config
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			h := start(t, cfg, func(s *server.Server) {
				s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
					c.OnMessage(func(c *ws.Conn, m *ws.Message) {
						if string(m.Payload) == "close me" {
							c.Close(frame.CloseNormal, "")
							return
						}
						c.Send(m.Opcode, m.Payload)
					})
				})
			})
			open := tc.run(t, h)
			if tc.code != 0 {
				h.ev.waitDisconnections(t, 1, wait)
				if codes := h.ev.checkOnce(t, 0); codes[tc.code] != 1 {
					t.Errorf("close events %v, want one with %v", codes, tc.code)
				}
			} else if wstest.Poll(100*time.Millisecond, func() bool { return h.ev.connections() != 0 }) {
				t.Errorf("%d connection events for an upgrade that never completed", h.ev.connections())
			}
			if n := h.s.Len(); n != 0 {
				t.Errorf("%d connections still registered", n)
			}
			// With the server still running: its per-connection goroutines
			// and sockets are gone (the client's own, if it keeps one
			// open, is counted).
			running := base
			running.Goroutines += 3 // the listener, the HTTP front end, the loop
			running.FDs++           // the listening socket
			running.Check(t, open, wait)
			h.stop()
			base.Check(t, open, wait)
		})
	}
}

// blackhole is a TCP proxy to a server that, once the peer has vanished,
// forwards nothing in either direction and swallows what the server
// sends, without closing the server's connection: to the server, a peer
// whose network went away without a FIN or a reset.
type blackhole struct {
	ln     net.Listener
	gone   atomic.Bool
	client net.Conn
	wg     sync.WaitGroup
	ready  chan struct{}
}

func newBlackhole(t testing.TB, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, ready: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer ln.Close()
		cl, err := ln.Accept()
		if err != nil {
			return
		}
		srv, err := net.Dial("tcp", target)
		if err != nil {
			cl.Close()
			return
		}
		b.client = cl
		close(b.ready)
		b.wg.Add(1)
		go func() { // client to server, until the client vanishes
			defer b.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := cl.Read(buf)
				if err != nil || b.gone.Load() {
					return
				}
				srv.Write(buf[:n])
			}
		}()
		// Server to client; after the vanishing, into the void, until
		// the server closes.
		buf := make([]byte, 32<<10)
		for {
			n, err := srv.Read(buf)
			if err != nil {
				srv.Close()
				cl.Close()
				return
			}
			if !b.gone.Load() {
				cl.Write(buf[:n])
			}
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return b
}

func (b *blackhole) addr() string { return b.ln.Addr().String() }

// vanish cuts the peer off.
func (b *blackhole) vanish() {
	<-b.ready
	b.gone.Store(true)
	b.client.Close()
}

// wait returns once the server has closed its side and the proxy is done.
func (b *blackhole) wait() { b.wg.Wait() }
