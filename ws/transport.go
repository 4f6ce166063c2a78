package ws

import (
	"net"
	"time"
)

// transport is the seam between a connection and the byte stream it runs
// on: what the engine needs, narrower than net.Conn (no SetDeadline). A
// TCP or Unix socket, a TLS connection, an HTTP/2 stream (RFC 8441, ws/server's
// stream), a client's socket and, on Linux, the bare descriptor of a TCP
// connection the poller has taken (rawSocket, socket_raw_linux.go, whose
// raw access the engine takes directly instead of through syscall.Conn)
// all fit it.
//
// The engine asks a transport for more through optional interfaces, and
// works without them:
//   - syscall.Conn on *net.TCPConn and *net.UnixConn: reads that hold no
//     buffer while the peer is silent (socket_unix.go), the non-blocking
//     writev and the epoll driver on Linux;
//   - CloseWrite() error: a half-close after failing the connection, so
//     that our close frame is not lost to a reset (closehandshake.go);
//   - the buffers writer that net.Buffers uses for one writev per flush,
//     or buffersWriter, the same for the engine's own transports.
//
// Read and Write are called by one goroutine at a time each; Close, the
// deadlines and the addresses by any.
type transport interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// SetReadDeadline and SetWriteDeadline are the only timers a
	// goroutine-driven connection has; a read or write past its deadline
	// fails with an error that wraps os.ErrDeadlineExceeded.
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
}

// buffersWriter writes all of bufs with as few system calls as it can,
// consuming what it wrote: the rawSocket (socket_raw_linux.go) is one.
type buffersWriter interface {
	writeBuffers(bufs *net.Buffers) (int64, error)
}

// pendingTransport stands in for the transport while the opening handshake
// is being decided: it has the addresses and nothing to read or write.
type pendingTransport struct{ local, remote net.Addr }

func (pendingTransport) Read([]byte) (int, error)         { return 0, ErrNotEstablished }
func (pendingTransport) Write([]byte) (int, error)        { return 0, ErrNotEstablished }
func (pendingTransport) SetReadDeadline(time.Time) error  { return nil }
func (pendingTransport) SetWriteDeadline(time.Time) error { return nil }
func (pendingTransport) Close() error                     { return nil }
func (t pendingTransport) LocalAddr() net.Addr            { return orNoAddr(t.local) }
func (t pendingTransport) RemoteAddr() net.Addr           { return orNoAddr(t.remote) }

// noAddr is the address of a pending connection whose address is unknown
// (a server mounted where the request carries none).
type noAddr struct{}

func (noAddr) Network() string { return "unknown" }
func (noAddr) String() string  { return "" }

func orNoAddr(a net.Addr) net.Addr {
	if a == nil {
		return noAddr{}
	}
	return a
}
