//go:build unix

package ws

import (
	"io"
	"net"
	"os"
	"syscall"

	"unievent.dev/internal/bufpool"
)

// sockReader reads a plain socket without holding a buffer while the peer
// is silent: through the runtime poller's raw access it borrows a pooled
// buffer, reads without blocking, and when nothing is there gives the
// buffer back before parking. One read(2) per wake-up, as with net.Conn.
// It is not used for TLS, whose connection may hold decrypted bytes the
// socket no longer shows. A read in progress lives in the reading
// goroutine's sockRead (readScratch), not here: an idle connection holds
// only the socket's access and the buffer size.
type sockReader struct {
	rc   syscall.RawConn
	size int
}

// sockRead is one read of a sockReader in progress: the buffer it
// borrowed, what read(2) returned, and the closure the raw access runs,
// built once per sockRead (a fresh closure per read would allocate). The
// goroutine that reads owns it (readScratch) and lends it to each read.
type sockRead struct {
	size  int
	buf   []byte
	n     int
	err   error
	wait  bool // park on the runtime's poller when there is nothing to read
	again bool // there was nothing to read, and wait was false
	fn    func(fd uintptr) bool
}

func (s *sockReader) init(nc transport, size int) {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return
	}
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return
	}
	s.rc, s.size = rc, size
}

// fill is the raw access's read function: it reads into a buffer borrowed
// for the read, and gives it back when there is nothing to read.
func (x *sockRead) fill(fd uintptr) bool {
	if x.buf == nil {
		x.buf = bufpool.Get(x.size)
		x.buf = x.buf[:cap(x.buf)]
	}
	for {
		n, err := readNB(fd, x.buf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			bufpool.Put(x.buf)
			x.buf = nil
			if x.wait {
				return false // park on the poller, holding nothing
			}
			x.again = true
			return true
		}
		x.n, x.err = n, nil
		if err != 0 {
			x.err = err
		}
		return true
	}
}

// usable reports whether read works on this connection.
func (s *sockReader) usable() bool { return s.rc != nil }

// read returns a pooled buffer holding n bytes read from the socket (the
// caller gives it back with bufpool.Put), or an error: io.EOF, the read
// deadline, or the socket's error. It waits for the socket to be readable.
// x is the reading goroutine's.
func (s *sockReader) read(x *sockRead) (buf []byte, n int, err error) {
	buf, n, err, _ = s.readOnce(x, true)
	return buf, n, err
}

// readNow is read for the poller: it never waits, and reports again when
// the socket has nothing to read.
func (s *sockReader) readNow(x *sockRead) (buf []byte, n int, err error, again bool) {
	return s.readOnce(x, false)
}

func (s *sockReader) readOnce(x *sockRead, wait bool) (buf []byte, n int, err error, again bool) {
	if x.fn == nil {
		x.fn = x.fill
	}
	x.size, x.n, x.err, x.wait, x.again = s.size, 0, nil, wait, false
	if err := s.rc.Read(x.fn); err != nil {
		if x.buf != nil {
			bufpool.Put(x.buf)
			x.buf = nil
		}
		return nil, 0, err, false
	}
	if x.again {
		return nil, 0, nil, true
	}
	buf, x.buf = x.buf, nil
	switch {
	case x.err != nil:
		bufpool.Put(buf)
		return nil, 0, os.NewSyscallError("read", x.err), false
	case x.n == 0:
		bufpool.Put(buf)
		return nil, 0, io.EOF, false
	}
	return buf, x.n, nil, false
}
