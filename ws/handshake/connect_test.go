package handshake

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// extendedConnect is an HTTP/2 extended CONNECT as net/http's HTTP/2 server
// hands it to a handler (RFC 8441 section 5).
func extendedConnect() *http.Request {
	return &http.Request{
		Method: http.MethodConnect, Proto: "HTTP/2.0", ProtoMajor: 2, Host: "example.com",
		Header: http.Header{
			":protocol":                {"websocket"},
			"Sec-Websocket-Version":    {"13"},
			"Sec-Websocket-Protocol":   {"chat, superchat"},
			"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		},
	}
}

func TestValidateExtendedConnect(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(r *http.Request)
		wantStatus int // 0: valid
		wantHeader http.Header
	}{
		{name: "valid", edit: func(*http.Request) {}},
		{name: "GET", edit: func(r *http.Request) { r.Method = http.MethodGet }, wantStatus: 405, wantHeader: http.Header{"Allow": {"CONNECT"}}},
		{name: "no authority", edit: func(r *http.Request) { r.Host = "" }, wantStatus: 400},
		{name: "no :protocol", edit: func(r *http.Request) { delete(r.Header, ":protocol") }, wantStatus: 400},
		{name: "another :protocol", edit: func(r *http.Request) { r.Header[":protocol"] = []string{"webtransport"} }, wantStatus: 501},
		{name: "version 8", edit: func(r *http.Request) { r.Header["Sec-Websocket-Version"] = []string{"8"} }, wantStatus: 426,
			wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "no version", edit: func(r *http.Request) { delete(r.Header, "Sec-Websocket-Version") }, wantStatus: 426,
			wantHeader: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}},
		{name: "bad subprotocol", edit: func(r *http.Request) { r.Header["Sec-Websocket-Protocol"] = []string{"a b"} }, wantStatus: 400},
		{name: "bad extension", edit: func(r *http.Request) { r.Header["Sec-Websocket-Extensions"] = []string{"x; =1"} }, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := extendedConnect()
			tt.edit(r)
			req, err := Validate(r)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if req.Key != "" {
					t.Errorf("Key = %q, want none over HTTP/2", req.Key)
				}
				if diff := cmp.Diff([]string{"chat", "superchat"}, req.Protocols); diff != "" {
					t.Errorf("Protocols (-want +got):\n%s", diff)
				}
				if len(req.Extensions) != 1 || req.Extensions[0].Name != "permessage-deflate" {
					t.Errorf("Extensions = %+v", req.Extensions)
				}
				return
			}
			var he *Error
			if !errors.As(err, &he) || he.Status != tt.wantStatus || he.Reason == "" {
				t.Fatalf("Validate error = %#v, want status %d with a reason", err, tt.wantStatus)
			}
			if tt.wantHeader != nil {
				if diff := cmp.Diff(tt.wantHeader, he.Header); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestIsUpgradeRequestExtendedConnect(t *testing.T) {
	r := extendedConnect()
	if !IsUpgradeRequest(r) {
		t.Error("extended CONNECT with :protocol websocket is not an upgrade request")
	}
	r.Header[":protocol"] = []string{"webtransport"}
	if !IsUpgradeRequest(r) {
		t.Error("extended CONNECT with another :protocol is not an upgrade request (Validate must refuse it)")
	}
	delete(r.Header, ":protocol")
	if IsUpgradeRequest(r) {
		t.Error("plain HTTP/2 CONNECT is an upgrade request")
	}
}

func TestAcceptHeader(t *testing.T) {
	req, err := Validate(extendedConnect())
	if err != nil {
		t.Fatal(err)
	}
	h, err := AcceptHeader(req, &Response{
		Protocol:   "superchat",
		Extensions: []Extension{{Name: "permessage-deflate", Params: []Param{{Name: "server_no_context_takeover"}}}},
		Header:     http.Header{"set-cookie": {"a=b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"Sec-Websocket-Protocol":   {"superchat"},
		"Sec-Websocket-Extensions": {"permessage-deflate; server_no_context_takeover"},
		"Set-Cookie":               {"a=b"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	for name, resp := range map[string]*Response{
		"not offered":     {Protocol: "other"},
		"ext not offered": {Extensions: []Extension{{Name: "x-other"}}},
		"reserved":        {Header: http.Header{"Sec-Websocket-Accept": {"x"}}},
		"CRLF":            {Header: http.Header{"X": {"a\r\nb"}}},
	} {
		if _, err := AcceptHeader(req, resp); !errors.Is(err, ErrInvalidResponse) {
			t.Errorf("%s: AcceptHeader error = %v, want ErrInvalidResponse", name, err)
		}
	}
	if _, err := AppendResponse(nil, req, nil); !errors.Is(err, ErrInvalidResponse) {
		t.Errorf("AppendResponse of an HTTP/2 request: %v, want ErrInvalidResponse (no key to accept)", err)
	}
}
