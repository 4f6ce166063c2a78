// Package wstest is a WebSocket client for the project's tests. It parses
// the server's frames with its own small reader (not ws/frame), so a
// decoder bug cannot hide itself, and it can write anything, including the
// malformed frames the server must refuse.
package wstest

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"unievent.dev/ws/handshake"
)

// Frame is a frame as the server sent it.
type Frame struct {
	Fin              bool
	Rsv1, Rsv2, Rsv3 bool
	Opcode           byte
	Payload          []byte
}

// Client is one test connection.
type Client struct {
	Conn net.Conn
	Resp *http.Response
	br   *bufio.Reader
}

// Dial connects to addr and performs the opening handshake for path with
// the extra header fields in h; the handshake must succeed.
func Dial(addr, path string, h http.Header) (*Client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c, err := Handshake(nc, path, h)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Request returns the bytes of an upgrade request for path with a fresh
// key, and that key.
func Request(host, path string, h http.Header) ([]byte, string) {
	key, err := handshake.NewKey()
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, host, key)
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String()), key
}

// Handshake performs the opening handshake on nc; it must succeed.
func Handshake(nc net.Conn, path string, h http.Header) (*Client, error) {
	c, resp, err := Upgrade(nc, path, h)
	if err == nil && c == nil {
		err = fmt.Errorf("wstest: status %d, want 101", resp.StatusCode)
	}
	return c, err
}

// Close closes the TCP connection.
func (c *Client) Close() error { return c.Conn.Close() }

// Write writes raw bytes.
func (c *Client) Write(p []byte) error {
	_, err := c.Conn.Write(p)
	return err
}

// AppendFrame appends a masked client frame (the encoding is written here
// from RFC 6455 section 5.2, independently of ws/frame).
func AppendFrame(dst []byte, fin bool, rsv byte, op byte, payload []byte) []byte {
	var key [4]byte
	rand.Read(key[:])
	return AppendFrameKey(dst, fin, rsv, op, key, payload)
}

// AppendFrameKey is AppendFrame with a given masking key: reproducible
// bytes for fuzz seeds, and no random read per frame for floods of them.
func AppendFrameKey(dst []byte, fin bool, rsv byte, op byte, key [4]byte, payload []byte) []byte {
	b0 := op & 0x0f
	if fin {
		b0 |= 0x80
	}
	b0 |= (rsv & 7) << 4
	dst = append(dst, b0)
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	for i, b := range payload {
		dst = append(dst, b^key[i&3])
	}
	return dst
}

// WriteFrame writes one masked frame.
func (c *Client) WriteFrame(fin bool, op byte, payload []byte) error {
	return c.Write(AppendFrame(nil, fin, 0, op, payload))
}

// WriteMessage writes one unfragmented message.
func (c *Client) WriteMessage(op byte, payload []byte) error {
	return c.WriteFrame(true, op, payload)
}

// ReadFrame reads one frame, failing after timeout. Server frames must not
// be masked.
func (c *Client) ReadFrame(timeout time.Duration) (Frame, error) {
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.Conn.SetReadDeadline(time.Time{})
	var hdr [2]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{
		Fin:    hdr[0]&0x80 != 0,
		Rsv1:   hdr[0]&0x40 != 0,
		Rsv2:   hdr[0]&0x20 != 0,
		Rsv3:   hdr[0]&0x10 != 0,
		Opcode: hdr[0] & 0x0f,
	}
	if hdr[1]&0x80 != 0 {
		return f, errors.New("wstest: the server sent a masked frame")
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
		if n < 126 {
			return f, errors.New("wstest: non-minimal 16-bit length")
		}
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(ext[:])
		if n <= 0xffff || n>>63 != 0 {
			return f, errors.New("wstest: bad 64-bit length")
		}
	}
	if n > 1<<30 {
		return f, errors.New("wstest: frame too large for a test")
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.Payload); err != nil {
		return f, err
	}
	return f, nil
}

// ReadMessage reads frames until a whole data message or a control frame
// has arrived and returns its opcode and payload (and whether the first
// frame had RSV1 set). It answers nothing by itself.
func (c *Client) ReadMessage(timeout time.Duration) (op byte, payload []byte, rsv1 bool, err error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.ReadFrame(time.Until(deadline))
		if err != nil {
			return 0, nil, false, err
		}
		if f.Opcode >= 8 {
			return f.Opcode, f.Payload, f.Rsv1, nil
		}
		if f.Opcode != 0 {
			op, rsv1 = f.Opcode, f.Rsv1
			payload = nil
		}
		payload = append(payload, f.Payload...)
		if f.Fin {
			return op, payload, rsv1, nil
		}
	}
}

// ExpectClose reads until a close frame arrives (skipping data and
// pings) and returns its code (1005 when it has none) and reason.
func (c *Client) ExpectClose(timeout time.Duration) (code int, reason string, err error) {
	deadline := time.Now().Add(timeout)
	for {
		op, p, _, err := c.ReadMessage(time.Until(deadline))
		if err != nil {
			return 0, "", err
		}
		if op != 8 {
			continue
		}
		if len(p) < 2 {
			return 1005, "", nil
		}
		return int(binary.BigEndian.Uint16(p)), string(p[2:]), nil
	}
}

// ClosePayload returns a close frame payload with code and reason.
func ClosePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// ExpectEOF waits until the server closes the TCP connection, discarding
// whatever arrives; it fails if that takes longer than timeout.
func (c *Client) ExpectEOF(timeout time.Duration) error {
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, c.br)
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("wstest: connection still open after %v", timeout)
	}
	return nil // reset and the like also end the connection
}

// ReadHandshake reads a 101 response from nc (whose request was written by
// the caller) without checking the accept key.
func ReadHandshake(nc net.Conn, deadline time.Time) (*Client, error) {
	nc.SetReadDeadline(deadline)
	defer nc.SetReadDeadline(time.Time{})
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("wstest: status %d", resp.StatusCode)
	}
	return &Client{Conn: nc, Resp: resp, br: br}, nil
}

// Reader returns the buffered reader positioned after the handshake, for
// benchmarks that read replies in bulk.
func (c *Client) Reader() io.Reader { return c.br }

// Opened returns a client for a WebSocket whose opening handshake is done
// already (an HTTP/2 stream, RFC 8441): nc carries the frames, resp is the
// server's answer.
func Opened(nc net.Conn, resp *http.Response) *Client {
	return &Client{Conn: nc, Resp: resp, br: bufio.NewReader(nc)}
}
