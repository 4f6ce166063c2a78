package autobahn

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/client"
)

// The client side of the suite plays the server's part of each case
// against the client testee (ClientTesteeConfig, echoing every message as
// ./clienttestee does), as the Autobahn fuzzing server does: the same
// frames as the fuzzing client's, unmasked, and the same grading of what
// comes back, with the client's own duties on top. Every frame of the
// client must be masked with a key not used before on its connection,
// its Sec-WebSocket-Key must be fresh and well-formed, and after it
// answered the server's close it must wait for the server to end the TCP
// connection (RFC 6455 sections 5.3, 4.1 and 7.1.1).

// clientSide is the suite-wide state of the client side: the handshake
// keys seen, none of which may come twice.
type clientSide struct {
	mu   sync.Mutex
	keys map[string]bool
}

func newClientSide() *clientSide { return &clientSide{keys: map[string]bool{}} }

// freshKey checks a Sec-WebSocket-Key: 16 random bytes in base64 (RFC
// 6455 section 4.1, item 7), never sent before.
func (s *clientSide) freshKey(key string) error {
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 16 {
		return fmt.Errorf("Sec-WebSocket-Key %q is not 16 bytes in base64", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[key] {
		return fmt.Errorf("Sec-WebSocket-Key %q sent twice", key)
	}
	s.keys[key] = true
	return nil
}

// clientRun is one run of the client testee: its Connect's outcome, its
// loop's end, and the listener it dialed.
type clientRun struct {
	ln        net.Listener
	connected chan error    // Connect's callback
	over      chan struct{} // closed when the client's loop returned: its connection is over
	cancel    context.CancelFunc
}

// startClient listens on a loopback port and connects the client testee
// (cfg nil: ClientTesteeConfig) to it, on a loop of its own; the
// connection echoes every message as one of the same type.
func (e *env) startClient(cfg *client.Config) (*clientRun, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = ClientTesteeConfig()
	}
	ctx, cancel := context.WithDeadline(context.Background(), e.deadline)
	r := &clientRun{ln: ln, connected: make(chan error, 1), over: make(chan struct{}), cancel: cancel}
	e.mu.Lock()
	e.runs = append(e.runs, r)
	e.mu.Unlock()
	loop := ws.NewLoop()
	client.Connect(ctx, "ws://"+ln.Addr().String()+"/runCase", cfg, loop, func(c *ws.Conn, err error) {
		if c != nil {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
		}
		r.connected <- err
	})
	go func() {
		loop.Run() // until the connection is over
		close(r.over)
	}()
	return r, nil
}

// rawConn is the server's end of the client's TCP connection, with the
// upgrade request read from it.
type rawConn struct {
	nc  net.Conn
	br  *bufio.Reader
	req *http.Request
	key string
}

// accept takes the client's TCP connection and reads its upgrade request,
// which must be a valid one (RFC 6455 section 4.1, checked here
// independently of ws/handshake) with a fresh key.
func (e *env) accept(r *clientRun) (*rawConn, error) {
	r.ln.(*net.TCPListener).SetDeadline(e.deadline)
	nc, err := r.ln.Accept()
	r.ln.Close()
	if err != nil {
		return nil, fmt.Errorf("the client did not connect: %w", err)
	}
	e.track(nc)
	nc.SetDeadline(e.deadline)
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("reading the client's upgrade request: %w", err)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	switch {
	case req.Method != http.MethodGet || !req.ProtoAtLeast(1, 1) || req.Host == "":
		return nil, fmt.Errorf("request %s %s with Host %q, want GET, HTTP/1.1 and a Host", req.Method, req.Proto, req.Host)
	case !tokenIn(req.Header.Values("Upgrade"), "websocket") || !tokenIn(req.Header.Values("Connection"), "upgrade"):
		return nil, fmt.Errorf("request with Upgrade %q, Connection %q", req.Header.Values("Upgrade"), req.Header.Values("Connection"))
	case len(req.Header.Values("Sec-WebSocket-Version")) != 1 || req.Header.Get("Sec-WebSocket-Version") != "13":
		return nil, fmt.Errorf("request with Sec-WebSocket-Version %q, want 13", req.Header.Values("Sec-WebSocket-Version"))
	case len(req.Header.Values("Sec-WebSocket-Key")) != 1:
		return nil, fmt.Errorf("request with %d Sec-WebSocket-Key fields", len(req.Header.Values("Sec-WebSocket-Key")))
	}
	if err := e.side.freshKey(key); err != nil {
		return nil, err
	}
	return &rawConn{nc: nc, br: br, req: req, key: key}, nil
}

// tokenIn reports whether a comma-separated header list holds token,
// compared case-insensitively.
func tokenIn(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// acceptKey is Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2, item
// 5.4), computed here apart from ws/handshake.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// switching is a 101 for key with the extension answer ext ("" for none)
// and the extra header lines (each ending in \r\n).
func switching(key, ext, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", acceptKey(key))
	if ext != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", ext)
	}
	b.WriteString(extra)
	b.WriteString("\r\n")
	return b.String()
}

// serve runs the client testee (cfg nil: ClientTesteeConfig) against the
// case's server, which answers its upgrade request with a valid 101 whose
// Sec-WebSocket-Extensions is ext (the permessage-deflate answer, "" for
// none) and the extra header lines; the client must take it. The peer it
// returns is that server.
func (e *env) serve(cfg *client.Config, ext, extra string) (*peer, error) {
	return e.open(cfg, ext, func(rc *rawConn) string { return switching(rc.key, ext, extra) })
}

// open is serve with the answer written by head: a 101 the client must
// take, whose permessage-deflate answer is ext, and what follows it in
// the same write.
func (e *env) open(cfg *client.Config, ext string, head func(rc *rawConn) string) (*peer, error) {
	r, err := e.startClient(cfg)
	if err != nil {
		return nil, err
	}
	rc, err := e.accept(r)
	if err != nil {
		return nil, err
	}
	if ext != "" && !strings.Contains(strings.Join(rc.req.Header.Values("Sec-WebSocket-Extensions"), ","), "permessage-deflate") {
		return nil, fmt.Errorf("the client offered %q, no permessage-deflate to answer", rc.req.Header.Values("Sec-WebSocket-Extensions"))
	}
	if _, err := io.WriteString(rc.nc, head(rc)); err != nil {
		return nil, err
	}
	if err := e.connected(r); err != nil {
		return nil, fmt.Errorf("the client refused a valid 101: %w", err)
	}
	fr := &maskedReader{nc: rc.nc, br: rc.br, keys: map[[4]byte]bool{}}
	return e.run(&peer{conn: rc.nc, asServer: true, readFrame: fr.readFrame}, ext)
}

// connected waits for the client's Connect to call back.
func (e *env) connected(r *clientRun) error {
	select {
	case err := <-r.connected:
		return err
	case <-time.After(time.Until(e.deadline)):
		return errors.New("Connect did not call back")
	}
}

// awaitClients waits, once the case is over and its connections closed,
// for every client it ran to end its connection and its loop: a case
// whose client outlives it leaked one.
func (e *env) awaitClients() error {
	e.mu.Lock()
	runs := e.runs
	e.mu.Unlock()
	for _, r := range runs {
		select {
		case <-r.over:
		case <-time.After(wstest.WaitTimeout):
			return errors.New("the client's connection was still open after the case")
		}
		r.cancel()
	}
	return nil
}

// other names the side whose frames the peer reads.
func (p *peer) other() string {
	if p.asServer {
		return "client"
	}
	return "server"
}

// closeWrite ends this side's half of the TCP connection (once).
func (p *peer) closeWrite() error {
	if !p.finAt.IsZero() {
		return nil
	}
	tc, ok := p.conn.(*net.TCPConn)
	if !ok {
		return fmt.Errorf("not a TCP connection: %T", p.conn)
	}
	p.finAt = time.Now()
	return tc.CloseWrite()
}

// answeredOurClose reports whether the close frame the script received
// came after its own and echoes it: the other side answered a closing
// handshake rather than failing the connection, and on the client side
// must then leave the end of the TCP connection to the server.
func (p *peer) answeredOurClose() bool {
	return p.unmask.closeCode != 0 && p.unmask.closeCode == p.theirClose && p.ourCloseAt.Before(p.theirCloseAt)
}

// maskedReader reads the client's frames: each must be masked with a
// fresh key (RFC 6455 section 5.3: unpredictable keys), and its length
// encoded in the fewest bytes (section 5.2). Random 32-bit keys may meet
// by chance (about once in 10^4 connections of 1,000 frames), twice on one
// connection practically never (about once in 10^8): a key seen for the
// third time, or a second key seen twice, fails the connection, as a
// fixed, cycling or zero key would at once.
type maskedReader struct {
	nc      net.Conn
	br      *bufio.Reader
	keys    map[[4]byte]bool
	repeats int
}

func (r *maskedReader) readFrame(timeout time.Duration) (wstest.Frame, error) {
	r.nc.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return wstest.Frame{}, err
	}
	f := wstest.Frame{Fin: h[0]&0x80 != 0, Rsv1: h[0]&0x40 != 0, Rsv2: h[0]&0x20 != 0, Rsv3: h[0]&0x10 != 0, Opcode: h[0] & 0x0f}
	if h[1]&0x80 == 0 {
		return f, errors.New("the client sent an unmasked frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r.br, ext[:]); err != nil {
			return f, err
		}
		if n = uint64(binary.BigEndian.Uint16(ext[:])); n < 126 {
			return f, errors.New("the client sent a 16-bit length where 7 bits do")
		}
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r.br, ext[:]); err != nil {
			return f, err
		}
		if n = binary.BigEndian.Uint64(ext[:]); n <= 0xffff || n>>63 != 0 {
			return f, errors.New("the client sent a 64-bit length where 16 bits do, or with its top bit set")
		}
	}
	var key [4]byte
	if _, err := io.ReadFull(r.br, key[:]); err != nil {
		return f, err
	}
	if r.keys[key] {
		if r.repeats++; r.repeats > 1 {
			return f, fmt.Errorf("the client used the masking key % x again, the second key repeated on the connection", key)
		}
	}
	r.keys[key] = true
	if n > 1<<30 {
		return f, errors.New("frame too large for a test")
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, f.Payload); err != nil {
		return f, err
	}
	for i := range f.Payload {
		f.Payload[i] ^= key[i&3]
	}
	return f, nil
}

// unmasker turns the bytes of client frames, as the cases make them, into
// the same frames sent by a server: the mask bit cleared, the masking key
// dropped, the payload unmasked. It keeps its place across calls, so that
// a frame may be fed in pieces (chops, a frame cut inside its payload);
// frames that are not masked pass as they are. It notes the code of the
// first close frame it passes (1005 for one without a code).
type unmasker struct {
	state     int // 0: first byte, 1: second, 2: length, 3: key, 4: payload
	op        byte
	masked    bool
	lenBytes  int
	length    uint64
	key       [4]byte
	pos       uint64 // bytes of the length, key or payload read so far
	closeCode int
	closeBuf  []byte
}

func (u *unmasker) feed(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for _, c := range in {
		switch u.state {
		case 0:
			u.op = c & 0x0f
			out = append(out, c)
			u.state = 1
		case 1:
			u.masked = c&0x80 != 0
			out = append(out, c&0x7f)
			u.length, u.pos = uint64(c&0x7f), 0
			switch u.length {
			case 126:
				u.lenBytes, u.length, u.state = 2, 0, 2
			case 127:
				u.lenBytes, u.length, u.state = 8, 0, 2
			default:
				u.afterLength()
			}
		case 2:
			out = append(out, c)
			u.length = u.length<<8 | uint64(c)
			if u.pos++; u.pos == uint64(u.lenBytes) {
				u.afterLength()
			}
		case 3:
			u.key[u.pos] = c
			if u.pos++; u.pos == 4 {
				u.pos = 0
				u.afterKey()
			}
		case 4:
			if u.masked {
				c ^= u.key[u.pos&3]
			}
			out = append(out, c)
			if u.op == 8 && u.closeCode == 0 {
				u.closeBuf = append(u.closeBuf, c)
			}
			if u.pos++; u.pos == u.length {
				u.endFrame()
			}
		}
	}
	return out
}

func (u *unmasker) afterLength() {
	u.pos = 0
	if u.masked {
		u.state = 3
		return
	}
	u.afterKey()
}

func (u *unmasker) afterKey() {
	if u.length == 0 {
		u.endFrame()
		return
	}
	u.state = 4
}

func (u *unmasker) endFrame() {
	if u.op == 8 && u.closeCode == 0 {
		u.closeCode = 1005
		if len(u.closeBuf) >= 2 {
			u.closeCode = int(binary.BigEndian.Uint16(u.closeBuf))
		}
	}
	u.state, u.pos, u.closeBuf = 0, 0, nil
}
