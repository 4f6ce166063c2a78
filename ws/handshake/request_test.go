package handshake

import (
	"bufio"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sampleKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 section 1.3

// readRequest parses a request written with "\n" line ends.
func readRequest(t testing.TB, raw string) *http.Request {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("http.ReadRequest: %v\n%s", err, raw)
	}
	return r
}

// upgrade builds a handshake request from lines that replace or extend the
// standard ones: a line "Name:" (empty value) removes that standard field.
func upgrade(requestLine string, lines ...string) string {
	std := []string{
		"Host: example.com",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + sampleKey,
		"Sec-WebSocket-Version: 13",
	}
	var out []string
	replaced := map[string]bool{}
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		replaced[strings.ToLower(name)] = true
	}
	for _, l := range std {
		name, _, _ := strings.Cut(l, ":")
		if !replaced[strings.ToLower(name)] {
			out = append(out, l)
		}
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, ":") {
			out = append(out, l)
		}
	}
	return requestLine + "\n" + strings.Join(out, "\n") + "\n\n"
}

const get = "GET /chat HTTP/1.1"

// parsed is the part of a Request a test compares.
type parsed struct {
	Key        string
	Protocols  []string
	Extensions []Extension
}

func TestValidate(t *testing.T) {
	deflate := []Extension{{Name: "permessage-deflate", Params: []Param{{Name: "client_max_window_bits"}}}}
	tests := []struct {
		name       string
		raw        string
		want       parsed
		wantStatus int // 0: valid
		wantReason string
		wantHeader http.Header
	}{
		{name: "minimal", raw: upgrade(get), want: parsed{Key: sampleKey}},
		{name: "Upgrade mixed case", raw: upgrade(get, "Upgrade: WebSocket"), want: parsed{Key: sampleKey}},
		{name: "Upgrade list", raw: upgrade(get, "Upgrade: websocket, foo/2"), want: parsed{Key: sampleKey}},
		{name: "Upgrade second in list", raw: upgrade(get, "Upgrade: h2c, WEBSOCKET"), want: parsed{Key: sampleKey}},
		{name: "Upgrade on two lines", raw: upgrade(get, "Upgrade: foo", "Upgrade: websocket"), want: parsed{Key: sampleKey}},
		{name: "Connection list", raw: upgrade(get, "Connection: keep-alive, Upgrade"), want: parsed{Key: sampleKey}},
		{name: "Connection lower case, OWS", raw: upgrade(get, "Connection: keep-alive ,\tupgrade "), want: parsed{Key: sampleKey}},
		{name: "Connection on two lines", raw: upgrade(get, "Connection: keep-alive", "Connection: upgrade"), want: parsed{Key: sampleKey}},
		{name: "HTTP/1.2", raw: upgrade("GET / HTTP/1.2"), want: parsed{Key: sampleKey}},
		{
			name: "protocols over two lines",
			raw:  upgrade(get, "Sec-WebSocket-Protocol: chat, , superchat", "Sec-WebSocket-Protocol: v2.chat"),
			want: parsed{Key: sampleKey, Protocols: []string{"chat", "superchat", "v2.chat"}},
		},
		{name: "empty protocol header", raw: upgrade(get, "Sec-WebSocket-Protocol: "), want: parsed{Key: sampleKey}},
		{
			name: "extensions",
			raw:  upgrade(get, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"),
			want: parsed{Key: sampleKey, Extensions: deflate},
		},
		{name: "Origin ignored", raw: upgrade(get, "Origin: http://example.com"), want: parsed{Key: sampleKey}},

		{name: "POST", raw: upgrade("POST /chat HTTP/1.1", "Content-Length: 0"), wantStatus: 405, wantReason: `method "POST" not allowed`,
			wantHeader: http.Header{"Allow": {"GET"}}},
		{name: "HEAD", raw: upgrade("HEAD / HTTP/1.1"), wantStatus: 405, wantReason: "uses GET", wantHeader: http.Header{"Allow": {"GET"}}},
		{name: "HTTP/1.0", raw: upgrade("GET / HTTP/1.0"), wantStatus: 400, wantReason: "needs HTTP/1.1 or later"},
		{name: "missing Host", raw: upgrade(get, "Host:"), wantStatus: 400, wantReason: "missing Host header"},
		{name: "missing Upgrade", raw: upgrade(get, "Upgrade:"), wantStatus: 400, wantReason: `Upgrade header must include "websocket"`},
		{name: "wrong Upgrade", raw: upgrade(get, "Upgrade: h2c"), wantStatus: 400, wantReason: `Upgrade header must include "websocket"`},
		{name: "Upgrade with version", raw: upgrade(get, "Upgrade: websocket/13"), wantStatus: 400, wantReason: "Upgrade header"},
		{name: "Upgrade substring", raw: upgrade(get, "Upgrade: websockets"), wantStatus: 400, wantReason: "Upgrade header"},
		{name: "missing Connection", raw: upgrade(get, "Connection:"), wantStatus: 400, wantReason: `Connection header must include "Upgrade"`},
		{name: "Connection keep-alive only", raw: upgrade(get, "Connection: keep-alive"), wantStatus: 400, wantReason: "Connection header"},
		{name: "Connection upgraded", raw: upgrade(get, "Connection: upgraded"), wantStatus: 400, wantReason: "Connection header"},
		{name: "missing key", raw: upgrade(get, "Sec-WebSocket-Key:"), wantStatus: 400, wantReason: "missing Sec-WebSocket-Key header"},
		{name: "two keys", raw: upgrade(get, "Sec-WebSocket-Key: "+sampleKey, "Sec-WebSocket-Key: "+sampleKey),
			wantStatus: 400, wantReason: "Sec-WebSocket-Key header sent more than once"},
		{name: "15-byte key", raw: upgrade(get, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"), wantStatus: 400, wantReason: "Sec-WebSocket-Key must be base64 of 16 bytes"},
		{name: "17-byte key", raw: upgrade(get, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA="), wantStatus: 400, wantReason: "base64 of 16 bytes"},
		{name: "non-base64 key", raw: upgrade(get, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!=="), wantStatus: 400, wantReason: "base64 of 16 bytes"},
		{name: "unpadded key", raw: upgrade(get, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"), wantStatus: 400, wantReason: "base64 of 16 bytes"},
		{name: "URL-safe key", raw: upgrade(get, "Sec-WebSocket-Key: __________________________=="), wantStatus: 400, wantReason: "base64 of 16 bytes"},
		{name: "non-zero padding bits", raw: upgrade(get, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="), wantStatus: 400, wantReason: "base64 of 16 bytes"},
		{name: "key with inner space", raw: upgrade(get, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ Q=="), wantStatus: 400, wantReason: "base64 of 16 bytes"},
		{name: "version 8", raw: upgrade(get, "Sec-WebSocket-Version: 8"), wantStatus: 426, wantReason: `unsupported Sec-WebSocket-Version "8"`,
			wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "version list", raw: upgrade(get, "Sec-WebSocket-Version: 13, 8"), wantStatus: 426, wantReason: `unsupported Sec-WebSocket-Version "13, 8"`,
			wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "version twice", raw: upgrade(get, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13"), wantStatus: 426,
			wantReason: "Sec-WebSocket-Version header sent more than once", wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "missing version", raw: upgrade(get, "Sec-WebSocket-Version:"), wantStatus: 426, wantReason: "missing Sec-WebSocket-Version header",
			wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "version before key", raw: upgrade(get, "Sec-WebSocket-Version: 8", "Sec-WebSocket-Key:"), wantStatus: 426, wantReason: "unsupported",
			wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "protocol not a token", raw: upgrade(get, "Sec-WebSocket-Protocol: chat, my proto"), wantStatus: 400,
			wantReason: `Sec-WebSocket-Protocol: "my proto" is not a token`},
		{name: "protocol separator", raw: upgrade(get, "Sec-WebSocket-Protocol: a/b"), wantStatus: 400, wantReason: "is not a token"},
		{name: "malformed extensions", raw: upgrade(get, "Sec-WebSocket-Extensions: permessage-deflate;"), wantStatus: 400,
			wantReason: "malformed Sec-WebSocket-Extensions header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readRequest(t, tt.raw)
			req, err := Validate(r)
			if req == nil {
				t.Fatal("Validate returned a nil *Request")
			}
			if req.HTTP != r {
				t.Errorf("req.HTTP = %p, want the request passed in (%p)", req.HTTP, r)
			}
			if !errors.Is(req.Err(), err) || (err == nil) != (req.Err() == nil) {
				t.Errorf("req.Err() = %v, Validate returned %v", req.Err(), err)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				got := parsed{Key: req.Key, Protocols: req.Protocols, Extensions: req.Extensions}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("parsed request (-want +got):\n%s", diff)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate error = %v (%T), want *Error", err, err)
			}
			if e.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d (%s)", e.Status, tt.wantStatus, e.Reason)
			}
			if !strings.Contains(e.Reason, tt.wantReason) {
				t.Errorf("Reason = %q, want it to contain %q", e.Reason, tt.wantReason)
			}
			if diff := cmp.Diff(tt.wantHeader, e.Header); diff != "" {
				t.Errorf("Header (-want +got):\n%s", diff)
			}
			if got := e.Error(); got != "handshake: "+e.Reason {
				t.Errorf("Error() = %q", got)
			}
		})
	}
}

// TestValidateNotFromServer covers requests built by hand, which net/http's
// server has not checked.
func TestValidateNotFromServer(t *testing.T) {
	valid := func() *http.Request {
		return &http.Request{
			Method: "GET", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: "example.com",
			Header: http.Header{
				"Upgrade": {"websocket"}, "Connection": {"Upgrade"},
				"Sec-Websocket-Key": {sampleKey}, "Sec-Websocket-Version": {"13"},
			},
		}
	}
	tests := []struct {
		name       string
		edit       func(r *http.Request) *http.Request
		wantReason string // "": valid
	}{
		{name: "valid", edit: func(r *http.Request) *http.Request { return r }},
		{name: "nil request", edit: func(*http.Request) *http.Request { return nil }, wantReason: "no request"},
		{name: "empty Host", edit: func(r *http.Request) *http.Request { r.Host = ""; return r }, wantReason: "missing Host"},
		{name: "nil Header", edit: func(r *http.Request) *http.Request { r.Header = nil; return r }, wantReason: "Upgrade header"},
		{name: "HTTP/0.9", edit: func(r *http.Request) *http.Request { r.ProtoMajor, r.ProtoMinor = 0, 9; return r }, wantReason: "HTTP/1.1"},
		{name: "HTTP/2 GET", edit: func(r *http.Request) *http.Request { r.ProtoMajor, r.ProtoMinor = 2, 0; return r }, wantReason: "extended CONNECT"},
		{name: "key with newline", edit: func(r *http.Request) *http.Request {
			r.Header["Sec-Websocket-Key"] = []string{"dGhlIHNhbXBsZSBub25j\nQ=="}
			return r
		}, wantReason: "base64 of 16 bytes"},
		{name: "key with CRLF", edit: func(r *http.Request) *http.Request {
			r.Header["Sec-Websocket-Key"] = []string{"dGhlIHNhbXBsZSBub25jZQ\r\n"}
			return r
		}, wantReason: "base64 of 16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Validate(tt.edit(valid()))
			if req == nil {
				t.Fatal("Validate returned a nil *Request")
			}
			if tt.wantReason == "" {
				if err != nil || req.Err() != nil {
					t.Fatalf("Validate: %v / Err() = %v", err, req.Err())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantReason) || req.Err() != err {
				t.Fatalf("Validate error = %v, Err() = %v; want one error containing %q", err, req.Err(), tt.wantReason)
			}
		})
	}
}

func TestRequestFieldsOnError(t *testing.T) {
	// A refusal after the key check still reports the key, so a callback
	// can log which client it refused.
	req, err := Validate(readRequest(t, upgrade(get, "Sec-WebSocket-Protocol: a b")))
	if err == nil {
		t.Fatal("Validate accepted an invalid protocol list")
	}
	if req.Key != sampleKey || req.Protocols != nil {
		t.Errorf("Key = %q, Protocols = %q; want the key and no protocols", req.Key, req.Protocols)
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct {
		name string
		req  *Request
		want string
	}{
		{"present", &Request{HTTP: readRequest(t, upgrade(get, "Origin: https://example.com"))}, "https://example.com"},
		{"absent", &Request{HTTP: readRequest(t, upgrade(get))}, ""},
		{"no HTTP request", &Request{}, ""},
	}
	for _, tt := range tests {
		if got := tt.req.Origin(); got != tt.want {
			t.Errorf("%s: Origin() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSelectProtocol(t *testing.T) {
	tests := []struct {
		offered, supported []string
		want               string
	}{
		{[]string{"chat", "superchat"}, []string{"superchat", "chat"}, "superchat"},
		{[]string{"chat", "superchat"}, []string{"chat", "superchat"}, "chat"},
		{[]string{"Chat"}, []string{"chat"}, ""},
		{nil, []string{"chat"}, ""},
		{[]string{"chat"}, nil, ""},
		{[]string{"a", "b", "c"}, []string{"x", "c", "b"}, "c"},
	}
	for _, tt := range tests {
		if got := SelectProtocol(tt.offered, tt.supported); got != tt.want {
			t.Errorf("SelectProtocol(%q, %q) = %q, want %q", tt.offered, tt.supported, got, tt.want)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	r := readRequest(b, upgrade(get,
		"Sec-WebSocket-Protocol: chat, superchat",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(r); err != nil {
			b.Fatal(err)
		}
	}
}
