package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"unievent.dev/internal/bufpool"
)

// extendedConnect is whether net/http's HTTP/2 server serves extended
// CONNECT (RFC 8441) in this process and advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL: it reads GODEBUG from the environment
// once, at init, for the substring http2xconnect=1 (Go 1.24 to 1.26 have
// no other switch), and so does this.
var extendedConnect = strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1")

// streamReadSize is how much of an HTTP/2 stream's body one read takes: an
// HTTP/2 DATA frame carries at most 16 KiB unless the peer raised
// SETTINGS_MAX_FRAME_SIZE (RFC 9113 section 4.2,
// https://www.rfc-editor.org/rfc/rfc9113#section-4.2).
const streamReadSize = 16 << 10

// streamQuietSize is the buffer a stream's pump reads with after a read
// that did not fill its buffer: the peer may then be silent for long, and
// an idle stream holds this much, not streamReadSize. A read that fills
// it says more is waiting: the next one takes a pooled streamReadSize
// buffer.
const streamQuietSize = 2 << 10

// stream is the transport of a WebSocket on an HTTP/2 extended CONNECT stream
// (RFC 8441 section 5, https://www.rfc-editor.org/rfc/rfc8441#section-5): it
// reads the request body and writes and flushes the ResponseWriter. The
// handler that owns the stream serves the connection and returns once Close
// was called, so stream never touches the ResponseWriter after Close returns.
//
// net/http's HTTP/2 read deadline ends the body for good, and its write
// deadline resets the stream even between writes, while the engine arms
// both as timers it moves. So stream keeps its own deadlines: a goroutine
// (pump) reads the body one chunk at a time and Read waits for it or for
// the read deadline; the write deadline is handed to net/http only for
// the length of one write.
//
// Read is called by the reading goroutine, Write by one writer at a time,
// Close and the deadlines by any goroutine.
type stream struct {
	w             http.ResponseWriter
	rc            *http.ResponseController
	body          io.ReadCloser
	local, remote net.Addr

	// wmu is held by a write, and taken by Close to wait for it.
	wmu      sync.Mutex
	headSent bool // under wmu: the 200 went out

	mu      sync.Mutex // guards the fields below
	closed  bool
	writing bool      // a write holds wmu and may use rc
	wdl     time.Time // write deadline

	rdl       streamDeadline
	chunks    chan streamRead // pump → Read
	next      chan struct{}   // Read → pump: buf is free again
	done      chan struct{}   // closed by Close
	closeOnce sync.Once

	// The reading goroutine's.
	pending []byte // read by the pump, not yet returned by Read
	rerr    error
	started bool // pump runs
}

type streamRead struct {
	p   []byte // the pump's buffer, the reader's until it signals next
	err error
}

func newStream(w http.ResponseWriter, r *http.Request, local, remote net.Addr) *stream {
	return &stream{
		w: w, rc: http.NewResponseController(w), body: r.Body,
		local: orUnknown(local), remote: orUnknown(remote),
		chunks: make(chan streamRead, 1), next: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// sendHeadLocked sends the 200 that accepts the stream, once; wmu is held. It
// goes out before the body is read: the client sends nothing before it (RFC
// 8441 section 5, https://www.rfc-editor.org/rfc/rfc8441#section-5), and
// net/http would hold it in its buffer until the first frame otherwise.
func (s *stream) sendHeadLocked() error {
	if s.headSent {
		return nil
	}
	s.headSent = true
	s.w.WriteHeader(http.StatusOK)
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("server: send the 200 of an HTTP/2 stream: %w", err)
	}
	return nil
}

func (s *stream) Read(p []byte) (int, error) {
	if len(s.pending) == 0 && s.rerr == nil {
		if !s.started {
			if err := s.start(); err != nil {
				s.rerr = err
				return 0, err
			}
		}
		select {
		case r := <-s.chunks:
			s.pending = r.p
			s.rerr = r.err
		case <-s.rdl.wait():
			return 0, fmt.Errorf("server: read an HTTP/2 stream: %w", os.ErrDeadlineExceeded)
		case <-s.done:
			return 0, net.ErrClosed
		}
	}
	if len(s.pending) == 0 {
		return 0, s.rerr
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	if len(s.pending) == 0 && s.rerr == nil {
		s.next <- struct{}{}
	}
	return n, nil
}

// start sends the 200 if no write did yet, and starts the pump.
func (s *stream) start() error {
	s.wmu.Lock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	err := net.ErrClosed
	if !closed {
		err = s.sendHeadLocked()
	}
	s.wmu.Unlock()
	if err != nil {
		return err
	}
	s.started = true
	go s.pump()
	return nil
}

// pump reads the body, one chunk at a time, until it ends or the stream
// is closed; net/http ends the body when the handler returns. It reads
// with a small buffer of its own while the peer is quiet and a pooled
// large one while reads fill their buffer. A large buffer is given back
// only once the reader is done with it (next), so one still held when the
// stream ends is left to the garbage collector.
func (s *stream) pump() {
	quiet := make([]byte, streamQuietSize)
	buf := quiet
	for {
		n, err := s.body.Read(buf)
		if n == 0 && err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			err = io.EOF
		}
		select {
		case s.chunks <- streamRead{buf[:n], err}:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
		select {
		case <-s.next:
		case <-s.done:
			return
		}
		switch full := n == len(buf); {
		case full && len(buf) < streamReadSize:
			buf = bufpool.Get(streamReadSize)[:streamReadSize]
		case !full && len(buf) == streamReadSize:
			bufpool.Put(buf)
			buf = quiet
		}
	}
}

func (s *stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, net.ErrClosed
	}
	s.writing = true
	dl := s.wdl
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.writing = false
		s.mu.Unlock()
	}()
	if err := s.sendHeadLocked(); err != nil {
		return 0, err
	}
	if !dl.IsZero() {
		if !time.Now().Before(dl) {
			return 0, fmt.Errorf("server: write an HTTP/2 stream: %w", os.ErrDeadlineExceeded)
		}
		s.rc.SetWriteDeadline(dl)
	}
	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	if !dl.IsZero() {
		s.rc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		if !dl.IsZero() && !time.Now().Before(dl) {
			err = fmt.Errorf("server: write an HTTP/2 stream: %w (%w)", os.ErrDeadlineExceeded, err)
		}
		return n, err
	}
	return n, nil
}

func (s *stream) SetReadDeadline(t time.Time) error {
	s.rdl.set(t)
	return nil
}

func (s *stream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wdl = t
	if s.writing && !s.closed {
		s.rc.SetWriteDeadline(t)
	}
	return nil
}

func (s *stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// Close ends the stream: a write under way is given up (net/http resets
// the stream), and the handler waiting on done returns, which ends the
// stream for net/http.
func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		if s.writing {
			s.rc.SetWriteDeadline(time.Now().Add(-time.Second))
		}
		s.mu.Unlock()
		s.wmu.Lock()
		s.wmu.Unlock()
		s.body.Close()
		close(s.done)
	})
	return nil
}

func (s *stream) LocalAddr() net.Addr  { return s.local }
func (s *stream) RemoteAddr() net.Addr { return s.remote }

// orUnknown stands in for an address net/http did not give.
func orUnknown(a net.Addr) net.Addr {
	if a == nil {
		return textAddr("")
	}
	return a
}

// streamDeadline is a deadline a blocked Read waits on: its channel is
// closed once the deadline has passed, and replaced when a deadline is set
// again after that.
type streamDeadline struct {
	mu    sync.Mutex
	timer *time.Timer
	gen   uint64
	c     chan struct{}
}

func (d *streamDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		d.c = make(chan struct{})
	}
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	expired := isClosed(d.c)
	if t.IsZero() {
		if expired {
			d.c = make(chan struct{})
		}
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		if !expired {
			close(d.c)
		}
		return
	}
	if expired {
		d.c = make(chan struct{})
	}
	gen, c := d.gen, d.c
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		if d.gen == gen {
			close(c)
		}
		d.mu.Unlock()
	})
}

// wait returns the channel closed when the deadline passes.
func (d *streamDeadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		d.c = make(chan struct{})
	}
	return d.c
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
