package autobahn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"unievent.dev/internal/wstest"
)

// env is what a case plays with: the server's address (or, on the
// client side, the hostile server it runs), the case's deadline, and the
// connections it opened (closed when it ends).
type env struct {
	addr     string
	deadline time.Time
	// side is set when the case plays the server against ws/client (the
	// client side of the suite, client_test.go); nil when it plays the
	// client against the server testee.
	side *clientSide

	mu     sync.Mutex
	conns  []net.Conn
	peers  []*peer
	runs   []*clientRun
	closed bool
}

// track registers nc to be closed when the case ends.
func (e *env) track(nc net.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.conns = append(e.conns, nc)
}

func (e *env) cleanup() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for _, p := range e.peers {
		close(p.done)
	}
	for _, nc := range e.conns {
		nc.Close()
	}
	for _, r := range e.runs {
		r.ln.Close()
	}
}

// tcp opens a TCP connection to the server, bounded by the case deadline.
func (e *env) tcp() (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", e.addr, time.Until(e.deadline))
	if err != nil {
		return nil, err
	}
	e.track(nc)
	nc.SetDeadline(e.deadline)
	return nc, nil
}

// dial opens a WebSocket connection with the extra request header fields
// h; the handshake must succeed. When the server accepted
// permessage-deflate, the peer compresses and inflates as agreed.
//
// On the client side, dial runs the client testee against a server of
// the case's own instead: h's Sec-WebSocket-Extensions is what that server
// answers to the client's offer (e.serve).
func (e *env) dial(h http.Header) (*peer, error) {
	if e.side != nil {
		return e.serve(nil, strings.Join(h["Sec-WebSocket-Extensions"], ", "), "")
	}
	nc, err := e.tcp()
	if err != nil {
		return nil, err
	}
	c, err := wstest.Handshake(nc, "/", h)
	if err != nil {
		return nil, fmt.Errorf("opening handshake: %w", err)
	}
	return e.start(c)
}

// dialDeflate offers the given Sec-WebSocket-Extensions value.
func (e *env) dialDeflate(offer string) (*peer, error) {
	return e.dial(http.Header{"Sec-WebSocket-Extensions": {offer}})
}

// start begins reading the server's frames on c.
func (e *env) start(c *wstest.Client) (*peer, error) {
	c.Conn.SetDeadline(e.deadline)
	p := &peer{conn: c.Conn, resp: c.Resp, readFrame: c.ReadFrame}
	ext := strings.Join(c.Resp.Header.Values("Sec-WebSocket-Extensions"), ", ")
	return e.run(p, ext)
}

// run sets up p for the permessage-deflate answer ext ("" for none) and
// starts its reader. Each side inflates what the other compressed as the
// answer says the other does, and compresses its own messages as it says
// this side does.
func (e *env) run(p *peer, ext string) (*peer, error) {
	p.deadline, p.events, p.done = e.deadline, make(chan event, 64), make(chan struct{})
	if ext != "" {
		a, err := parseAnswer(ext)
		if err != nil {
			return nil, err
		}
		p.pmd = a
		theirs, ours := a.serverNoContextTakeover, a.clientNoContextTakeover
		p.theirBits, p.ourBits = a.serverBits, a.clientBits
		if p.asServer {
			theirs, ours = ours, theirs
			p.theirBits, p.ourBits = p.ourBits, p.theirBits
		}
		p.inflater = &wstest.Inflater{NoContextTakeover: theirs}
		p.deflater = &wstest.Deflater{NoContextTakeover: ours, WindowBits: p.ourBits}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errors.New("the case is over")
	}
	e.peers = append(e.peers, p)
	e.mu.Unlock()
	go p.read()
	return p, nil
}

// agreed holds the permessage-deflate parameters of the server's answer.
type agreed struct {
	serverNoContextTakeover, clientNoContextTakeover bool
	serverBits, clientBits                           int // 15 when not limited
}

// parseAnswer reads the server's Sec-WebSocket-Extensions answer, which
// may only be one permessage-deflate with the parameters of RFC 7692
// section 7.1, each at most once (section 7: a client must fail a
// connection whose answer breaks that).
func parseAnswer(s string) (*agreed, error) {
	parts := strings.Split(s, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" || strings.Contains(s, ",") {
		return nil, fmt.Errorf("answer %q: want one permessage-deflate", s)
	}
	a := &agreed{serverBits: 15, clientBits: 15}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		name, value, hasValue := strings.Cut(strings.TrimSpace(p), "=")
		if seen[name] {
			return nil, fmt.Errorf("answer %q: %s twice", s, name)
		}
		seen[name] = true
		bits := func() (int, error) {
			n, err := strconv.Atoi(value)
			if !hasValue || err != nil || n < 8 || n > 15 || value != strconv.Itoa(n) {
				return 0, fmt.Errorf("answer %q: bad %s", s, name)
			}
			return n, nil
		}
		var err error
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasValue {
				return nil, fmt.Errorf("answer %q: %s takes no value", s, name)
			}
			if name == "server_no_context_takeover" {
				a.serverNoContextTakeover = true
			} else {
				a.clientNoContextTakeover = true
			}
		case "server_max_window_bits":
			a.serverBits, err = bits()
		case "client_max_window_bits":
			a.clientBits, err = bits()
		default:
			err = fmt.Errorf("answer %q: unknown parameter %q", s, name)
		}
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// evKind is the kind of something the client saw from the server.
type evKind int

const (
	evMessage evKind = iota // a whole text or binary message
	evPing
	evPong
	evClose
	evEOF   // the server closed the TCP connection
	evError // a read error, or a frame the server must not send
)

// event is one thing the server did, as the client's reader saw it.
type event struct {
	kind       evKind
	op         byte // evMessage: 1 text, 2 binary
	payload    []byte
	compressed bool // evMessage: it came with RSV1
	code       int  // evClose: 1005 when the frame had no status code
	reason     string
	err        error
	at         time.Time
}

func (ev event) String() string {
	switch ev.kind {
	case evMessage:
		kind := "binary"
		if ev.op == 1 {
			kind = "text"
		}
		return fmt.Sprintf("%s message of %d bytes %s", kind, len(ev.payload), preview(ev.payload))
	case evPing:
		return fmt.Sprintf("ping %s", preview(ev.payload))
	case evPong:
		return fmt.Sprintf("pong %s", preview(ev.payload))
	case evClose:
		return fmt.Sprintf("close %d %q", ev.code, ev.reason)
	case evEOF:
		return "end of the TCP connection"
	default:
		return fmt.Sprintf("error: %v", ev.err)
	}
}

func preview(p []byte) string {
	if len(p) > 32 {
		return fmt.Sprintf("%q…", p[:32])
	}
	return fmt.Sprintf("%q", p)
}

// peer is one client connection, or on the client side one server
// connection. A goroutine reads the other side's frames, checks them
// independently of the project's codec (wstest parses the server's,
// readClientFrame the client's) and turns them into events; the case's
// script writes and then expects events in order.
type peer struct {
	conn      net.Conn
	resp      *http.Response // the server's answer (client of the server testee)
	readFrame func(timeout time.Duration) (wstest.Frame, error)
	deadline  time.Time
	events    chan event
	done      chan struct{}
	last      event // the reader's final event, once events is closed

	pmd                *agreed
	theirBits, ourBits int // the window the other side compresses in, ours
	inflater           *wstest.Inflater
	deflater           *wstest.Deflater

	// The client side: the peer is the server. What the script writes,
	// made as client frames, goes out unmasked (unmask); the script
	// ending the TCP connection first is the server's duty of RFC 6455
	// section 7.1.1, which the client must wait for.
	asServer     bool
	unmask       unmasker
	finAt        time.Time // when this side ended its half of the connection
	theirClose   int       // the code of the close frame the script received, 0 before
	theirCloseAt time.Time // when it arrived
	ourCloseAt   time.Time // when the script's first close frame went out
	clientSetup  *clientRun
}

func (p *peer) emit(ev event) bool {
	ev.at = time.Now()
	select {
	case p.events <- ev:
		return true
	case <-p.done:
		return false
	}
}

// read is the reader goroutine. It stops at the end of the connection, at
// the first error, or when the case is over.
func (p *peer) read() {
	defer close(p.events)
	fail := func(format string, args ...any) {
		p.emit(event{kind: evError, err: fmt.Errorf(format, args...)})
	}
	var (
		inMessage, compressed bool
		op                    byte
		buf                   []byte
		closed                bool
	)
	for {
		f, err := p.readFrame(time.Until(p.deadline))
		if err != nil {
			if errors.Is(err, io.EOF) {
				p.emit(event{kind: evEOF})
			} else {
				p.emit(event{kind: evError, err: err})
			}
			return
		}
		switch {
		case closed:
			fail("frame (opcode %d) after the close frame", f.Opcode)
			return
		case f.Rsv2 || f.Rsv3:
			fail("frame with RSV2 or RSV3 (opcode %d)", f.Opcode)
			return
		case f.Rsv1 && (p.pmd == nil || f.Opcode == 0 || f.Opcode >= 8):
			fail("RSV1 on a frame of opcode %d (permessage-deflate agreed: %v)", f.Opcode, p.pmd != nil)
			return
		case f.Opcode >= 8 && (!f.Fin || len(f.Payload) > 125):
			fail("control frame of opcode %d fragmented or over 125 bytes", f.Opcode)
			return
		}
		switch f.Opcode {
		case 8:
			closed = true
			ev, err := parseClose(f.Payload)
			if err != nil {
				fail("%v", err)
				return
			}
			if !p.emit(ev) {
				return
			}
			continue
		case 9, 10:
			kind := evPing
			if f.Opcode == 10 {
				kind = evPong
			}
			if !p.emit(event{kind: kind, payload: f.Payload}) {
				return
			}
			continue
		case 0:
			if !inMessage {
				fail("continuation frame with no message to continue")
				return
			}
			buf = append(buf, f.Payload...)
		case 1, 2:
			if inMessage {
				fail("new message (opcode %d) inside a fragmented one", f.Opcode)
				return
			}
			inMessage, op, compressed = true, f.Opcode, f.Rsv1
			buf = f.Payload
		default:
			fail("reserved opcode %d", f.Opcode)
			return
		}
		if !f.Fin {
			continue
		}
		inMessage = false
		payload := buf
		buf = nil
		if compressed {
			out, dist, err := p.inflater.Inflate(payload)
			if err != nil {
				fail("inflating the %s's message (its no_context_takeover %v): %v", p.other(), p.inflater.NoContextTakeover, err)
				return
			}
			if dist > 1<<p.theirBits {
				fail("the %s's message refers back %d bytes, beyond its %d-bit window", p.other(), dist, p.theirBits)
				return
			}
			payload = out
		}
		if op == 1 && !utf8.Valid(payload) {
			fail("the %s sent a text message that is not UTF-8", p.other())
			return
		}
		if !p.emit(event{kind: evMessage, op: op, payload: payload, compressed: compressed}) {
			return
		}
	}
}

// parseClose checks a close frame from the server (RFC 6455 sections
// 5.5.1 and 7.4): no 1-byte payload, a code that may be sent, a UTF-8
// reason.
func parseClose(p []byte) (event, error) {
	switch {
	case len(p) == 0:
		return event{kind: evClose, code: 1005}, nil
	case len(p) == 1:
		return event{}, errors.New("close frame with a 1-byte payload")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !sendableCode(code) {
		return event{}, fmt.Errorf("close frame with code %d, which may not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return event{}, errors.New("close reason is not UTF-8")
	}
	return event{kind: evClose, code: code, reason: string(p[2:])}, nil
}

// sendableCode reports whether an endpoint may put code in a close frame:
// the codes RFC 6455 section 7.4.1 defines and IANA registered for the
// wire (1012 to 1014 came later), and the ranges 3000-4999 of section
// 7.4.2.
func sendableCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

var errTimeout = errors.New("nothing arrived in time")

// next returns the next event, waiting until by at most.
func (p *peer) next(by time.Time) (event, error) {
	if by.After(p.deadline) {
		by = p.deadline
	}
	t := time.NewTimer(time.Until(by))
	defer t.Stop()
	select {
	case ev, ok := <-p.events:
		if !ok {
			return p.last, fmt.Errorf("the connection is over (last: %v)", p.last)
		}
		p.last = ev
		if ev.kind == evClose && p.theirClose == 0 {
			p.theirClose, p.theirCloseAt = ev.code, ev.at
		}
		return ev, nil
	case <-t.C:
		return event{}, errTimeout
	}
}

// want is an expected event.
type want struct {
	kind    evKind
	op      byte
	payload []byte
	code    int
}

func echo(op byte, p []byte) want { return want{kind: evMessage, op: op, payload: p} }
func text(s string) want          { return echo(1, []byte(s)) }
func pong(p []byte) want          { return want{kind: evPong, payload: p} }
func closed(code int) want        { return want{kind: evClose, code: code} }

var eof = want{kind: evEOF}

func (w want) String() string {
	return event{kind: w.kind, op: w.op, payload: w.payload, code: w.code}.String()
}

// check compares ev with w: kind, opcode, payload byte for byte, close
// code.
func (w want) check(ev event) error {
	if ev.kind != w.kind {
		return fmt.Errorf("got %v, want %v", ev, w)
	}
	switch w.kind {
	case evMessage, evPing, evPong:
		if ev.op != w.op {
			return fmt.Errorf("got %v, want %v", ev, w)
		}
		if !bytes.Equal(ev.payload, w.payload) {
			return fmt.Errorf("got %v, want %v: %s", ev, w, differ(ev.payload, w.payload))
		}
	case evClose:
		if ev.code != w.code {
			return fmt.Errorf("got %v, want close %d", ev, w.code)
		}
	}
	return nil
}

// differ describes where two payloads part.
func differ(got, want []byte) string {
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d of %d (got %#02x, want %#02x)", i, len(want), got[i], want[i])
		}
	}
	return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
}

// expect reads events and checks them, in order, against ws.
func (p *peer) expect(ws ...want) error {
	return p.expectBy(p.deadline, ws...)
}

// expectBy is expect with every event due before by: the timing Autobahn
// grades (a pong or a close that must come during a pause).
//
// On the client side the server closes the TCP connection first (RFC
// 6455 section 7.1.1): an expected end of the connection is preceded by
// the script's own, and a client that answered the script's close frame
// must not have ended the connection before it.
func (p *peer) expectBy(by time.Time, ws ...want) error {
	for _, w := range ws {
		if w.kind == evEOF && p.asServer {
			if err := p.closeWrite(); err != nil {
				return err
			}
		}
		ev, err := p.next(by)
		if err == nil && ev.kind == evEOF && p.asServer && ev.at.Before(p.finAt) && p.answeredOurClose() {
			return errors.New("the client ended the TCP connection after the closing handshake before the server did (RFC 6455 section 7.1.1)")
		}
		if errors.Is(err, errTimeout) && by.Before(p.deadline) {
			return fmt.Errorf("%v did not arrive in time (during the pause)", w)
		}
		if err != nil {
			return fmt.Errorf("waiting for %v: %w", w, err)
		}
		if err := w.check(ev); err != nil {
			return err
		}
	}
	return nil
}

// quiet checks that nothing arrives for d.
func (p *peer) quiet(d time.Duration) error {
	ev, err := p.next(time.Now().Add(d))
	if errors.Is(err, errTimeout) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("got %v, want nothing for %v", ev, d)
}

// write writes b, client frames (whole or in part), in one call; on the
// client side unmasked, as the server's frames.
func (p *peer) write(b []byte) error {
	return p.writeRaw(p.wire(b))
}

// wire is b as this side puts it on the wire: as it is, or on the client
// side unmasked.
func (p *peer) wire(b []byte) []byte {
	if p.asServer {
		b = p.unmask.feed(b)
		if p.unmask.closeCode != 0 && p.ourCloseAt.IsZero() {
			p.ourCloseAt = time.Now()
		}
	}
	return b
}

// writeRaw writes b as it is.
func (p *peer) writeRaw(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := p.conn.Write(b)
	return err
}

// writeChops writes b in pieces of chop bytes, one write each (Autobahn's
// chopsize; 1 is "octet-wise").
func (p *peer) writeChops(b []byte, chop int) error {
	b = p.wire(b)
	for len(b) > 0 {
		n := min(chop, len(b))
		if err := p.writeRaw(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// syncGap separates the writes of writeEach so that they leave in
// separate TCP segments (Autobahn's "sync", frame-wise chops).
const syncGap = 5 * time.Millisecond

// writeEach writes each piece on its own, a moment apart.
func (p *peer) writeEach(pieces ...[]byte) error {
	for i, b := range pieces {
		if i > 0 {
			time.Sleep(syncGap) // the case under test: pieces in separate TCP segments
		}
		if err := p.write(b); err != nil {
			return err
		}
	}
	return nil
}

// closeNormally starts the closing handshake with 1000: the server must
// echo the code and then close the TCP connection itself (RFC 6455
// section 7.1.1: the server closes first). On the client side, the
// client must echo it and wait for the script's end of the connection
// before it ends its own.
func (p *peer) closeNormally() error {
	if err := p.write(frame(true, 0, 8, wstest.ClosePayload(1000, ""))); err != nil {
		return err
	}
	return p.expect(closed(1000), eof)
}

// expectFailure expects the server (on the client side: the client) to
// fail the connection with code and nothing else: a close frame with that
// code, which the script answers, then the end of the TCP connection.
func (p *peer) expectFailure(code int) error {
	if err := p.expect(closed(code)); err != nil {
		return err
	}
	return p.answerClose(code)
}

// answerClose answers the server's close frame with code and expects the
// end of the TCP connection.
func (p *peer) answerClose(code int) error {
	p.write(frame(true, 0, 8, wstest.ClosePayload(code, ""))) // the server may have stopped reading
	return p.expect(eof)
}

// frame returns one masked client frame; rsv holds RSV1 (4), RSV2 (2) and
// RSV3 (1), as Autobahn numbers them.
func frame(fin bool, rsv, op byte, payload []byte) []byte {
	return wstest.AppendFrame(nil, fin, rsv, op, payload)
}

// fragments returns a message of opcode op as frames of at most size
// payload bytes (one frame when size is 0).
func fragments(op byte, payload []byte, size int) []byte {
	if size <= 0 || len(payload) <= size {
		return frame(true, 0, op, payload)
	}
	var out []byte
	for i := 0; i < len(payload); i += size {
		end := min(i+size, len(payload))
		o := op
		if i > 0 {
			o = 0
		}
		out = wstest.AppendFrame(out, end == len(payload), 0, o, payload[i:end])
	}
	return out
}

// compressed returns a message compressed as agreed, its compressed
// payload cut into frames of at most size bytes (Autobahn's
// autoFragmentSize; 0: one frame), RSV1 on the first.
func (p *peer) compressed(op byte, payload []byte, size int) []byte {
	z := p.deflater.Deflate(payload)
	if size <= 0 || len(z) <= size {
		return wstest.AppendFrame(nil, true, 4, op, z)
	}
	var out []byte
	for i := 0; i < len(z); i += size {
		end := min(i+size, len(z))
		o, rsv := op, byte(4)
		if i > 0 {
			o, rsv = 0, 0
		}
		out = wstest.AppendFrame(out, end == len(z), rsv, o, z[i:end])
	}
	return out
}

// repeat returns n bytes of pattern repeated.
func repeat(pattern string, n int) []byte {
	b := bytes.Repeat([]byte(pattern), n/len(pattern)+1)
	return b[:n]
}
