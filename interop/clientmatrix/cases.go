package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/permessagedeflate"
)

// sizes are the echoed message sizes: empty, one byte, the largest
// 7-bit length, the smallest 16-bit one, the largest 16-bit one, the
// smallest 64-bit one, and 1 MiB.
var sizes = []int{0, 1, 125, 126, 65535, 65536, 1 << 20}

// bigSize is the size of the few largest cases.
const bigSize = 16 << 20

// fewSizes are the sizes of the modes that only try another deflate
// offer.
var fewSizes = []int{0, 126, 65536, 1 << 20}

// outcome is how a peer answers a mode's permessage-deflate offer.
type outcome string

const (
	agreed   outcome = "agreed"   // it accepts the offer, within what was offered
	declined outcome = "declined" // it answers without the extension
	refused  outcome = "refused"  // its answer breaks RFC 7692 section 7.1: Dial must fail
)

// mode is one server address with the client configuration it is dialed
// with.
type mode struct {
	label  string // PEER/MODE
	base   string // the URL without its trailing slash
	cfg    client.Config
	offer  *permessagedeflate.Config // nil: no compression offered
	answer outcome                   // the peer's answer to offer
	big    bool                      // run the 16 MiB cases
	groups map[string]bool           // the groups of cases to run
	few    bool                      // fewer echo cases, no close and ping
	proxy  *url.URL                  // run the proxy refusal cases with this proxy
	wantH2 bool                      // with cfg.HTTP2 set: the connection must be an HTTP/2 stream
}

// compressed reports whether the mode's connections must have
// permessage-deflate on.
func (m mode) compressed() bool { return m.offer != nil && m.answer == agreed }

// runMode runs every case of one mode.
func runMode(s *suite, m mode) {
	if m.offer != nil {
		s.run(m.label+"/negotiate", m.negotiate)
		if m.answer == refused {
			return
		}
	}
	if m.proxy != nil {
		m.proxyRefusals(s)
	}
	if m.groups["echo"] {
		ns := sizes
		if m.few {
			ns = fewSizes
		}
		for _, n := range ns {
			s.run(fmt.Sprintf("%s/text-%d", m.label, n), m.echo("/echo", ws.OpText, utf8Text(n)))
			s.run(fmt.Sprintf("%s/binary-%d", m.label, n), m.echo("/echo", ws.OpBinary, binary(n, n)))
		}
		s.run(m.label+"/sequence", m.sequence)
		if !m.few {
			s.run(m.label+"/parallel-50", m.parallel(50))
		}
		if m.big {
			s.run(fmt.Sprintf("%s/binary-%d", m.label, bigSize), m.echo("/echo", ws.OpBinary, binary(bigSize, 7)))
			s.run(fmt.Sprintf("%s/text-%d", m.label, bigSize), m.echo("/echo", ws.OpText, utf8Text(bigSize)))
		}
	}
	if m.groups["fragmented"] {
		for _, f := range []struct {
			op   ws.Opcode
			n, k int
		}{
			{ws.OpText, 0, 3},
			{ws.OpText, 70000, 4}, // cut inside multi-byte characters where the server cuts bytes
			{ws.OpBinary, 3, 3},
			{ws.OpBinary, 65536, 4},
			{ws.OpBinary, 1 << 20, 16},
		} {
			if m.few && f.n < 65536 {
				continue
			}
			kind, p := "binary", binary(f.n, f.k)
			if f.op == ws.OpText {
				kind, p = "text", utf8Text(f.n)
			}
			s.run(fmt.Sprintf("%s/fragmented-%s-%d-in-%d", m.label, kind, f.n, f.k),
				m.echo(fmt.Sprintf("/fragmented?n=%d", f.k), f.op, p))
		}
	}
	if m.groups["fragmented"] && !m.few {
		s.run(m.label+"/fragmented-ping-binary-65536-in-4", m.fragmentedPing(ws.OpBinary, binary(65536, 9), 4))
		s.run(m.label+"/fragmented-ping-text-70000-in-4", m.fragmentedPing(ws.OpText, utf8Text(70000), 4))
	}
	if m.few {
		return
	}
	if m.groups["close"] {
		m.closeCases(s)
	}
	if m.groups["abrupt"] {
		for _, c := range []struct {
			code   ws.CloseCode
			reason string
		}{{1000, ""}, {4002, "abrupt"}} {
			s.run(fmt.Sprintf("%s/server-close-abrupt-%d-reason-%d", m.label, c.code, len(c.reason)), m.serverCloseAt("/close-abrupt", c.code, c.reason))
		}
	}
	if m.groups["ping"] {
		s.run(m.label+"/server-ping", m.serverPing)
	}
	if m.groups["echo"] {
		s.run(m.label+"/too-big-1009", m.tooBig)
	}
	if m.groups["invalid"] {
		s.run(m.label+"/invalid-utf8-1007", m.invalidUTF8)
	}
	if m.groups["handshake"] {
		s.run(m.label+"/subprotocol-chosen", m.subprotocol([]string{"chat.v2", "chat.v1"}, "chat.v1"))
		s.run(m.label+"/subprotocol-none", m.subprotocol([]string{"chat.v9"}, ""))
		s.run(m.label+"/refused-403", m.refused)
		s.run(m.label+"/request-headers", m.requestHeaders)
	}
}

// subprotocol offers protocols and wants the server's choice to be want
// ("" for none), then one echo.
func (m mode) subprotocol(protocols []string, want string) func(context.Context) error {
	return func(ctx context.Context) error {
		m.cfg.Protocols = protocols
		s, err := m.dial(ctx, "/echo")
		if err != nil {
			return err
		}
		defer s.stop()
		if got := s.c.Protocol(); got != want {
			return fmt.Errorf("subprotocol %q agreed, want %q", got, want)
		}
		p := []byte("hello, chat")
		if err := s.c.Send(ws.OpText, p); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		got, err := s.next(ctx)
		if err != nil {
			return err
		}
		if err := same(got, ws.OpText, p); err != nil {
			return err
		}
		return s.closeNormally(ctx)
	}
}

// requestHeaders sends Origin, Authorization and a header of our own and
// wants the server to have read them, and the Host with its port.
func (m mode) requestHeaders(ctx context.Context) error {
	m.cfg.Origin = "https://client.example"
	m.cfg.Header = http.Header{"X-Interop": {"matrix; v=1"}, "Authorization": {"Bearer t0ken"}}
	s, err := m.dial(ctx, "/headers")
	if err != nil {
		return err
	}
	defer s.stop()
	got, err := s.next(ctx)
	if err != nil {
		return err
	}
	u, err := url.Parse(m.base)
	if err != nil {
		return err
	}
	want := "origin: https://client.example\nx-interop: matrix; v=1\nauthorization: Bearer t0ken\nhost: " + u.Host
	if string(got.payload) != want {
		return fmt.Errorf("the server read %q, want %q", got.payload, want)
	}
	return s.closeNormally(ctx)
}

// tooBig sends a message one byte over the client's own MaxMessageSize
// (64 KiB here): its echo must make the client close with 1009.
func (m mode) tooBig(ctx context.Context) error {
	m.cfg.MaxMessageSize = 64 << 10
	return m.wantClose(ctx, "/echo", binary(64<<10+1, 3), 1009)
}

// invalidUTF8 wants the server's text message that is not UTF-8 to close
// the connection with 1007 (RFC 6455 section 8.1).
func (m mode) invalidUTF8(ctx context.Context) error {
	return m.wantClose(ctx, "/invalid-utf8", nil, 1007)
}

// wantClose dials path, sends p unless nil, and wants no message but the
// client's own close with code. Whether the server answers that close is
// not the client's to see: having failed the connection it must not
// process anything more from the server, a close frame included (RFC 6455
// section 7.1.7).
func (m mode) wantClose(ctx context.Context, path string, p []byte, code ws.CloseCode) error {
	s, err := m.dial(ctx, path)
	if err != nil {
		return err
	}
	defer s.stop()
	if p != nil {
		if err := s.c.SendBinary(p); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	cl, err := s.waitClosed(ctx)
	if err != nil {
		return err
	}
	select {
	case got := <-s.msgs:
		return fmt.Errorf("a message of %d bytes was delivered", len(got.payload))
	default:
	}
	if cl.code != code {
		return fmt.Errorf("close reported %d %q, want %d", cl.code, cl.reason, code)
	}
	return nil
}

// refused wants the server's 403 at /refuse as a *client.HandshakeError
// with its status and body.
func (m mode) refused(ctx context.Context) error {
	cfg := m.cfg
	s, err := open(ctx, m.base+"/refuse", &cfg)
	if err == nil {
		s.stop()
		return errors.New("connected, want a refusal")
	}
	var he *client.HandshakeError
	if !errors.As(err, &he) {
		return fmt.Errorf("dial: %w; want a *client.HandshakeError", err)
	}
	if he.StatusCode != 403 || string(bytes.TrimSpace(he.Body)) != "members only" {
		return fmt.Errorf("refusal %d %q, want 403 %q", he.StatusCode, he.Body, "members only")
	}
	return nil
}

// closeCases are the server-initiated closes.
func (m mode) closeCases(s *suite) {
	for _, c := range []struct {
		code   ws.CloseCode
		reason string
	}{
		{1000, ""},
		{1001, "going away"},
		{4001, "säubern: non-ASCII reason"},
		{4999, strings.Repeat("r", 123)}, // the longest reason a close frame holds
	} {
		s.run(fmt.Sprintf("%s/server-close-%d-reason-%d", m.label, c.code, len(c.reason)), m.serverCloseAt("/close", c.code, c.reason))
	}
}

// negotiate checks the peer's answer to the mode's offer against the
// outcome expected of it and prints what was agreed on a NOTE line.
func (m mode) negotiate(ctx context.Context) error {
	cfg := m.cfg
	s, err := open(ctx, m.base+"/echo", &cfg)
	if m.answer == refused {
		if err == nil {
			defer s.stop()
			if p := s.c.Deflate(); p != nil {
				return fmt.Errorf("the client took the answer (%+v), want it refused", *p)
			}
			return errors.New("the server declined, want an answer the client refuses")
		}
		if !errors.Is(err, permessagedeflate.ErrBadAnswer) {
			return fmt.Errorf("dial: %w; want an error wrapping permessagedeflate.ErrBadAnswer", err)
		}
		fmt.Printf("NOTE %s: refused as expected: %v\n", m.label, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer s.stop()
	p := s.c.Deflate()
	switch {
	case m.answer == declined && p != nil:
		return fmt.Errorf("agreed %+v, want declined", *p)
	case m.answer == agreed && p == nil:
		return errors.New("declined, want agreed")
	case p != nil:
		fmt.Printf("NOTE %s: agreed %+v\n", m.label, *p)
		o := m.offer
		if o.ServerNoContextTakeover && !p.ServerNoContextTakeover {
			return fmt.Errorf("agreed %+v without the server_no_context_takeover offered", *p)
		}
		if o.ServerMaxWindowBits != 0 && p.ServerMaxWindowBits > o.ServerMaxWindowBits {
			return fmt.Errorf("agreed %+v, a server window over the %d bits offered", *p, o.ServerMaxWindowBits)
		}
		if o.ClientMaxWindowBits != 0 && p.ClientMaxWindowBits > o.ClientMaxWindowBits {
			return fmt.Errorf("agreed %+v, a client window over the %d bits offered", *p, o.ClientMaxWindowBits)
		}
	}
	return s.closeNormally(ctx)
}

// dial opens a session on path and checks that permessage-deflate was
// agreed exactly when the mode offers it.
func (m mode) dial(ctx context.Context, path string) (*session, error) {
	cfg := m.cfg
	s, err := open(ctx, m.base+path, &cfg)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if got := s.c.Deflate() != nil; got != m.compressed() {
		s.stop()
		return nil, fmt.Errorf("permessage-deflate agreed: %v, want %v", got, m.compressed())
	}
	// Over HTTP/2 the connection's NetConn is the stream, not the TLS
	// connection under it: the h2 modes want a stream, wss-prefer-h2 the
	// fallback to HTTP/1.1.
	if m.cfg.HTTP2 != client.HTTP2Off {
		_, onTLS := s.c.NetConn().(*tls.Conn)
		if onTLS == m.wantH2 {
			s.stop()
			return nil, fmt.Errorf("over HTTP/2: %v, want %v", !onTLS, m.wantH2)
		}
	}
	return s, nil
}

// echo sends one message and wants it back unchanged, then closes.
func (m mode) echo(path string, op ws.Opcode, p []byte) func(context.Context) error {
	return func(ctx context.Context) error {
		s, err := m.dial(ctx, path)
		if err != nil {
			return err
		}
		defer s.stop()
		if err := s.c.Send(op, p); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		got, err := s.next(ctx)
		if err != nil {
			return err
		}
		if err := same(got, op, p); err != nil {
			return err
		}
		return s.closeNormally(ctx)
	}
}

// sequence sends every size as text and binary on one connection, all at
// once, and wants them back in order: with compression the contexts
// carry over from message to message.
func (m mode) sequence(ctx context.Context) error {
	s, err := m.dial(ctx, "/echo")
	if err != nil {
		return err
	}
	defer s.stop()
	var want []received
	for _, n := range sizes {
		want = append(want, received{ws.OpText, utf8Text(n)}, received{ws.OpBinary, binary(n, n+1)})
	}
	for _, w := range want {
		if err := s.c.Send(w.op, w.payload); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	for i, w := range want {
		got, err := s.next(ctx)
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if err := same(got, w.op, w.payload); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return s.closeNormally(ctx)
}

// parallel opens n connections at once with client.Connect, all on one
// loop, echoes three messages on each and closes them: the asynchronous
// API, and many clients sharing a loop.
func (m mode) parallel(n int) func(context.Context) error {
	return func(ctx context.Context) error {
		loop := ws.NewLoop()
		var errs []error // appended to on the loop only
		closed := 0
		fail := func(i int, err error) { errs = append(errs, fmt.Errorf("connection %d: %w", i, err)) }
		for i := range n {
			msgs := [][]byte{binary(10, i), binary(1000, i), binary(70000, i)}
			cfg := m.cfg
			client.Connect(ctx, m.base+"/echo", &cfg, loop, func(c *ws.Conn, err error) {
				if err != nil {
					fail(i, err)
					return
				}
				if got := c.Deflate() != nil; got != m.compressed() {
					fail(i, fmt.Errorf("permessage-deflate agreed: %v, want %v", got, m.compressed()))
				}
				next := 0
				c.OnMessage(func(c *ws.Conn, msg *ws.Message) {
					if next < len(msgs) {
						if err := same(received{msg.Opcode, msg.Payload}, ws.OpBinary, msgs[next]); err != nil {
							fail(i, fmt.Errorf("message %d: %w", next, err))
						}
					}
					if next++; next == len(msgs) {
						c.Close(1000, "")
					}
				})
				c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) {
					closed++
					if next < len(msgs) || code != 1000 {
						fail(i, fmt.Errorf("closed with %d %q after %d echoes", code, reason, next))
					}
				})
				for _, p := range msgs {
					if err := c.SendBinary(p); err != nil {
						fail(i, fmt.Errorf("send: %w", err))
					}
				}
			})
		}
		done := make(chan struct{})
		go func() {
			loop.Run() // until every connection is over
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			loop.Stop()
			<-done
			return fmt.Errorf("not over before the case timeout (%d of %d closed)", closed, n)
		}
		if closed+len(errs) < n && len(errs) == 0 {
			return fmt.Errorf("%d of %d connections closed", closed, n)
		}
		if len(errs) > 3 {
			errs = append(errs[:3], fmt.Errorf("and %d more", len(errs)-3))
		}
		return errors.Join(errs...)
	}
}

// fragmentedPing wants the message back whole though the server pinged
// between its fragments, and the server's verdict on the pongs ("ok").
func (m mode) fragmentedPing(op ws.Opcode, p []byte, n int) func(context.Context) error {
	return func(ctx context.Context) error {
		s, err := m.dial(ctx, fmt.Sprintf("/fragmented-ping?n=%d", n))
		if err != nil {
			return err
		}
		defer s.stop()
		if err := s.c.Send(op, p); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		got, err := s.next(ctx)
		if err != nil {
			return err
		}
		if err := same(got, op, p); err != nil {
			return err
		}
		if got, err = s.next(ctx); err != nil {
			return err
		}
		if got.op != ws.OpText || string(got.payload) != "ok" {
			return fmt.Errorf("the server says about our pongs: %q", got.payload)
		}
		if k := s.pings.Load(); k != int32(n-1) {
			return fmt.Errorf("the ping listener saw %d pings, want %d", k, n-1)
		}
		return s.closeNormally(ctx)
	}
}

// proxyRefusals dial through the proxy without its credentials, with
// wrong ones, and to a port where nothing listens: each is a
// *client.HandshakeError wrapping client.ErrProxyRefused with the proxy's
// status.
func (m mode) proxyRefusals(s *suite) {
	bad := *m.proxy
	bad.User = url.UserPassword(m.proxy.User.Username(), "wrong")
	none := *m.proxy
	none.User = nil
	for _, c := range []struct {
		name   string
		proxy  *url.URL
		target string
		status []int
	}{
		{"no-credentials-407", &none, m.base + "/echo", []int{407}},
		// RFC 9110 section 15.5.8 wants 407 again; tinyproxy 1.11 answers
		// wrong credentials with 401 and WWW-Authenticate.
		{"wrong-credentials", &bad, m.base + "/echo", []int{401, 407}},
		{"target-down", m.proxy, "ws://127.0.0.1:1/", []int{500, 502, 503, 504}},
	} {
		s.run(m.label+"/proxy-refused-"+c.name, func(ctx context.Context) error {
			cfg := m.cfg
			cfg.Proxy = http.ProxyURL(c.proxy)
			sess, err := open(ctx, c.target, &cfg)
			if err == nil {
				sess.stop()
				return errors.New("connected, want the proxy's refusal")
			}
			var he *client.HandshakeError
			if !errors.As(err, &he) || !errors.Is(err, client.ErrProxyRefused) {
				return fmt.Errorf("dial: %w; want a *client.HandshakeError wrapping client.ErrProxyRefused", err)
			}
			if !slices.Contains(c.status, he.StatusCode) {
				return fmt.Errorf("the proxy's status %d, want one of %v", he.StatusCode, c.status)
			}
			fmt.Printf("NOTE %s/proxy-refused-%s: %d\n", m.label, c.name, he.StatusCode)
			return nil
		})
	}
}

// serverCloseAt wants the server's close code and reason, delivered to
// both the peer-close and the close listener: after a closing handshake
// (/close), or when the server ends the TCP connection right after its
// close frame (/close-abrupt; RFC 6455 section 7.1.5: the code is that of
// the close frame received).
func (m mode) serverCloseAt(path string, code ws.CloseCode, reason string) func(context.Context) error {
	return func(ctx context.Context) error {
		q := url.Values{"code": {strconv.Itoa(int(code))}, "reason": {reason}}
		s, err := m.dial(ctx, path+"?"+q.Encode())
		if err != nil {
			return err
		}
		defer s.stop()
		cl, err := s.waitClosed(ctx)
		if err != nil {
			return err
		}
		if !cl.peerCloseReceived {
			return fmt.Errorf("no close frame from the server; close reported %d %q", cl.code, cl.reason)
		}
		if cl.peerCode != code || cl.peerReason != reason {
			return fmt.Errorf("the server's close frame: %d %q, want %d %q", cl.peerCode, cl.peerReason, code, reason)
		}
		if cl.code != code || cl.reason != reason {
			return fmt.Errorf("close reported %d %q, want %d %q", cl.code, cl.reason, code, reason)
		}
		return nil
	}
}

// serverPing wants the server's verdict on our pongs ("ok") and its
// pings seen by the ping listener.
func (m mode) serverPing(ctx context.Context) error {
	s, err := m.dial(ctx, "/ping")
	if err != nil {
		return err
	}
	defer s.stop()
	got, err := s.next(ctx)
	if err != nil {
		return err
	}
	if got.op != ws.OpText || string(got.payload) != "ok" {
		return fmt.Errorf("the server says about our pongs: %q", got.payload)
	}
	if n := s.pings.Load(); n != 3 {
		return fmt.Errorf("the ping listener saw %d pings, want 3", n)
	}
	return s.closeNormally(ctx)
}

// binary returns n deterministic bytes, pseudo-random with runs, so that
// deflate has work to do and a misplaced byte shows.
func binary(n, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if x&0x300 == 0 && i > 0 {
			b[i] = b[i-1]
		} else {
			b[i] = byte(x)
		}
	}
	return b
}

// utf8Text returns exactly n bytes of valid UTF-8 that cycle through 1-,
// 2-, 3- and 4-byte characters (U+10FFFF among them), padded with ASCII.
func utf8Text(n int) []byte {
	chars := []rune{'a', 'é', '€', '𝄞', 'Z', 'ж', '中', '\U0010FFFF', ' '}
	b := make([]byte, 0, n)
	for i := 0; ; i++ {
		r := chars[i%len(chars)]
		if len(b)+utf8.RuneLen(r) > n {
			break
		}
		b = utf8.AppendRune(b, r)
	}
	for len(b) < n {
		b = append(b, '.')
	}
	return b
}

// same reports how got differs from the message wanted.
func same(got received, op ws.Opcode, want []byte) error {
	if got.op != op {
		return fmt.Errorf("opcode %d, want %d", got.op, op)
	}
	if bytes.Equal(got.payload, want) {
		return nil
	}
	if len(got.payload) != len(want) {
		return fmt.Errorf("%d bytes back, want %d", len(got.payload), len(want))
	}
	for i := range want {
		if got.payload[i] != want[i] {
			return fmt.Errorf("byte %d is %#x, want %#x", i, got.payload[i], want[i])
		}
	}
	return errors.New("payload differs")
}
