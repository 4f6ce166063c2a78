package server

import (
	"net"
	"syscall"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/handshake"
)

// Location.Nagle is the one switch: its zero value leaves TCP_NODELAY on,
// true turns it off.
func TestNagleSwitch(t *testing.T) {
	nodelay := make(chan int, 2)
	h := start(t, Config{Locations: []Location{{Host: "127.0.0.1"}, {Host: "127.0.0.1", Nagle: true}}}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) {
			v := -1
			if rc, err := c.NetConn().(*net.TCPConn).SyscallConn(); err == nil {
				rc.Control(func(fd uintptr) { v, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY) })
			}
			nodelay <- v
		})
	})
	for i, want := range []int{1, 0} {
		c, err := wstest.Dial(h.s.Listeners()[i].Addr().String(), "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := <-nodelay; (got != 0) != (want != 0) {
			t.Errorf("location %d (Nagle %v): TCP_NODELAY %d", i, i == 1, got)
		}
	}
}
