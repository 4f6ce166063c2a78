package client

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"unievent.dev/ws/handshake"
	"unievent.dev/ws/internal/engine"
	"unievent.dev/ws/permessagedeflate"
)

// appendRequest appends the client's opening handshake (RFC 6455 section
// 4.1, https://www.rfc-editor.org/rfc/rfc6455#section-4.1) for key.
func appendRequest(b []byte, t target, cfg *Config, key string) []byte {
	b = append(b, "GET "...)
	b = append(b, t.uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if cfg.Origin != "" {
		b = appendField(b, "Origin", cfg.Origin)
	}
	if len(cfg.Protocols) > 0 {
		b = appendField(b, "Sec-WebSocket-Protocol", strings.Join(cfg.Protocols, ", "))
	}
	if cfg.Deflate != nil {
		b = appendField(b, "Sec-WebSocket-Extensions", permessagedeflate.Offer(cfg.Deflate).String())
	}
	names := make([]string, 0, len(cfg.Header))
	for name := range cfg.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range cfg.Header[name] {
			b = appendField(b, name, v)
		}
	}
	return append(b, "\r\n"...)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// headEnd ends an HTTP head.
var headEnd = []byte("\r\n\r\n")

// readHead reads until the end of the response head, which may take at
// most limit bytes; it returns the head and the bytes read past it.
func readHead(nc net.Conn, limit int) (head, rest []byte, err error) {
	buf := make([]byte, 0, min(limit+len(headEnd), 4<<10))
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(len(buf), 16<<10))
		}
		from := max(0, len(buf)-len(headEnd)+1)
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if i := bytes.Index(buf[from:], headEnd); i >= 0 {
			end := from + i + len(headEnd)
			if end > limit {
				return nil, nil, ErrResponseTooLarge
			}
			return buf[:end], buf[end:], nil
		}
		if len(buf) >= limit {
			return nil, nil, ErrResponseTooLarge
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, fmt.Errorf("client: read the handshake response: %w", err)
		}
	}
}

// readResponse reads the server's answer and checks it: what the
// engine needs to know of an established connection, or why there is
// none.
func readResponse(nc net.Conn, key string, cfg *Config) (engine.Options, error) {
	head, rest, err := readHead(nc, cfg.maxHandshakeSize())
	if err == ErrResponseTooLarge {
		return engine.Options{}, &HandshakeError{Err: ErrResponseTooLarge}
	}
	if err != nil {
		return engine.Options{}, err
	}
	// A 101 has no body, and net/http reads none; a refusal's body
	// follows the head, in rest and on the socket.
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(head), bytes.NewReader(rest), nc))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return engine.Options{}, &HandshakeError{Err: fmt.Errorf("%w: %v", ErrMalformedResponse, err)}
	}
	herr := &HandshakeError{StatusCode: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// Read what comes of the body within the handshake's deadline.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBodySize))
		herr.Body = body
	}
	if err := handshake.CheckResponse(resp, key); err != nil {
		herr.Err = err
		return engine.Options{}, herr
	}
	o := engine.Options{Buffered: rest}
	if o.Protocol, err = chosenProtocol(resp.Header, cfg.Protocols); err != nil {
		herr.Err = err
		return engine.Options{}, herr
	}
	if o.Deflate, err = acceptedExtensions(resp.Header, cfg.Deflate); err != nil {
		herr.Err = err
		return engine.Options{}, herr
	}
	return o, nil
}

// chosenProtocol checks the server's Sec-WebSocket-Protocol: absent, or
// one of those offered (RFC 6455 section 4.1, the client's step 6).
func chosenProtocol(h http.Header, offered []string) (string, error) {
	vs := h.Values("Sec-WebSocket-Protocol")
	if len(vs) == 0 {
		return "", nil
	}
	p := strings.Trim(vs[0], " \t")
	if len(vs) > 1 || !slices.Contains(offered, p) {
		return "", fmt.Errorf("%w: %q", ErrProtocolNotOffered, strings.Join(vs, ", "))
	}
	return p, nil
}

// acceptedExtensions checks the server's Sec-WebSocket-Extensions: only
// permessage-deflate, once, and only when offered (RFC 6455 section 4.1,
// the client's step 5), with an answer RFC 7692 section 7.1 allows.
func acceptedExtensions(h http.Header, offer *permessagedeflate.Config) (*permessagedeflate.Params, error) {
	exts, err := handshake.ParseExtensions(h.Values("Sec-WebSocket-Extensions"))
	if err != nil {
		return nil, fmt.Errorf("%w: Sec-WebSocket-Extensions: %v", ErrMalformedResponse, err)
	}
	var params *permessagedeflate.Params
	for _, e := range exts {
		if e.Name != permessagedeflate.ExtensionName || offer == nil || params != nil {
			return nil, fmt.Errorf("%w: %s", ErrExtensionNotOffered, e)
		}
		p, err := permessagedeflate.CheckAnswer(e, offer)
		if err != nil {
			return nil, err
		}
		params = &p
	}
	return params, nil
}
