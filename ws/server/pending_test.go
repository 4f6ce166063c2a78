package server

import (
	"errors"
	"net"
	"net/http"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// Inside the handshake callback the connection is not established: every
// method of Conn is safe to call there; a send or a close says why it
// cannot be done, the addresses and the request are known, and a
// listener set there serves the connection once it is established.
func TestConnInsideTheHandshakeCallback(t *testing.T) {
	type seen struct {
		errs           []error
		remote, local  string
		buffered       int
		protocol       string
		netConnMissing bool
	}
	got := make(chan seen, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnHandshake(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
			got <- seen{
				errs: []error{
					c.SendText("too early"),
					c.SendBinary([]byte("too early")),
					c.SendPing(nil),
					c.Close(frame.CloseNormal, "too early"),
				},
				remote:         c.RemoteAddr().String(),
				local:          c.LocalAddr().String(),
				buffered:       c.BufferedAmount(),
				protocol:       c.Protocol(),
				netConnMissing: c.NetConn() == nil,
			}
			_ = c.Stats()
			_ = c.Request()
		})
	})
	cl := h.dial(nil)
	g := <-got
	for i, err := range g.errs {
		if !errors.Is(err, ws.ErrNotEstablished) {
			t.Errorf("call %d inside the handshake callback: %v, want ws.ErrNotEstablished", i, err)
		}
	}
	if g.remote != cl.Conn.LocalAddr().String() {
		t.Errorf("RemoteAddr %q, want the client's %q", g.remote, cl.Conn.LocalAddr())
	}
	if _, _, err := net.SplitHostPort(g.local); err != nil || g.local != h.addr {
		t.Errorf("LocalAddr %q, want %q", g.local, h.addr)
	}
	if g.buffered != 0 || g.protocol != "" || !g.netConnMissing {
		t.Errorf("BufferedAmount %d, Protocol %q, NetConn nil %v", g.buffered, g.protocol, g.netConnMissing)
	}
	echoes(t, cl, "the listener set in the handshake callback")
}

// A connection refused in the handshake callback never opens: a send
// from another goroutine afterwards still says it is not established,
// and the listeners set in the callback never run.
func TestRefusedConnStaysUnestablished(t *testing.T) {
	refused := make(chan *Conn, 1)
	closeRan := make(chan struct{}, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnHandshake(func(s *Server, c *Conn, req *handshake.Request) {
			c.OnClose(func(*ws.Conn, ws.CloseCode, string) { closeRan <- struct{}{} })
			if err := c.SendAcceptError(http.StatusForbidden, "not here", nil); err != nil {
				t.Errorf("SendAcceptError: %v", err)
			}
			refused <- c
		})
	})
	nc := h.DialTCP()
	if cl, resp, err := wstest.Upgrade(nc, "/", nil); err != nil || cl != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("upgrade: %v, %v, want a 403", resp, err)
	}
	c := <-refused
	if err := c.SendText("after the refusal"); !errors.Is(err, ws.ErrNotEstablished) {
		t.Errorf("SendText after the refusal: %v, want ws.ErrNotEstablished", err)
	}
	if err := c.Close(frame.CloseNormal, ""); !errors.Is(err, ws.ErrNotEstablished) {
		t.Errorf("Close after the refusal: %v, want ws.ErrNotEstablished", err)
	}
	if h.s.Connection(c.ID()) != nil {
		t.Error("the refused connection is listed by the server")
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-closeRan:
		t.Error("a close listener of the refused connection ran")
	default:
	}
}
