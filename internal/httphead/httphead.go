// Package httphead parses the plain HTTP/1.1 request heads that WebSocket
// clients send (RFC 9112 section 2 and 3,
// https://www.rfc-editor.org/rfc/rfc9112#section-2) into the same
// *http.Request net/http's http.ReadRequest makes of them, with fewer
// allocations: every string of the request is a piece of one copy of the
// head. It takes only heads it can parse exactly as net/http does and
// declines the rest (another method or version, an absolute target,
// folded lines, bare CR or LF, bytes outside visible ASCII, a body,
// repeated Host lines), for which the caller uses http.ReadRequest; so it
// never reports an error of its own.
package httphead

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"unievent.dev/internal/httptoken"
)

// End returns the length of the request head at the start of b: up to
// and including the first empty line, "\r\n\r\n"; -1 when b holds none.
// A head that ends otherwise (bare LF) is one ParseRequest declines.
func End(b []byte) int {
	i := bytes.Index(b, crlfcrlf)
	if i < 0 {
		return -1
	}
	return i + len(crlfcrlf)
}

var crlfcrlf = []byte("\r\n\r\n")

const (
	lineStart = "GET "
	lineEnd   = " HTTP/1.1"
)

// ParseRequest parses head, a whole request head that ends with its first
// empty line (head[:End(head)]), and reports whether it could. A request
// it returns is the one http.ReadRequest returns for the same bytes:
// method GET, HTTP/1.1, the target parsed by url.ParseRequestURI, the
// header fields under their canonical keys with Host moved to
// Request.Host, Cache-Control added for Pragma: no-cache, Close from the
// Connection field, and http.NoBody.
func ParseRequest(head string) (*http.Request, bool) {
	eol := strings.Index(head, "\r\n")
	if eol < 0 || !strings.HasSuffix(head, "\r\n\r\n") {
		return nil, false
	}
	line := head[:eol]
	if !strings.HasPrefix(line, lineStart) || !strings.HasSuffix(line, lineEnd) || len(line) < len(lineStart)+len(lineEnd)+1 {
		return nil, false
	}
	target := line[len(lineStart) : len(line)-len(lineEnd)]
	if target[0] != '/' {
		return nil, false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f {
			return nil, false
		}
	}
	fields := head[eol+2 : len(head)-2] // header lines, each ending in CRLF
	n := strings.Count(fields, "\r\n")
	h := make(http.Header, n)
	strs := make([]string, n)
	host, hosts := "", 0
	for fields != "" {
		// Each line ends in CRLF (fields does): a LF without its CR is a
		// bare LF, which net/http reads as a line end of its own.
		lf := strings.IndexByte(fields, '\n')
		if lf < 1 || fields[lf-1] != '\r' {
			return nil, false
		}
		line := fields[:lf-1]
		fields = fields[lf+1:]
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, false // no name, or no colon (or an empty line inside)
		}
		key, ok := canonicalKey(line[:colon])
		if !ok {
			return nil, false
		}
		v := line[colon+1:]
		for i := 0; i < len(v); i++ {
			if c := v[i]; (c < ' ' && c != '\t') || c >= 0x7f {
				return nil, false
			}
		}
		value := httptoken.TrimOWS(v)
		switch key {
		case "Host":
			if hosts++; hosts > 1 {
				return nil, false // net/http refuses it
			}
			host = value
			continue // http.ReadRequest leaves Host out of Header
		case "Content-Length", "Transfer-Encoding", "Trailer":
			return nil, false // a body, or a field net/http rewrites
		}
		if vv := h[key]; vv == nil {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = value
			h[key] = vv
		} else {
			h[key] = append(vv, value)
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	// As net/http: an HTTP/1.0 cache directive, and Host from the target
	// when it names one (an origin-form target does not).
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	if u.Host != "" {
		host = u.Host
	}
	return &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Close:      hasToken(h["Connection"], "close"),
		Host:       host,
		RequestURI: target,
	}, true
}

// canonicalKey returns the canonical form of a header name (as
// textproto.CanonicalMIMEHeaderKey: upper case first and after each
// hyphen, lower case elsewhere) and whether name is a token (RFC 9110
// section 5.1). The form is a known constant or a piece of name when it
// can be, so that it costs no allocation.
func canonicalKey(name string) (string, bool) {
	var buf [64]byte
	if len(name) > len(buf) {
		return "", false
	}
	b := buf[:len(name)]
	same := true
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !httptoken.IsTchar(c) {
			return "", false
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		same = same && c == name[i]
		b[i] = c
		upper = c == '-'
	}
	if k := commonKey(b); k != "" {
		return k, true
	}
	if same {
		return name, true
	}
	return string(b), true
}

// commonKey returns name, canonical, as a constant when it is one of the
// fields browsers and WebSocket clients send in an upgrade request; ""
// otherwise. A switch compares without hashing and allocates nothing.
func commonKey(name []byte) string {
	switch string(name) {
	case "Host":
		return "Host"
	case "Upgrade":
		return "Upgrade"
	case "Connection":
		return "Connection"
	case "Origin":
		return "Origin"
	case "User-Agent":
		return "User-Agent"
	case "Sec-Websocket-Key":
		return "Sec-Websocket-Key"
	case "Sec-Websocket-Version":
		return "Sec-Websocket-Version"
	case "Sec-Websocket-Extensions":
		return "Sec-Websocket-Extensions"
	case "Sec-Websocket-Protocol":
		return "Sec-Websocket-Protocol"
	case "Accept":
		return "Accept"
	case "Accept-Encoding":
		return "Accept-Encoding"
	case "Accept-Language":
		return "Accept-Language"
	case "Cache-Control":
		return "Cache-Control"
	case "Pragma":
		return "Pragma"
	case "Cookie":
		return "Cookie"
	case "Authorization":
		return "Authorization"
	case "Content-Length":
		return "Content-Length"
	case "Transfer-Encoding":
		return "Transfer-Encoding"
	case "Trailer":
		return "Trailer"
	case "X-Forwarded-For":
		return "X-Forwarded-For"
	case "X-Forwarded-Proto":
		return "X-Forwarded-Proto"
	case "X-Forwarded-Host":
		return "X-Forwarded-Host"
	case "X-Real-Ip":
		return "X-Real-Ip"
	case "Forwarded":
		return "Forwarded"
	case "Sec-Fetch-Dest":
		return "Sec-Fetch-Dest"
	case "Sec-Fetch-Mode":
		return "Sec-Fetch-Mode"
	case "Sec-Fetch-Site":
		return "Sec-Fetch-Site"
	}
	return ""
}

// hasToken reports whether a comma-separated element of values is tok,
// ASCII case-insensitively, as net/http decides Request.Close.
func hasToken(values []string, tok string) bool {
	for _, v := range values {
		for v != "" {
			elem, rest, _ := strings.Cut(v, ",")
			if e := httptoken.TrimOWS(elem); len(e) == len(tok) && strings.EqualFold(e, tok) {
				return true
			}
			v = rest
		}
	}
	return false
}
