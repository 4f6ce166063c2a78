package ws

import (
	"net"
	"syscall"
)

// readiness waits for a socket to become readable without holding a read
// buffer: it peeks one byte, and when there is none parks on the runtime
// poller. It works on plain TCP and Unix sockets; a TLS connection may hold
// decrypted bytes the socket no longer shows, so it is not used there.
type readiness struct {
	rc   syscall.RawConn
	peek [1]byte
	fn   func(fd uintptr) bool // built once: passing a fresh closure would allocate per wait
}

func (w *readiness) init(nc net.Conn) {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return
	}
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return
	}
	w.rc = rc
	w.fn = func(fd uintptr) bool {
		_, _, e := syscall.Recvfrom(int(fd), w.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return e != syscall.EAGAIN && e != syscall.EINTR
	}
}

// usable reports whether wait does anything on this connection.
func (w *readiness) usable() bool { return w.rc != nil }

// wait blocks until the socket has data, EOF or an error; it honours the
// read deadline.
func (w *readiness) wait() error { return w.rc.Read(w.fn) }
