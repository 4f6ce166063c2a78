package handshake

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validRequest returns a validated request offering two subprotocols and
// permessage-deflate.
func validRequest(t testing.TB) *Request {
	t.Helper()
	req, err := Validate(readRequest(t, upgrade(get,
		"Sec-WebSocket-Protocol: chat, superchat",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo")))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func readResponse(t *testing.T, b []byte) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatalf("http.ReadResponse: %v\n%s", err, b)
	}
	return resp
}

func TestAppendResponse(t *testing.T) {
	deflate := []Extension{{Name: "permessage-deflate", Params: []Param{{Name: "client_max_window_bits", Value: "10", HasValue: true}}}}
	tests := []struct {
		name       string
		resp       *Response
		wantRaw    string // exact bytes, when set
		wantHeader http.Header
	}{
		{
			name: "nil response",
			wantRaw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
			wantHeader: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Accept": {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}},
		},
		{
			name: "everything",
			resp: &Response{Protocol: "superchat", Extensions: deflate, Header: http.Header{
				"Set-Cookie": {"a=1", "b=2"}, "X-Empty": {}, "Server": {"unievent"},
			}},
			wantRaw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
				"Sec-WebSocket-Protocol: superchat\r\n" +
				"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n" +
				"Server: unievent\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
			wantHeader: http.Header{
				"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Accept": {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
				"Sec-Websocket-Protocol": {"superchat"}, "Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits=10"},
				"Server": {"unievent"}, "Set-Cookie": {"a=1", "b=2"},
			},
		},
		{
			name: "extension name matched case-insensitively",
			resp: &Response{Extensions: []Extension{{Name: "X-Foo"}}},
			wantHeader: http.Header{
				"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Accept": {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
				"Sec-Websocket-Extensions": {"X-Foo"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := validRequest(t)
			prefix := []byte("kept")
			out, err := AppendResponse(prefix, req, tt.resp)
			if err != nil {
				t.Fatalf("AppendResponse: %v", err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("output %q lost the prefix", out)
			}
			out = out[len(prefix):]
			if tt.wantRaw != "" {
				if diff := cmp.Diff(tt.wantRaw, string(out)); diff != "" {
					t.Errorf("bytes (-want +got):\n%s", diff)
				}
			}
			resp := readResponse(t, out)
			if resp.StatusCode != 101 {
				t.Errorf("status %d", resp.StatusCode)
			}
			if diff := cmp.Diff(tt.wantHeader, resp.Header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if err := CheckResponse(resp, req.Key); err != nil {
				t.Errorf("CheckResponse: %v", err)
			}
		})
	}
}

func TestAppendResponseRefusals(t *testing.T) {
	refused, _ := Validate(readRequest(t, upgrade(get, "Sec-WebSocket-Version: 8")))
	tests := []struct {
		name string
		req  *Request
		resp *Response
		want string
	}{
		{"nil request", nil, nil, "no request"},
		{"refused request", refused, nil, "the request was refused: unsupported Sec-WebSocket-Version"},
		{"hand-made request without key", &Request{}, nil, "Key is not base64"},
		{"protocol not offered", nil, &Response{Protocol: "other"}, `subprotocol "other" was not offered`},
		{"protocol differs in case", nil, &Response{Protocol: "Chat"}, "was not offered"},
		{"extension not offered", nil, &Response{Extensions: []Extension{{Name: "x-bar"}}}, `extension "x-bar" was not offered`},
		{"extension name with CRLF", nil, &Response{Extensions: []Extension{{Name: "x-foo\r\nX-Evil: 1"}}}, "is not a token"},
		{"extension param not a token", nil, &Response{Extensions: []Extension{{Name: "x-foo", Params: []Param{{Name: "a b"}}}}}, "parameter name"},
		{"extension value not a token", nil, &Response{Extensions: []Extension{{Name: "x-foo", Params: []Param{{Name: "a", Value: "1\r\n", HasValue: true}}}}}, "value"},
		{"empty extension value", nil, &Response{Extensions: []Extension{{Name: "x-foo", Params: []Param{{Name: "a", HasValue: true}}}}}, "value"},
		{"header value CRLF", nil, &Response{Header: http.Header{"X-A": {"1\r\nX-Evil: 2"}}}, "control character"},
		{"header value LF", nil, &Response{Header: http.Header{"X-A": {"1\nX-Evil: 2"}}}, "control character"},
		{"header value NUL", nil, &Response{Header: http.Header{"X-A": {"1\x00"}}}, "control character"},
		{"header name with colon", nil, &Response{Header: http.Header{"X-A: b\r\nX-Evil": {"1"}}}, "is not a token"},
		{"empty header name", nil, &Response{Header: http.Header{"": {"1"}}}, "is not a token"},
		{"Upgrade", nil, &Response{Header: http.Header{"Upgrade": {"h2c"}}}, "set by the handshake itself"},
		{"Connection lower case", nil, &Response{Header: http.Header{"connection": {"close"}}}, "set by the handshake itself"},
		{"Sec-WebSocket-Accept", nil, &Response{Header: http.Header{"Sec-Websocket-Accept": {"x"}}}, "set by the handshake itself"},
		{"Sec-WebSocket-Protocol", nil, &Response{Header: http.Header{"SEC-WEBSOCKET-PROTOCOL": {"chat"}}}, "set by the handshake itself"},
		{"Content-Length", nil, &Response{Header: http.Header{"Content-Length": {"0"}}}, "set by the handshake itself"},
		{"Transfer-Encoding", nil, &Response{Header: http.Header{"Transfer-Encoding": {"chunked"}}}, "set by the handshake itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil && tt.name != "nil request" {
				req = validRequest(t)
			}
			dst := []byte("kept")
			out, err := AppendResponse(dst, req, tt.resp)
			if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AppendResponse error = %v, want ErrInvalidResponse with %q", err, tt.want)
			}
			if string(out) != "kept" {
				t.Errorf("AppendResponse wrote %q on error", out)
			}
		})
	}
}

func TestAppendErrorResponse(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		wantRaw    string
		wantRawHas string
		wantHeader http.Header // as http.ReadResponse leaves it: Connection: close becomes resp.Close
		wantText   string
	}{
		{
			name: "plain 400", status: 400, body: "missing Host header",
			wantRaw: "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n" +
				"Connection: close\r\n\r\nmissing Host header",
			wantHeader: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Length": {"19"}},
			wantText:   "400 Bad Request",
		},
		{
			name: "426 with Upgrade", status: 426, body: "v",
			header: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}},
			wantHeader: http.Header{
				"Content-Type": {"text/plain; charset=utf-8"}, "Content-Length": {"1"},
				"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"},
			},
			wantText:   "426 Upgrade Required",
			wantRawHas: "\r\nConnection: Upgrade, close\r\n",
		},
		{
			name: "own Content-Type", status: 503, body: "{}", header: http.Header{"content-type": {"application/json"}, "Retry-After": {"5"}},
			wantHeader: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"2"}, "Retry-After": {"5"}},
			wantText:   "503 Service Unavailable",
		},
		{
			name: "unknown status", status: 499, body: "",
			wantHeader: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Length": {"0"}},
			wantText:   "499 ",
		},
		{
			name: "body with CRLF stays body", status: 400, body: "a\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
			wantHeader: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Length": {"24"}},
			wantText:   "400 Bad Request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AppendErrorResponse(nil, tt.status, tt.body, tt.header)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRaw != "" {
				if diff := cmp.Diff(tt.wantRaw, string(out)); diff != "" {
					t.Errorf("bytes (-want +got):\n%s", diff)
				}
			}
			if !bytes.Contains(out, []byte(tt.wantRawHas)) {
				t.Errorf("bytes %q lack %q", out, tt.wantRawHas)
			}
			resp := readResponse(t, out)
			if !resp.Close {
				t.Error("response does not close the connection")
			}
			if resp.StatusCode != tt.status || resp.Status != tt.wantText {
				t.Errorf("status %d %q, want %d %q", resp.StatusCode, resp.Status, tt.status, tt.wantText)
			}
			if diff := cmp.Diff(tt.wantHeader, resp.Header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
		})
	}
}

func TestAppendErrorResponseRefusals(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		want   string
	}{
		{"101", 101, nil, "not an error status"},
		{"200", 200, nil, "not an error status"},
		{"600", 600, nil, "not an error status"},
		{"value CRLF", 400, http.Header{"X-A": {"b\r\nSet-Cookie: x=1"}}, "control character"},
		{"value CR", 400, http.Header{"X-A": {"b\rc"}}, "control character"},
		{"value NUL", 400, http.Header{"X-A": {"\x00"}}, "control character"},
		{"name not a token", 400, http.Header{"X A": {"b"}}, "is not a token"},
		{"Content-Length", 400, http.Header{"Content-Length": {"0"}}, "set by the handshake itself"},
		{"Connection", 400, http.Header{"Connection": {"keep-alive"}}, "set by the handshake itself"},
		{"Transfer-Encoding", 400, http.Header{"Transfer-Encoding": {"chunked"}}, "set by the handshake itself"},
	}
	for _, tt := range tests {
		out, err := AppendErrorResponse([]byte("kept"), tt.status, "body", tt.header)
		if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want ErrInvalidResponse with %q", tt.name, err, tt.want)
		}
		if string(out) != "kept" {
			t.Errorf("%s: wrote %q on error", tt.name, out)
		}
	}
}

func TestErrorAppendResponse(t *testing.T) {
	tests := []struct {
		name       string
		raw        string // a request Validate refuses
		err        *Error // or this error
		wantStatus int
		wantHeader http.Header // fields beyond Content-Type, Content-Length, Connection
	}{
		{name: "405", raw: upgrade("POST / HTTP/1.1", "Content-Length: 0"), wantStatus: 405, wantHeader: http.Header{"Allow": {"GET"}}},
		{name: "426", raw: upgrade(get, "Sec-WebSocket-Version: 8"), wantStatus: 426,
			wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "400", raw: upgrade(get, "Sec-WebSocket-Key:"), wantStatus: 400, wantHeader: http.Header{}},
		{name: "bad status falls back to 400", err: &Error{Status: 200, Reason: "odd"}, wantStatus: 400, wantHeader: http.Header{}},
		{name: "bad header falls back to 400", err: &Error{Status: 403, Reason: "odd", Header: http.Header{"X": {"\n"}}},
			wantStatus: 400, wantHeader: http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.err
			if e == nil {
				_, err := Validate(readRequest(t, tt.raw))
				if !errors.As(err, &e) {
					t.Fatalf("Validate error = %v, want *Error", err)
				}
			}
			resp := readResponse(t, e.AppendResponse(nil))
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for _, k := range []string{"Content-Type", "Content-Length", "Connection"} {
				resp.Header.Del(k)
			}
			if diff := cmp.Diff(tt.wantHeader, resp.Header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != e.Reason {
				t.Errorf("body %q, want the reason %q", body, e.Reason)
			}
		})
	}
}

func TestAppendResponseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	req := validRequest(t)
	resp := &Response{Protocol: "chat", Extensions: []Extension{{Name: "permessage-deflate", Params: []Param{{Name: "client_max_window_bits", Value: "12", HasValue: true}}}}}
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendResponse(buf[:0], req, resp); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendResponse with a nil Header: %v allocations, want 0", allocs)
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	req := validRequest(b)
	b.Run("minimal", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendResponse(buf[:0], req, nil)
		}
	})
	b.Run("protocol+deflate", func(b *testing.B) {
		resp := &Response{Protocol: "chat", Extensions: []Extension{{Name: "permessage-deflate", Params: []Param{{Name: "client_max_window_bits", Value: "12", HasValue: true}}}}}
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendResponse(buf[:0], req, resp)
		}
	})
	b.Run("header", func(b *testing.B) {
		resp := &Response{Header: http.Header{"Set-Cookie": {"a=1"}, "Server": {"unievent"}}}
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendResponse(buf[:0], req, resp)
		}
	})
}

func BenchmarkErrorAppendResponse(b *testing.B) {
	e := &Error{Status: 426, Reason: "unsupported", Header: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendResponse(buf[:0])
	}
}
