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
	fn    func(fd uintptr) bool // built once: a fresh closure per read would allocate
	now   func(fd uintptr) bool // the same, never waiting (for the poller)
	again bool
}

func (s *sockReader) init(nc net.Conn, size int) {
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
		n, err := syscall.Read(int(fd), s.buf)
		switch err {
		case syscall.EAGAIN:
			bufpool.Put(s.buf)
			s.buf = nil
			return false // park on the poller, holding nothing
		case syscall.EINTR:
			return false
		}
		s.n, s.err = n, err
		return true
	}
	s.now = func(fd uintptr) bool {
		if s.buf == nil {
			s.buf = bufpool.Get(s.size)
			s.buf = s.buf[:cap(s.buf)]
		}
		for {
			n, err := syscall.Read(int(fd), s.buf)
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.EAGAIN {
				bufpool.Put(s.buf)
				s.buf = nil
				s.again = true
				return true
			}
			s.n, s.err = n, err
			return true
		}
	}
}

// usable reports whether read works on this connection.
func (s *sockReader) usable() bool { return s.rc != nil }

// read returns a pooled buffer holding n bytes read from the socket (the
// caller gives it back with bufpool.Put), or an error: io.EOF, the read
// deadline, or the socket's error.
func (s *sockReader) read() (buf []byte, n int, err error) {
	s.n, s.err = 0, nil
	if err := s.rc.Read(s.fn); err != nil {
		if s.buf != nil {
			bufpool.Put(s.buf)
			s.buf = nil
		}
		return nil, 0, err
	}
	buf, s.buf = s.buf, nil
	switch {
	case s.err != nil:
		bufpool.Put(buf)
		return nil, 0, os.NewSyscallError("read", s.err)
	case s.n == 0:
		bufpool.Put(buf)
		return nil, 0, io.EOF
	}
	return buf, s.n, nil
}

// readNow is read for the poller: it never waits, and reports again when
// the socket has nothing to read.
func (s *sockReader) readNow() (buf []byte, n int, err error, again bool) {
	s.n, s.err, s.again = 0, nil, false
	if err := s.rc.Read(s.now); err != nil {
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
	return buf[:cap(buf)], s.n, nil, false
}
