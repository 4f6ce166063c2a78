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
// socket no longer shows.
type sockReader struct {
	rc    syscall.RawConn
	size  int
	buf   []byte
	n     int
	err   error
	wait  bool                  // park on the runtime's poller when there is nothing to read
	again bool                  // there was nothing to read, and wait was false
	fn    func(fd uintptr) bool // built once: a fresh closure per read would allocate
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
	s.fn = func(fd uintptr) bool {
		if s.buf == nil {
			s.buf = bufpool.Get(s.size)
			s.buf = s.buf[:cap(s.buf)]
		}
		for {
			n, err := readNB(fd, s.buf)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				bufpool.Put(s.buf)
				s.buf = nil
				if s.wait {
					return false // park on the poller, holding nothing
				}
				s.again = true
				return true
			}
			s.n, s.err = n, nil
			if err != 0 {
				s.err = err
			}
			return true
		}
	}
}

// usable reports whether read works on this connection.
func (s *sockReader) usable() bool { return s.rc != nil }

// read returns a pooled buffer holding n bytes read from the socket (the
// caller gives it back with bufpool.Put), or an error: io.EOF, the read
// deadline, or the socket's error. It waits for the socket to be readable.
func (s *sockReader) read() (buf []byte, n int, err error) {
	buf, n, err, _ = s.readOnce(true)
	return buf, n, err
}

// readNow is read for the poller: it never waits, and reports again when
// the socket has nothing to read.
func (s *sockReader) readNow() (buf []byte, n int, err error, again bool) {
	return s.readOnce(false)
}

func (s *sockReader) readOnce(wait bool) (buf []byte, n int, err error, again bool) {
	s.n, s.err, s.wait, s.again = 0, nil, wait, false
	if err := s.rc.Read(s.fn); err != nil {
		if s.buf != nil {
			bufpool.Put(s.buf)
			s.buf = nil
		}
		return nil, 0, err, false
	}
	if s.again {
		return nil, 0, nil, true
	}
	buf, s.buf = s.buf, nil
	switch {
	case s.err != nil:
		bufpool.Put(buf)
		return nil, 0, os.NewSyscallError("read", s.err), false
	case s.n == 0:
		bufpool.Put(buf)
		return nil, 0, io.EOF, false
	}
	return buf, s.n, nil, false
}
