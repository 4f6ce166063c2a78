package autobahn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/client"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
)

// clientFamilies are the client side's families in report order. 1.x to
// 10.x and F.x are the server side's cases with the roles swapped (the
// frames the fuzzing client sends, unmasked, sent by the case's server;
// the same answers expected of the client); 12.x and 13.x answer the
// client's offer instead of making one; H.x is the client's half of the
// opening handshake.
func clientFamilies() []family {
	return []family{
		{id: "1", name: "framing", cases: framingCases, timeout: quickTimeout},
		{id: "2", name: "pings and pongs", cases: pingCases, timeout: quickTimeout},
		{id: "3", name: "reserved bits", cases: reservedBitCases, timeout: quickTimeout},
		{id: "4", name: "opcodes", cases: opcodeCases, timeout: quickTimeout},
		{id: "5", name: "fragmentation", cases: fragmentationCases, timeout: quickTimeout},
		{id: "6", name: "UTF-8 handling", cases: utf8Cases, timeout: quickTimeout},
		{id: "7", name: "close handling", cases: closeCases, timeout: quickTimeout},
		{id: "9", name: "limits and performance", cases: limitCases, timeout: heavy(), parallel: 2},
		{id: "10", name: "auto-fragmentation", cases: autoFragmentationCases, timeout: quickTimeout},
		{id: "12", name: "compression, payloads", cases: clientCompressionPayloadCases, timeout: heavy(), parallel: 4},
		{id: "13", name: "compression, parameters", cases: clientCompressionParameterCases, timeout: heavy(), parallel: 4},
		{id: "H", name: "opening handshake", cases: clientHandshakeCases, timeout: quickTimeout},
		{id: "F", name: "framing Autobahn leaves out", cases: clientStrictCases, timeout: quickTimeout},
	}
}

// TestClientConformance plays every client family against the client
// testee, one family after the other, the cases of a family in parallel,
// each against a server and a client of its own.
func TestClientConformance(t *testing.T) {
	side := newClientSide()
	runFamilies(t, clientFamilies(), clientTally, func(c testCase, timeout time.Duration) error {
		return playClient(side, c, timeout)
	})
}

// playClient runs one case on the client side: its script, then the end
// of everything it opened, the client's loop included.
func playClient(side *clientSide, c testCase, timeout time.Duration) error {
	e := &env{side: side, deadline: time.Now().Add(timeout)}
	start := time.Now()
	err := c.run(e)
	if err != nil && time.Now().After(e.deadline) {
		err = fmt.Errorf("timed out after %v: %w", time.Since(start).Round(time.Millisecond), err)
	}
	e.cleanup()
	if lerr := e.awaitClients(); err == nil {
		err = lerr
	}
	return err
}

// clientStrictCases are family F on the client side: the server side's,
// with F.1.2 turned round (a masked frame from the server).
func clientStrictCases() []testCase {
	var cases []testCase
	for _, c := range strictCases() {
		if c.id == "F.1.2" {
			c = testCase{id: "F.1.2", desc: "a masked server frame (RFC 6455 section 5.1): 1002", run: func(e *env) error {
				p, err := e.dial(nil)
				if err != nil {
					return err
				}
				if err := p.writeRaw(frame(true, 0, 1, b("hello"))); err != nil {
					return err
				}
				return p.expectFailure(1002)
			}}
		}
		cases = append(cases, c)
	}
	return cases
}

// clientCompressionPayloadCases are 12.x on the client side: the server
// accepts the client's offer without parameters, five corpora, every
// size.
func clientCompressionPayloadCases() []testCase {
	var cases []testCase
	for i, c := range corpora() {
		for j, s := range messageSizes {
			cases = append(cases, clientCompressionCase(fmt.Sprintf("12.%d.%d", i+1, j+1), c, "permessage-deflate", s.n, s.frag))
		}
	}
	return cases
}

// clientAnswers are the server's answers of 13.x on the client side, in
// the order of Autobahn's accepts: the client's context takeover and
// window (which the client must then keep to, as the independent inflater
// checks), and in 13.7 the server's own as well.
var clientAnswers = []string{
	"permessage-deflate",
	"permessage-deflate; client_no_context_takeover",
	"permessage-deflate; client_max_window_bits=9",
	"permessage-deflate; client_max_window_bits=15",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits=9",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits=15",
	"permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_no_context_takeover; client_max_window_bits=9",
}

// clientCompressionParameterCases are 13.x on the client side: the JSON
// corpus with each of clientAnswers.
func clientCompressionParameterCases() []testCase {
	json := corpora()[0]
	var cases []testCase
	for i, a := range clientAnswers {
		for j, s := range messageSizes {
			cases = append(cases, clientCompressionCase(fmt.Sprintf("13.%d.%d", i+1, j+1), json, a, s.n, s.frag))
		}
	}
	return cases
}

// clientCompressionCase sends messageCount(n) messages of about n bytes,
// compressed by compress/flate as the answer lets the server compress
// (each once the previous echo is back), and checks every echo byte for
// byte, that the client compressed what is worth compressing, and (in
// the peer's reader, with the independent inflater) that the client kept
// to the context takeover and window the answer gave it.
func clientCompressionCase(id string, c corpus, answer string, n, frag int) testCase {
	count := messageCount(n)
	desc := fmt.Sprintf("%d messages of %d bytes from %s, frames of %d, answer %q", count, n, c.name, frag, answer)
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.serve(nil, answer, "")
		if err != nil {
			return err
		}
		op := byte(1)
		if c.binary {
			op = 2
		}
		src := &slicer{c: c}
		threshold := permessagedeflate.DefaultThreshold // the client testee's Threshold is 0
		for i := range count {
			msg := src.next(n)
			if err := p.write(p.compressed(op, msg, frag)); err != nil {
				return err
			}
			ev, err := p.next(p.deadline)
			if err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
			if err := echo(op, msg).check(ev); err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
			if want := len(msg) >= threshold; ev.compressed != want {
				return fmt.Errorf("message %d of %d bytes: compressed %v, want %v (threshold %d)", i+1, len(msg), ev.compressed, want, threshold)
			}
		}
		return p.closeNormally()
	}}
}

// refusal is what Connect must report for a bad answer: a
// *client.HandshakeError with the status and the cause (status -1: any
// error wrapping cause that is not a HandshakeError).
type refusal struct {
	status int
	cause  error
}

func (r refusal) check(err error) error {
	var he *client.HandshakeError
	switch {
	case err == nil:
		return errors.New("the client took the answer")
	case !errors.Is(err, r.cause):
		return fmt.Errorf("Connect: %v, want it to wrap %v", err, r.cause)
	case r.status < 0:
		if errors.As(err, &he) {
			return fmt.Errorf("Connect: %v is a HandshakeError", err)
		}
		return nil
	case !errors.As(err, &he):
		return fmt.Errorf("Connect: %v (%T), want a *client.HandshakeError", err, err)
	case he.StatusCode != r.status:
		return fmt.Errorf("HandshakeError status %d, want %d", he.StatusCode, r.status)
	case len(he.Body) > client.MaxErrorBodySize:
		return fmt.Errorf("HandshakeError body of %d bytes", len(he.Body))
	}
	return nil
}

// clientRefuses is an H case whose answer the client must refuse as want says,
// sending nothing after its request and ending the TCP connection. cfg
// changes the client testee's configuration (nil: none).
func clientRefuses(id, desc string, cfg func(*client.Config), answer func(rc *rawConn), want refusal) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		c := ClientTesteeConfig()
		if cfg != nil {
			cfg(c)
		}
		r, err := e.startClient(c)
		if err != nil {
			return err
		}
		rc, err := e.accept(r)
		if err != nil {
			return err
		}
		answer(rc)
		if err := want.check(e.connected(r)); err != nil {
			return err
		}
		rc.nc.SetReadDeadline(time.Now().Add(wstest.WaitTimeout))
		n, err := io.Copy(io.Discard, rc.br)
		switch {
		case n > 0:
			return fmt.Errorf("the client sent %d bytes after refusing the answer", n)
		case isTimeout(err):
			return errors.New("the client kept the TCP connection open after refusing the answer")
		}
		return nil
	}}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// say writes s, ignoring errors: the client may have hung up.
func say(s string) func(rc *rawConn) {
	return func(rc *rawConn) { io.WriteString(rc.nc, s) }
}

// say101 writes a 101 made from the request's key.
func say101(f func(key string) string) func(rc *rawConn) {
	return func(rc *rawConn) { io.WriteString(rc.nc, f(rc.key)) }
}

// clientHandshakeCases are family H on the client side (RFC 6455 section
// 4.1, the client's checks of the server's answer, and RFC 7692 section
// 7.1): every answer that does not establish the connection is a typed
// refusal, with nothing sent after the request; the last two must be
// taken.
func clientHandshakeCases() []testCase {
	long := strings.Repeat("b", 3*client.MaxErrorBodySize)
	bad := handshake.ErrBadServerResponse
	head := func(accept, upgrade, connection, extra string) string {
		s := "HTTP/1.1 101 Switching Protocols\r\n"
		if upgrade != "" {
			s += "Upgrade: " + upgrade + "\r\n"
		}
		if connection != "" {
			s += "Connection: " + connection + "\r\n"
		}
		if accept != "" {
			s += "Sec-WebSocket-Accept: " + accept + "\r\n"
		}
		return s + extra + "\r\n"
	}
	ext := func(answer string) func(rc *rawConn) {
		return say101(func(key string) string { return switching(key, answer, "") })
	}
	return []testCase{
		clientRefuses("H.1", "a 200 instead of a 101, with a long body: 200, the body cut at MaxErrorBodySize", nil,
			say(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(long), long)), refusal{200, bad}),
		clientRefuses("H.2", "a redirect: not followed", nil,
			say("HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n"), refusal{302, bad}),
		clientRefuses("H.3", "a 101 whose Sec-WebSocket-Accept answers another key", nil,
			say101(func(string) string { return head(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "websocket", "Upgrade", "") }), refusal{101, bad}),
		clientRefuses("H.4", "a 101 without Sec-WebSocket-Accept", nil,
			say(head("", "websocket", "Upgrade", "")), refusal{101, bad}),
		clientRefuses("H.5", "a 101 upgrading to another protocol", nil,
			say101(func(key string) string { return head(acceptKey(key), "h2c", "Upgrade", "") }), refusal{101, bad}),
		clientRefuses("H.6", "a 101 without Connection: Upgrade", nil,
			say101(func(key string) string { return head(acceptKey(key), "websocket", "keep-alive", "") }), refusal{101, bad}),
		clientRefuses("H.7", "a subprotocol the client did not offer", nil,
			say101(func(key string) string { return switching(key, "", "Sec-WebSocket-Protocol: chat\r\n") }), refusal{101, client.ErrProtocolNotOffered}),
		clientRefuses("H.8", "a subprotocol other than those offered", func(c *client.Config) { c.Protocols = []string{"a", "b"} },
			say101(func(key string) string { return switching(key, "", "Sec-WebSocket-Protocol: c\r\n") }), refusal{101, client.ErrProtocolNotOffered}),
		clientRefuses("H.9", "an extension the client did not offer", nil, ext("x-webkit-deflate-frame"), refusal{101, client.ErrExtensionNotOffered}),
		clientRefuses("H.10", "permessage-deflate accepted twice", nil, ext("permessage-deflate, permessage-deflate"), refusal{101, client.ErrExtensionNotOffered}),
		clientRefuses("H.11", "permessage-deflate with a parameter RFC 7692 does not define", nil,
			ext("permessage-deflate; x_window"), refusal{101, permessagedeflate.ErrBadAnswer}),
		clientRefuses("H.12", "client_max_window_bits=7, outside 8 to 15", nil,
			ext("permessage-deflate; client_max_window_bits=7"), refusal{101, permessagedeflate.ErrBadAnswer}),
		clientRefuses("H.13", "client_max_window_bits above the offered 10", func(c *client.Config) { c.Deflate.ClientMaxWindowBits = 10 },
			ext("permessage-deflate; client_max_window_bits=11"), refusal{101, permessagedeflate.ErrBadAnswer}),
		clientRefuses("H.14", "server_max_window_bits missing, though the offer asked for 10 (RFC 7692 section 7.1.2.1)",
			func(c *client.Config) { c.Deflate.ServerMaxWindowBits = 10 }, ext("permessage-deflate"), refusal{101, permessagedeflate.ErrBadAnswer}),
		clientRefuses("H.15", "a response head over MaxHandshakeSize", nil,
			say101(func(key string) string {
				return switching(key, "", "X-Filler: "+strings.Repeat("f", 20<<10)+"\r\n")
			}), refusal{0, client.ErrResponseTooLarge}),
		clientRefuses("H.16", "a slowloris server: the head a byte at a time, cut off by the handshake timeout",
			func(c *client.Config) { c.HandshakeTimeout = 300 * time.Millisecond },
			func(rc *rawConn) {
				for _, c := range []byte(switching(rc.key, "", "X-Slow: "+strings.Repeat("s", 1000)+"\r\n")) {
					if _, err := rc.nc.Write([]byte{c}); err != nil {
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}, refusal{-1, context.DeadlineExceeded}),
		clientRefuses("H.17", "an answer that is not HTTP", nil, say("SSH-2.0-OpenSSH_9.6\r\n\r\n"), refusal{0, client.ErrMalformedResponse}),
		clientRefuses("H.18", "the server hangs up before the end of the head", nil,
			func(rc *rawConn) {
				io.WriteString(rc.nc, "HTTP/1.1 101 Switching Protocols\r\n")
				rc.nc.(interface{ CloseWrite() error }).CloseWrite()
			}, refusal{-1, io.ErrUnexpectedEOF}),
		{id: "H.19", desc: "a text and a ping in the same write as the 101: echo, pong", run: func(e *env) error {
			var u unmasker
			behind := u.feed(append(frame(true, 0, 1, b("behind the 101")), frame(true, 0, 9, b("ping"))...))
			p, err := e.open(nil, "", func(rc *rawConn) string { return switching(rc.key, "", "") + string(behind) })
			if err != nil {
				return err
			}
			if err := p.expect(text("behind the 101"), pong(b("ping"))); err != nil {
				return err
			}
			return p.closeNormally()
		}},
		{id: "H.20", desc: "a 101 written loosely (header names and tokens in other cases, Connection a list): taken", run: func(e *env) error {
			p, err := e.open(nil, "", func(rc *rawConn) string {
				return "HTTP/1.1 101 Web Socket Protocol Handshake\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, upgrade\r\nsec-websocket-accept: " +
					acceptKey(rc.key) + "\r\nServer: loose\r\n\r\n"
			})
			if err != nil {
				return err
			}
			if err := p.write(frame(true, 0, 1, b("loose"))); err != nil {
				return err
			}
			if err := p.expect(text("loose")); err != nil {
				return err
			}
			return p.closeNormally()
		}},
	}
}
