package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawH2 is an HTTP/2 client written frame by frame (RFC 9113,
// https://www.rfc-editor.org/rfc/rfc9113), for what net/http's client
// never does: leave out :path or :authority, send DATA before the
// server's answer, never give back flow-control window, open more streams
// than the server allows. It sends header blocks as HPACK literals without
// indexing (RFC 7541 section 6.2.2) and decodes of the server's only the
// :status, when it is the block's first field.
type rawH2 struct {
	tb  testing.TB
	nc  net.Conn
	wmu sync.Mutex

	mu       sync.Mutex
	streams  map[uint32]chan h2Frame // frames by stream; 0 gets GOAWAY
	settings map[uint16]uint32       // the server's
	err      error                   // why reading ended
	next     uint32                  // the next stream id

	// window reports whether DATA read on a stream is given back to the
	// server at once (WINDOW_UPDATE on the stream and the connection).
	window func(stream uint32) bool

	gotSettings chan struct{}
	done        chan struct{} // closed when reading ends
	closed      atomic.Bool   // by the test's cleanup
}

type h2Frame struct {
	typ, flags byte
	stream     uint32
	payload    []byte
}

const (
	h2FrameData         = 0x0
	h2FrameHeaders      = 0x1
	h2FrameRSTStream    = 0x3
	h2FrameSettings     = 0x4
	h2FramePing         = 0x6
	h2FrameGoAway       = 0x7
	h2FrameWindowUpdate = 0x8

	h2FlagEndStream  = 0x1
	h2FlagAck        = 0x1
	h2FlagEndHeaders = 0x4
	h2FlagPadded     = 0x8
	h2FlagPriority   = 0x20

	h2SettingMaxConcurrentStreams = 0x3
	h2SettingInitialWindowSize    = 0x4
	h2SettingEnableConnect        = 0x8

	h2ErrProtocol = 0x1
	h2ErrCancel   = 0x8
)

// dialRawH2 opens an HTTP/2 connection to addr (TLS trusting pool, ALPN
// h2), sends the preface with settings and waits for the server's
// SETTINGS, which must enable extended CONNECT.
func dialRawH2(tb testing.TB, addr string, pool *x509.CertPool, settings ...[2]uint32) *rawH2 {
	tb.Helper()
	// A nil pool trusts any certificate (the memory measurement's child
	// server makes its own).
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, InsecureSkipVerify: pool == nil, NextProtos: []string{"h2"}})
	if err != nil {
		tb.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		tb.Fatalf("ALPN chose %q, want h2", p)
	}
	c := &rawH2{
		tb: tb, nc: tc, streams: map[uint32]chan h2Frame{}, settings: map[uint16]uint32{},
		next: 1, window: func(uint32) bool { return true },
		gotSettings: make(chan struct{}), done: make(chan struct{}),
	}
	tb.Cleanup(func() {
		c.closed.Store(true)
		tc.Close()
		<-c.done
	})
	var p []byte
	for _, s := range settings {
		p = binary.BigEndian.AppendUint16(p, uint16(s[0]))
		p = binary.BigEndian.AppendUint32(p, s[1])
	}
	c.write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	c.frame(h2FrameSettings, 0, 0, p)
	go c.read()
	select {
	case <-c.gotSettings:
	case <-c.done:
		tb.Fatalf("no SETTINGS from the server: %v", c.err)
	case <-time.After(wait):
		tb.Fatal("no SETTINGS from the server")
	}
	if v := c.setting(h2SettingEnableConnect); v != 1 {
		tb.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d, want 1", v)
	}
	return c
}

func (c *rawH2) setting(id uint16) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settings[id]
}

func (c *rawH2) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(wait))
	if _, err := c.nc.Write(b); err != nil && !c.closed.Load() {
		c.tb.Errorf("raw HTTP/2 write: %v", err)
	}
}

// frame writes one frame.
func (c *rawH2) frame(typ, flags byte, stream uint32, payload []byte) {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	c.write(append(b, payload...))
}

func (c *rawH2) read() {
	defer close(c.done)
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
			c.end(err)
			return
		}
		f := h2Frame{typ: hdr[3], flags: hdr[4], stream: binary.BigEndian.Uint32(hdr[5:]) &^ (1 << 31)}
		f.payload = make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(c.nc, f.payload); err != nil {
			c.end(err)
			return
		}
		switch f.typ {
		case h2FrameSettings:
			if f.flags&h2FlagAck != 0 {
				continue
			}
			c.mu.Lock()
			for p := f.payload; len(p) >= 6; p = p[6:] {
				c.settings[binary.BigEndian.Uint16(p)] = binary.BigEndian.Uint32(p[2:])
			}
			c.mu.Unlock()
			c.frame(h2FrameSettings, h2FlagAck, 0, nil)
			select {
			case <-c.gotSettings:
			default:
				close(c.gotSettings)
			}
			continue
		case h2FramePing:
			if f.flags&h2FlagAck == 0 {
				c.frame(h2FramePing, h2FlagAck, 0, f.payload)
			}
			continue
		case h2FrameWindowUpdate:
			continue
		case h2FrameData:
			if len(f.payload) > 0 && c.window(f.stream) {
				inc := binary.BigEndian.AppendUint32(nil, uint32(len(f.payload)))
				c.frame(h2FrameWindowUpdate, 0, 0, inc)
				c.frame(h2FrameWindowUpdate, 0, f.stream, inc)
			}
		case h2FrameGoAway:
			f.stream = 0
		}
		select {
		case c.stream(f.stream) <- f:
		default:
			c.end(fmt.Errorf("more than %d frames unread on stream %d", cap(c.stream(f.stream)), f.stream))
			return
		}
	}
}

func (c *rawH2) end(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// stream returns the queue of frames read for stream id.
func (c *rawH2) stream(id uint32) chan h2Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.streams[id]
	if ch == nil {
		ch = make(chan h2Frame, 256)
		c.streams[id] = ch
	}
	return ch
}

// expect returns the next frame of stream id.
func (c *rawH2) expect(id uint32, timeout time.Duration) (h2Frame, error) {
	select {
	case f := <-c.stream(id):
		return f, nil
	case <-time.After(timeout):
		return h2Frame{}, fmt.Errorf("stream %d: nothing from the server in %v", id, timeout)
	case <-c.done:
		select {
		case f := <-c.stream(id):
			return f, nil
		default:
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return h2Frame{}, fmt.Errorf("stream %d: the connection ended: %v", id, c.err)
	}
}

// open sends a request header block on a new stream and returns its id.
// fields are name, value pairs, pseudo-header fields first.
func (c *rawH2) open(endStream bool, fields ...string) uint32 {
	c.mu.Lock()
	id := c.next
	c.next += 2
	c.mu.Unlock()
	c.stream(id)
	c.frame(h2FrameHeaders, c.headersFlags(endStream), id, hpackLiterals(fields...))
	return id
}

func (c *rawH2) headersFlags(endStream bool) byte {
	if endStream {
		return h2FlagEndHeaders | h2FlagEndStream
	}
	return h2FlagEndHeaders
}

// websocketFields are the fields of an extended CONNECT for a WebSocket
// to "/" at authority, with extra fields after them.
func websocketFields(authority string, extra ...string) []string {
	return websocketFieldsAt("/", authority, extra...)
}

// websocketFieldsAt is websocketFields for path.
func websocketFieldsAt(path, authority string, extra ...string) []string {
	return append([]string{
		":method", "CONNECT", ":protocol", "websocket", ":scheme", "https",
		":path", path, ":authority", authority, "sec-websocket-version", "13",
	}, extra...)
}

// without returns fields without the field named name.
func without(fields []string, name string) []string {
	var out []string
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] != name {
			out = append(out, fields[i], fields[i+1])
		}
	}
	return out
}

// status reads the response header block of stream id and returns its
// :status, or the RST_STREAM error code that came instead (reset true).
func (c *rawH2) status(id uint32) (status int, reset bool, code uint32, err error) {
	f, err := c.expect(id, wait)
	if err != nil {
		return 0, false, 0, err
	}
	switch f.typ {
	case h2FrameRSTStream:
		return 0, true, binary.BigEndian.Uint32(f.payload), nil
	case h2FrameHeaders:
		s, err := decodeStatus(f)
		return s, false, 0, err
	case h2FrameGoAway:
		return 0, false, 0, fmt.Errorf("GOAWAY, error code %d", binary.BigEndian.Uint32(f.payload[4:]))
	}
	return 0, false, 0, fmt.Errorf("stream %d: frame type %d before the response", id, f.typ)
}

// hpackLiterals encodes name, value pairs as literal header fields without
// indexing, with new names and no Huffman coding (RFC 7541 section
// 6.2.2, https://www.rfc-editor.org/rfc/rfc7541#section-6.2.2).
func hpackLiterals(fields ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(fields); i += 2 {
		b = append(b, 0x00)
		b = hpackString(b, fields[i])
		b = hpackString(b, fields[i+1])
	}
	return b
}

func hpackString(b []byte, s string) []byte {
	return append(hpackInt(b, 0, 7, len(s)), s...)
}

// hpackInt appends v with an n-bit prefix (RFC 7541 section 5.1).
func hpackInt(b []byte, first byte, n uint, v int) []byte {
	limit := 1<<n - 1
	if v < limit {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(limit))
	for v -= limit; v >= 128; v /= 128 {
		b = append(b, byte(v%128+128))
	}
	return append(b, byte(v))
}

// decodeStatus decodes the :status of a response header block whose first
// field is :status (net/http's server writes it first): indexed from the
// static table, or a literal with a static :status name (indices 8 to 14)
// and a value without Huffman coding (RFC 7541 appendix A).
func decodeStatus(f h2Frame) (int, error) {
	p := f.payload
	if f.flags&h2FlagPadded != 0 {
		p = p[1 : len(p)-int(p[0])]
	}
	if f.flags&h2FlagPriority != 0 {
		p = p[5:]
	}
	for len(p) > 0 && p[0]&0xe0 == 0x20 { // dynamic table size updates
		p = p[1:]
	}
	if len(p) == 0 {
		return 0, errors.New("empty header block")
	}
	static := map[byte]int{8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}
	if p[0]&0x80 != 0 {
		if s, ok := static[p[0]&0x7f]; ok {
			return s, nil
		}
		return 0, fmt.Errorf("header block starts with indexed field %d, not a static :status", p[0]&0x7f)
	}
	var name byte
	switch {
	case p[0]&0xc0 == 0x40:
		name = p[0] & 0x3f
	case p[0]&0xf0 == 0x00 || p[0]&0xf0 == 0x10:
		name = p[0] & 0x0f
	}
	if name < 8 || name > 14 || len(p) < 2 || p[1]&0x80 != 0 || len(p) < 2+int(p[1]) {
		return 0, fmt.Errorf("header block starts with % x, not a plain :status", p[:min(len(p), 8)])
	}
	var s int
	_, err := fmt.Sscanf(string(p[2:2+int(p[1])]), "%d", &s)
	return s, err
}

// accept opens a WebSocket stream with fields and returns it once the
// server answered 200.
func (c *rawH2) accept(fields ...string) *rawStream {
	c.tb.Helper()
	id := c.open(false, fields...)
	status, reset, code, err := c.status(id)
	if err != nil || reset || status != 200 {
		c.tb.Fatalf("stream %d: status %d, reset %v (code %d), %v; want 200", id, status, reset, code, err)
	}
	return c.rawStream(id)
}

// rawStream returns stream id as a net.Conn: Read returns its DATA,
// io.EOF after END_STREAM and an error after RST_STREAM; Write sends DATA.
func (c *rawH2) rawStream(id uint32) *rawStream {
	return &rawStream{c: c, id: id}
}

type rawStream struct {
	c       *rawH2
	id      uint32
	rdl     streamDeadline
	pending []byte
	rerr    error
}

// errStreamReset is what a rawStream's Read returns after RST_STREAM.
type errStreamReset uint32

func (e errStreamReset) Error() string { return fmt.Sprintf("stream reset, error code %d", uint32(e)) }

func (s *rawStream) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.rerr != nil {
			return 0, s.rerr
		}
		select {
		case f := <-s.c.stream(s.id):
			switch f.typ {
			case h2FrameData:
				s.pending = f.payload
				if f.flags&h2FlagEndStream != 0 {
					s.rerr = io.EOF
				}
			case h2FrameRSTStream:
				s.rerr = errStreamReset(binary.BigEndian.Uint32(f.payload))
			case h2FrameHeaders:
				if f.flags&h2FlagEndStream != 0 {
					s.rerr = io.EOF // trailers
				}
			}
		case <-s.rdl.wait():
			return 0, os.ErrDeadlineExceeded
		case <-s.c.done:
			return 0, io.ErrUnexpectedEOF
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func (s *rawStream) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		s.c.frame(h2FrameData, 0, s.id, rest[:n])
		rest = rest[n:]
	}
	return len(p), nil
}

// Close ends the stream from this side (an empty DATA with END_STREAM).
func (s *rawStream) Close() error {
	s.c.frame(h2FrameData, h2FlagEndStream, s.id, nil)
	return nil
}

// reset resets the stream (RST_STREAM CANCEL).
func (s *rawStream) reset() {
	s.c.frame(h2FrameRSTStream, 0, s.id, binary.BigEndian.AppendUint32(nil, h2ErrCancel))
}

func (s *rawStream) LocalAddr() net.Addr                { return textAddr("client") }
func (s *rawStream) RemoteAddr() net.Addr               { return textAddr("server") }
func (s *rawStream) SetDeadline(t time.Time) error      { return s.SetReadDeadline(t) }
func (s *rawStream) SetReadDeadline(t time.Time) error  { s.rdl.set(t); return nil }
func (s *rawStream) SetWriteDeadline(t time.Time) error { return nil }
