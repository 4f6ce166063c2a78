package ws

import (
	"net"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
)

// streamTransport has the methods of transport and nothing else: not a
// net.Conn, no SetDeadline, no CloseWrite, no raw socket.
type streamTransport struct{ nc net.Conn }

func (s streamTransport) Read(p []byte) (int, error)         { return s.nc.Read(p) }
func (s streamTransport) Write(p []byte) (int, error)        { return s.nc.Write(p) }
func (s streamTransport) SetReadDeadline(t time.Time) error  { return s.nc.SetReadDeadline(t) }
func (s streamTransport) SetWriteDeadline(t time.Time) error { return s.nc.SetWriteDeadline(t) }
func (s streamTransport) Close() error                       { return s.nc.Close() }
func (s streamTransport) LocalAddr() net.Addr                { return s.nc.LocalAddr() }
func (s streamTransport) RemoteAddr() net.Addr               { return s.nc.RemoteAddr() }

// A connection runs on any transport: messages both ways, the addresses,
// and the close handshake, with no net.Conn under it.
func TestConnOnATransportThatIsNotANetConn(t *testing.T) {
	srv, cli := tcpPair(t)
	closed := make(chan CloseCode, 1)
	c := newConn(streamTransport{srv}, &Config{}, connOptions{Loop: runningLoop(t), Role: frame.RoleServer, Preamble: []byte(fake101)})
	c.OnMessage(func(c *Conn, m *Message) { c.Send(m.Opcode, m.Payload) })
	c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
	c.start()
	wc, err := wstest.ReadHandshake(cli, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.NetConn() != nil {
		t.Error("NetConn is not nil on a transport that is not a net.Conn")
	}
	if c.RemoteAddr().String() != cli.LocalAddr().String() {
		t.Errorf("RemoteAddr %v, want %v", c.RemoteAddr(), cli.LocalAddr())
	}
	for _, msg := range []string{"one", "two"} {
		if err := wc.WriteMessage(byte(frame.OpText), []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if op, p, _, err := wc.ReadMessage(5 * time.Second); err != nil || frame.Opcode(op) != frame.OpText || string(p) != msg {
			t.Fatalf("echo: opcode %d %q %v, want %q", op, p, err, msg)
		}
	}
	if err := wc.WriteFrame(true, byte(frame.OpClose), wstest.ClosePayload(1000, "bye")); err != nil {
		t.Fatal(err)
	}
	if code, _, err := wc.ExpectClose(5 * time.Second); err != nil || code != 1000 {
		t.Fatalf("close %d %v, want the echo of 1000", code, err)
	}
	expectCloseEvent(t, closed, frame.CloseNormal, "the close handshake")
}
