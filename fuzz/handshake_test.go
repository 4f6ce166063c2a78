package fuzz

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"unievent.dev/ws/handshake"
)

const hsValidUpgrade = "GET /chat HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n"

// FuzzHandshake feeds raw bytes through http.ReadRequest and
// handshake.Validate. A refusal must be an *handshake.Error whose response
// parses back with its status and reason; an accepted request must really
// satisfy RFC 6455 section 4.2.1 (checked here independently), and the 101
// response written for it must parse and pass the client's CheckResponse.
func FuzzHandshake(f *testing.F) {
	for _, s := range []string{
		hsValidUpgrade + "\r\n",
		hsValidUpgrade + "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
		hsValidUpgrade + "Sec-WebSocket-Extensions: a; b=\"1\", c\r\nSec-WebSocket-Extensions: d\r\nOrigin: http://x\r\n\r\n",
		strings.Replace(hsValidUpgrade, "websocket", "WebSocket, foo/2", 1) + "\r\n",
		strings.Replace(hsValidUpgrade, "13", "8", 1) + "\r\n",
		strings.Replace(hsValidUpgrade, "GET", "POST", 1) + "Content-Length: 0\r\n\r\n",
		strings.Replace(hsValidUpgrade, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		req, err := handshake.Validate(r)
		if req == nil {
			t.Fatal("Validate returned a nil *Request")
		}
		if req.Err() != err {
			t.Fatalf("req.Err() = %v, Validate returned %v", req.Err(), err)
		}
		if err != nil {
			hsCheckRefusal(t, err)
			return
		}

		if r.Method != "GET" || !r.ProtoAtLeast(1, 1) || r.Host == "" {
			t.Fatalf("accepted %s %s with Host %q", r.Method, r.Proto, r.Host)
		}
		if !hsListHas(r.Header.Values("Upgrade"), "websocket") || !hsListHas(r.Header.Values("Connection"), "upgrade") {
			t.Fatalf("accepted Upgrade %q, Connection %q", r.Header.Values("Upgrade"), r.Header.Values("Connection"))
		}
		if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || v[0] != "13" {
			t.Fatalf("accepted Sec-WebSocket-Version %q", v)
		}
		if keys := r.Header.Values("Sec-WebSocket-Key"); len(keys) != 1 || keys[0] != req.Key {
			t.Fatalf("Key %q from Sec-WebSocket-Key lines %q", req.Key, keys)
		}
		if raw, err := base64.StdEncoding.DecodeString(req.Key); err != nil || len(raw) != 16 {
			t.Fatalf("accepted key %q: %d bytes, %v", req.Key, len(raw), err)
		}
		for _, p := range req.Protocols {
			if !hsIsToken(p) {
				t.Fatalf("protocol %q is not a token", p)
			}
		}

		// Answer with the client's first subprotocol and every extension it
		// offered: all of them are valid to echo.
		resp := &handshake.Response{Extensions: req.Extensions}
		if len(req.Protocols) > 0 {
			resp.Protocol = handshake.SelectProtocol(req.Protocols, req.Protocols[:1])
		}
		out, err := handshake.AppendResponse(nil, req, resp)
		if err != nil {
			t.Fatalf("AppendResponse for a valid request: %v", err)
		}
		hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), r)
		if err != nil {
			t.Fatalf("http.ReadResponse: %v\n%q", err, out)
		}
		if err := handshake.CheckResponse(hr, req.Key); err != nil {
			t.Fatalf("CheckResponse: %v\n%q", err, out)
		}
		if got := hr.Header.Get("Sec-WebSocket-Protocol"); got != resp.Protocol {
			t.Fatalf("Sec-WebSocket-Protocol %q, want %q", got, resp.Protocol)
		}
		back, err := handshake.ParseExtensions(hr.Header.Values("Sec-WebSocket-Extensions"))
		if err != nil {
			t.Fatalf("response extensions do not parse: %v\n%q", err, out)
		}
		if diff := cmp.Diff(req.Extensions, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("response extensions (-offered +answered):\n%s", diff)
		}
		if rest, _ := io.ReadAll(hr.Body); len(rest) != 0 {
			t.Fatalf("101 response has a body %q", rest)
		}
	})
}

// hsCheckRefusal asserts that err is an *handshake.Error a server can send.
func hsCheckRefusal(t *testing.T, err error) {
	t.Helper()
	var e *handshake.Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate error %v (%T) is not an *handshake.Error", err, err)
	}
	switch e.Status {
	case 400, 405, 426:
	default:
		t.Fatalf("status %d for %q", e.Status, e.Reason)
	}
	if e.Reason == "" {
		t.Fatal("empty reason")
	}
	out := e.AppendResponse(nil)
	hr, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if rerr != nil {
		t.Fatalf("error response does not parse: %v\n%q", rerr, out)
	}
	body, _ := io.ReadAll(hr.Body)
	if hr.StatusCode != e.Status || string(body) != e.Reason || !hr.Close {
		t.Fatalf("error response: status %d, close %v, body %q; want %d, close, %q", hr.StatusCode, hr.Close, body, e.Status, e.Reason)
	}
}

// FuzzExtensions feeds two header lines to handshake.ParseExtensions. It
// checks that two lines parse like one line joining them with a comma (RFC
// 7230 section 3.2.2) and like the two lines parsed alone, that what is
// accepted is made of tokens as RFC 6455 section 9.1 requires, and that
// FormatExtensions output parses back to the same value.
func FuzzExtensions(f *testing.F) {
	for _, s := range [][2]string{
		{"permessage-deflate", ""},
		{"permessage-deflate; client_max_window_bits", "x-webkit-deflate-frame"},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", " , "},
		{`permessage-deflate; server_max_window_bits="10"`, `a; b="\1"`},
		{" a ;\tb = c , ,d", "e;f"},
		{";", "permessage-deflate;"},
		{"a=", `a; b="1`},
		{`a; b="x y"`, "a b"},
		{"a;=1", "a; b=\"\x00\""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := handshake.ParseExtensions([]string{a, b})
		joined, jerr := handshake.ParseExtensions([]string{a + "," + b})
		if (err == nil) != (jerr == nil) {
			t.Fatalf("two lines: %v; joined with ',': %v", err, jerr)
		}
		if err != nil {
			var e *handshake.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Reason == "" || got != nil {
				t.Fatalf("refusal %v (%T) with %v: want an *handshake.Error, status 400, no result", err, err, got)
			}
			return
		}
		if diff := cmp.Diff(got, joined); diff != "" {
			t.Fatalf("two lines vs joined (-lines +joined):\n%s", diff)
		}
		ga, erra := handshake.ParseExtensions([]string{a})
		gb, errb := handshake.ParseExtensions([]string{b})
		if erra != nil || errb != nil {
			t.Fatalf("both lines accepted together, alone: %v, %v", erra, errb)
		}
		if diff := cmp.Diff(got, append(ga, gb...), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("two lines vs each alone (-together +alone):\n%s", diff)
		}
		for _, e := range got {
			if !hsIsToken(e.Name) {
				t.Fatalf("extension name %q is not a token", e.Name)
			}
			for _, p := range e.Params {
				if !hsIsToken(p.Name) || (p.HasValue && !hsIsToken(p.Value)) || (!p.HasValue && p.Value != "") {
					t.Fatalf("extension %s: bad parameter %+v", e.Name, p)
				}
			}
		}
		s := handshake.FormatExtensions(got)
		back, err := handshake.ParseExtensions([]string{s})
		if err != nil {
			t.Fatalf("formatted %q does not parse: %v", s, err)
		}
		if diff := cmp.Diff(got, back); diff != "" {
			t.Fatalf("round trip via %q (-parsed +reparsed):\n%s", s, diff)
		}
		if s2 := handshake.FormatExtensions(back); s2 != s {
			t.Fatalf("format not stable: %q then %q", s, s2)
		}
	})
}

// hsIsToken is an RFC 7230 token check written apart from the package's.
func hsIsToken(s string) bool {
	return s != "" && strings.Trim(s, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// hsListHas reports whether a comma list over lines has tok, ASCII
// case-insensitively, written apart from the package's parser.
func hsListHas(lines []string, tok string) bool {
	for _, l := range lines {
		for _, e := range strings.Split(l, ",") {
			if strings.EqualFold(strings.Trim(e, " \t"), tok) && hsIsASCII(e) {
				return true
			}
		}
	}
	return false
}

func hsIsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
