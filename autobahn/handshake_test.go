package autobahn

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"

	"unievent.dev/internal/wstest"
)

// sampleKey is the key of RFC 6455 section 1.3, whose accept value the RFC
// gives: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
const sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

// acceptFor computes Sec-WebSocket-Accept (RFC 6455 section 4.2.2 item 5.4)
// here rather than through ws/handshake.
func acceptFor(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// request builds a raw request: the request line, then the header lines.
func request(line string, headers ...string) []byte {
	return []byte(line + "\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n")
}

// upgradeHeaders are the header lines of a valid handshake, with the
// lines in drop left out (by name) and extra ones added.
func upgradeHeaders(drop []string, extra ...string) []string {
	var out []string
	for _, h := range []string{"Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Version: 13"} {
		name, _, _ := strings.Cut(h, ":")
		keep := true
		for _, d := range drop {
			keep = keep && !strings.EqualFold(d, name)
		}
		if keep {
			out = append(out, h)
		}
	}
	return append(out, extra...)
}

// refused is a handshake the server must refuse with status, and with the
// header fields in header (name, value pairs).
func refused(id, desc string, raw []byte, status int, header ...string) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		nc, err := e.tcp()
		if err != nil {
			return err
		}
		if _, err := nc.Write(raw); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != status {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, status)
		}
		for i := 0; i+1 < len(header); i += 2 {
			if got := resp.Header.Get(header[i]); !strings.EqualFold(got, header[i+1]) {
				return fmt.Errorf("%s: %q, want %q", header[i], got, header[i+1])
			}
		}
		if resp.Header.Get("Sec-WebSocket-Accept") != "" {
			return fmt.Errorf("a refusal carries Sec-WebSocket-Accept")
		}
		return nil
	}}
}

// accepted is a handshake the server must accept: raw is written in
// writes of chop bytes (all at once when 0), the 101 must be right (RFC
// 6455 section 4.2.2), and then whatever raw carried behind the request
// and a message sent afterwards come back.
func accepted(id, desc string, raw []byte, chop int, ws ...want) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		nc, err := e.tcp()
		if err != nil {
			return err
		}
		if chop == 0 {
			chop = len(raw)
		}
		for i := 0; i < len(raw); i += chop {
			if _, err := nc.Write(raw[i:min(i+chop, len(raw))]); err != nil {
				return err
			}
		}
		c, err := wstest.ReadHandshake(nc, e.deadline)
		if err != nil {
			return fmt.Errorf("opening handshake: %w", err)
		}
		h := c.Resp.Header
		switch {
		case !strings.EqualFold(h.Get("Upgrade"), "websocket"):
			return fmt.Errorf("101 with Upgrade %q", h.Get("Upgrade"))
		case !strings.EqualFold(h.Get("Connection"), "upgrade"):
			return fmt.Errorf("101 with Connection %q", h.Get("Connection"))
		case h.Get("Sec-WebSocket-Accept") != acceptFor(sampleKey):
			return fmt.Errorf("Sec-WebSocket-Accept %q, want %q", h.Get("Sec-WebSocket-Accept"), acceptFor(sampleKey))
		case len(h.Values("Sec-WebSocket-Protocol")) != 0:
			return fmt.Errorf("the testee speaks no subprotocol but answered %q", h.Values("Sec-WebSocket-Protocol"))
		case len(h.Values("Sec-WebSocket-Extensions")) != 0:
			return fmt.Errorf("extension answered %q to an offer of none it knows", h.Values("Sec-WebSocket-Extensions"))
		}
		p, err := e.start(c)
		if err != nil {
			return err
		}
		if err := p.expect(ws...); err != nil {
			return err
		}
		if err := p.write(frame(true, 0, 1, b("after the handshake"))); err != nil {
			return err
		}
		if err := p.expect(text("after the handshake")); err != nil {
			return err
		}
		return p.closeNormally()
	}}
}

// handshakeCases are family H, the opening handshake (RFC 6455 section
// 4.2), which Autobahn does not test: every refusal of ws/handshake with
// its status, and the accepted forms users trip over.
func handshakeCases() []testCase {
	get := "GET / HTTP/1.1"
	valid := upgradeHeaders(nil)
	var withBody []byte
	withBody = append(withBody, request(get, valid...)...)
	withBody = append(withBody, frame(true, 0, 1, b("pipelined"))...)
	withBody = append(withBody, frame(true, 0, 9, b("ping"))...)
	return []testCase{
		refused("H.1.1", "POST: 405 with Allow: GET", request("POST / HTTP/1.1", append(valid, "Content-Length: 0")...), 405, "Allow", "GET"),
		refused("H.1.2", "HTTP/1.0: 400", request("GET / HTTP/1.0", valid...), 400),
		refused("H.1.3", "no Host: 400", request(get, upgradeHeaders([]string{"Host"})...), 400),
		refused("H.1.4", "no Upgrade: a plain request, 426 with Upgrade: websocket",
			request(get, upgradeHeaders([]string{"Upgrade"})...), 426, "Upgrade", "websocket"),
		refused("H.1.5", "Upgrade without websocket: a plain request, 426",
			request(get, upgradeHeaders([]string{"Upgrade"}, "Upgrade: h2c")...), 426, "Upgrade", "websocket"),
		refused("H.1.6", "Connection without upgrade: 400",
			request(get, upgradeHeaders([]string{"Connection"}, "Connection: keep-alive")...), 400),
		refused("H.1.7", "no Sec-WebSocket-Version: 426 with Sec-WebSocket-Version: 13",
			request(get, upgradeHeaders([]string{"Sec-WebSocket-Version"})...), 426, "Sec-WebSocket-Version", "13"),
		refused("H.1.8", "Sec-WebSocket-Version: 8: 426 with Sec-WebSocket-Version: 13",
			request(get, upgradeHeaders([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8")...), 426, "Sec-WebSocket-Version", "13"),
		refused("H.1.9", "Sec-WebSocket-Version twice: 426",
			request(get, upgradeHeaders(nil, "Sec-WebSocket-Version: 13")...), 426, "Sec-WebSocket-Version", "13"),
		refused("H.1.10", "no Sec-WebSocket-Key: 400", request(get, upgradeHeaders([]string{"Sec-WebSocket-Key"})...), 400),
		refused("H.1.11", "Sec-WebSocket-Key twice: 400",
			request(get, upgradeHeaders(nil, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==")...), 400),
		refused("H.1.12", "Sec-WebSocket-Key of 15 bytes: 400",
			request(get, upgradeHeaders([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4P")...), 400),
		refused("H.1.13", "Sec-WebSocket-Key of 17 bytes: 400",
			request(get, upgradeHeaders([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEBE=")...), 400),
		refused("H.1.14", "Sec-WebSocket-Key without padding: 400",
			request(get, upgradeHeaders([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ")...), 400),
		refused("H.1.15", "Sec-WebSocket-Key not base64: 400",
			request(get, upgradeHeaders([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==")...), 400),
		refused("H.1.16", "Sec-WebSocket-Protocol that is not a token list: 400",
			request(get, upgradeHeaders(nil, "Sec-WebSocket-Protocol: chat, sup@r")...), 400),
		refused("H.1.17", "malformed Sec-WebSocket-Extensions (unterminated quoted string): 400",
			request(get, upgradeHeaders(nil, `Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits="10`)...), 400),
		refused("H.1.18", "malformed Sec-WebSocket-Extensions (empty extension name): 400",
			request(get, upgradeHeaders(nil, "Sec-WebSocket-Extensions: ; server_no_context_takeover")...), 400),
		refused("H.1.19", "32 KiB of header fields: 431",
			request(get, upgradeHeaders(nil, "X-Padding: "+strings.Repeat("a", 32<<10))...), 431),
		accepted("H.2.1", "Upgrade and Connection in other cases and in lists",
			request(get, upgradeHeaders([]string{"Upgrade", "Connection"}, "Upgrade: foo/2, WebSocket", "Connection: keep-alive, UPGRADE")...), 0),
		accepted("H.2.2", "header names in lower case",
			request(get, "host: 127.0.0.1", "upgrade: websocket", "connection: upgrade", "sec-websocket-key: "+sampleKey, "sec-websocket-version: 13"), 0),
		accepted("H.2.3", "a subprotocol offer the testee does not speak: no Sec-WebSocket-Protocol",
			request(get, upgradeHeaders(nil, "Sec-WebSocket-Protocol: chat, superchat")...), 0),
		accepted("H.2.4", "an unknown extension: no Sec-WebSocket-Extensions",
			request(get, upgradeHeaders(nil, "Sec-WebSocket-Extensions: x-webkit-deflate-frame")...), 0),
		accepted("H.2.5", "the request written one byte at a time", request(get, valid...), 1),
		accepted("H.2.6", "a message and a ping pipelined right behind the request, in the same write",
			withBody, 0, text("pipelined"), pong(b("ping"))),
		accepted("H.2.7", "a message pipelined behind a request written one byte at a time",
			withBody, 1, text("pipelined"), pong(b("ping"))),
		accepted("H.2.8", "an absolute request URI", request("GET http://127.0.0.1/chat HTTP/1.1", valid...), 0),
	}
}
