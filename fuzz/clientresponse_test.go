package fuzz

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/permessagedeflate"
)

// Offer bits of a FuzzClientResponse input: what the client asks for.
const (
	respOfferDeflate   = 1 << iota // permessage-deflate, client_max_window_bits without a value
	respOfferProtocols             // the subprotocols "chat" and "superchat"
	respOfferWindow                // with respOfferDeflate: server_max_window_bits=10, client_max_window_bits=12
)

// respMaxHead is the MaxHandshakeSize of FuzzClientResponse's client.
const respMaxHead = 1 << 10

// FuzzClientResponse feeds ws/client's response-head parser and the
// checks of the server's answer (RFC 6455 section 4.1, RFC 7692 section
// 7.1): the bytes are the server's whole answer to the upgrade request
// ("{accept}" stands for the right Sec-WebSocket-Accept), after which the
// server ends its side. A connection the client takes must come from an
// answer that really establishes one, checked here apart from
// ws/handshake and ws/permessagedeflate: a head within
// MaxHandshakeSize, status 101, Upgrade and Connection tokens, the accept
// key, a subprotocol among those offered and a permessage-deflate answer
// to an offer, within its window bits. A refusal is a typed error: a
// *client.HandshakeError with the status the head has and a bounded body,
// or the end of the connection before a whole head. Nothing hangs and the
// client ends the TCP connection either way.
func FuzzClientResponse(f *testing.F) {
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
	for _, seed := range []struct {
		s     string
		offer byte
	}{
		{ok + "\r\n", 0},
		{ok + "Sec-WebSocket-Protocol: chat\r\n\r\n", respOfferProtocols},
		{ok + "Sec-WebSocket-Protocol: chat\r\n\r\n", 0},
		{ok + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; client_no_context_takeover\r\n\r\n", respOfferDeflate | respOfferWindow},
		{ok + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=13\r\n\r\n", respOfferDeflate | respOfferWindow},
		{ok + "Sec-WebSocket-Extensions: permessage-deflate, x-other\r\n\r\n", respOfferDeflate},
		{"HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n", 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0},
		{"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\n\r\n", 0},
		{"HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n", 0},
		{"HTTP/1.1 101 Switching Protocols\r\nX: " + strings.Repeat("x", respMaxHead) + "\r\n\r\n", 0},
	} {
		f.Add([]byte(seed.s), seed.offer)
	}
	url, answers, loop := hostileServer(f)
	f.Fuzz(func(t *testing.T, data []byte, offer byte) {
		var cfg client.Config
		cfg.HandshakeTimeout = clientLimit
		cfg.MaxHandshakeSize = respMaxHead
		cfg.CloseTimeout = 10 * time.Millisecond
		if offer&respOfferProtocols != 0 {
			cfg.Protocols = []string{"chat", "superchat"}
		}
		if offer&respOfferDeflate != 0 {
			cfg.Deflate = &permessagedeflate.Config{}
			if offer&respOfferWindow != 0 {
				cfg.Deflate.ServerMaxWindowBits, cfg.Deflate.ClientMaxWindowBits = 10, 12
			}
		}
		sent := make(chan answer, 1) // the answer as the server wrote it
		served := make(chan struct{})
		go func() {
			answers <- func(nc net.Conn) {
				defer close(served)
				serveAnswer(nc, data, sent)
			}
		}()
		type result struct {
			err    error
			checks error
		}
		done := make(chan result, 1)
		client.Connect(context.Background(), url, &cfg, loop, func(c *ws.Conn, err error) {
			r := result{err: err}
			if c != nil {
				a := <-sent
				sent <- a
				r.checks = checkTaken(a, c, &cfg)
				c.Close(1000, "")
			}
			done <- r
		})
		var r result
		select {
		case r = <-done:
		case <-time.After(clientLimit + time.Second):
			t.Fatal("Connect did not call back")
		}
		select {
		case <-served:
		case <-time.After(clientLimit):
			t.Fatal("the client kept the TCP connection open")
		}
		if r.err == nil {
			if r.checks != nil {
				t.Fatalf("the client took the answer: %v", r.checks)
			}
			return
		}
		var he *client.HandshakeError
		if !errors.As(r.err, &he) {
			if !strings.Contains(r.err.Error(), "read the handshake response") {
				t.Fatalf("Connect: %v (%T): neither a HandshakeError nor the end of the connection", r.err, r.err)
			}
			return
		}
		if len(he.Body) > client.MaxErrorBodySize {
			t.Fatalf("HandshakeError body of %d bytes", len(he.Body))
		}
		if he.StatusCode != 0 {
			a := <-sent
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(a.out)), nil)
			if err != nil || resp.StatusCode != he.StatusCode {
				t.Fatalf("HandshakeError status %d for an answer whose head reads as %v, %v", he.StatusCode, resp, err)
			}
		}
	})
}

// answer is what the server of FuzzClientResponse wrote, and the
// Sec-WebSocket-Accept its client's key wants.
type answer struct {
	out    []byte
	accept string
}

// serveAnswer reads the upgrade request on nc, writes data with
// "{accept}" replaced and sends what it wrote on sent, then ends its side
// and waits for the client to end its own.
func serveAnswer(nc net.Conn, data []byte, sent chan<- answer) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(clientLimit))
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		sent <- answer{}
		return
	}
	a := answer{accept: respAcceptKey(req.Header.Get("Sec-WebSocket-Key"))}
	a.out = bytes.ReplaceAll(data, []byte("{accept}"), []byte(a.accept))
	nc.Write(a.out)
	sent <- a
	nc.(*net.TCPConn).CloseWrite()
	var sink [4 << 10]byte
	for {
		if _, err := br.Read(sink[:]); err != nil {
			return
		}
	}
}

// respAcceptKey is Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2),
// computed here apart from ws/handshake.
func respAcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// checkTaken checks, apart from the client's own code, that the answer
// the client took establishes a WebSocket connection for cfg's offer, and
// that the connection reports what it agreed.
func checkTaken(a answer, c *ws.Conn, cfg *client.Config) error {
	end := bytes.Index(a.out, []byte("\r\n\r\n"))
	if end < 0 || end+4 > respMaxHead {
		return fmt.Errorf("a head of %d bytes (limit %d) or none", end+4, respMaxHead)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(a.out)), nil)
	if err != nil {
		return fmt.Errorf("a head that does not parse: %v", err)
	}
	h := resp.Header
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return fmt.Errorf("status %d", resp.StatusCode)
	case !respHasToken(h.Values("Upgrade"), "websocket"):
		return fmt.Errorf("Upgrade %q", h.Values("Upgrade"))
	case !respHasToken(h.Values("Connection"), "upgrade"):
		return fmt.Errorf("Connection %q", h.Values("Connection"))
	case len(h.Values("Sec-WebSocket-Accept")) != 1 || h.Get("Sec-WebSocket-Accept") != a.accept:
		return fmt.Errorf("Sec-WebSocket-Accept %q, want %q", h.Values("Sec-WebSocket-Accept"), a.accept)
	}
	protos := h.Values("Sec-WebSocket-Protocol")
	switch {
	case len(protos) == 0 && c.Protocol() != "":
		return fmt.Errorf("protocol %q without a Sec-WebSocket-Protocol", c.Protocol())
	case len(protos) > 1:
		return fmt.Errorf("Sec-WebSocket-Protocol %q: several", protos)
	case len(protos) == 1 && (!slices.Contains(cfg.Protocols, c.Protocol()) || strings.Trim(protos[0], " \t") != c.Protocol()):
		return fmt.Errorf("Sec-WebSocket-Protocol %q taken as %q, offered %q", protos, c.Protocol(), cfg.Protocols)
	}
	exts := strings.TrimSpace(strings.Join(h.Values("Sec-WebSocket-Extensions"), ","))
	p := c.Deflate()
	switch {
	case p == nil && strings.Trim(exts, " \t,") != "":
		return fmt.Errorf("extensions %q taken without permessage-deflate", exts)
	case p == nil:
		return nil
	case cfg.Deflate == nil:
		return fmt.Errorf("permessage-deflate (%q) taken without an offer", exts)
	case !strings.HasPrefix(strings.ToLower(strings.TrimLeft(exts, " \t,")), "permessage-deflate"):
		return fmt.Errorf("permessage-deflate taken from %q", exts)
	case p.ServerMaxWindowBits < 8 || p.ServerMaxWindowBits > 15 || p.ClientMaxWindowBits < 8 || p.ClientMaxWindowBits > 15:
		return fmt.Errorf("window bits %d and %d from %q", p.ServerMaxWindowBits, p.ClientMaxWindowBits, exts)
	case cfg.Deflate.ServerMaxWindowBits != 0 && p.ServerMaxWindowBits > cfg.Deflate.ServerMaxWindowBits:
		return fmt.Errorf("server_max_window_bits %d above the offered %d", p.ServerMaxWindowBits, cfg.Deflate.ServerMaxWindowBits)
	case cfg.Deflate.ClientMaxWindowBits != 0 && p.ClientMaxWindowBits > cfg.Deflate.ClientMaxWindowBits:
		return fmt.Errorf("client_max_window_bits %d above the offered %d", p.ClientMaxWindowBits, cfg.Deflate.ClientMaxWindowBits)
	}
	return nil
}

// respHasToken reports whether a comma-separated header list holds
// token, compared case-insensitively (RFC 9110 section 5.6.1).
func respHasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}
