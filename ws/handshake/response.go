package handshake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// Response is what a server chooses when it accepts a handshake: the
// subprotocol (RFC 6455 section 4.2.2 item 5.4,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2, "" for none), the
// extensions in use with their parameters (section 9.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-9.1), and extra header
// fields such as Set-Cookie.
type Response struct {
	Protocol   string
	Extensions []Extension
	Header     http.Header
}

// AppendResponse appends to dst the 101 Switching Protocols response that
// accepts req (RFC 6455 section 4.2.2 item 5,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2): Upgrade, Connection
// and Sec-WebSocket-Accept, then Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions when resp sets them, then resp.Header in sorted
// key order, then the blank line. resp may be nil.
//
// Rather than write a response the client must reject, or one a caller's
// header could split, it returns dst unchanged and an error wrapping
// [ErrInvalidResponse] when: req is nil or refused; resp.Protocol was not
// offered by the client; an extension is malformed or was not offered
// (section 9.1 (https://www.rfc-editor.org/rfc/rfc6455#section-9.1) forbids
// answering with one); a header name is not a token or a value holds a
// control character other than HTAB (CR and LF would inject header lines);
// or a header would override the handshake's own fields (Upgrade,
// Connection, Sec-WebSocket-*) or frame a 1xx body (Content-Length,
// Transfer-Encoding; RFC 7230 section 3.3,
// https://www.rfc-editor.org/rfc/rfc7230#section-3.3).
//
// With resp.Header nil it allocates nothing beyond growing dst.
func AppendResponse(dst []byte, req *Request, resp *Response) ([]byte, error) {
	if req == nil {
		return dst, invalid("no request")
	}
	if req.err != nil {
		return dst, invalid("the request was refused: " + req.err.Reason)
	}
	if !validKey(req.Key) {
		return dst, invalid("request Key is not base64 of 16 bytes")
	}
	var r Response
	if resp != nil {
		r = *resp
	}
	if err := checkAnswer(req, &r); err != nil {
		return dst, err
	}

	n0 := len(dst)
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "...)
	dst = appendAcceptKey(dst, req.Key)
	dst = append(dst, "\r\n"...)
	if r.Protocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, r.Protocol...)
		dst = append(dst, "\r\n"...)
	}
	if len(r.Extensions) > 0 {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		for i, e := range r.Extensions {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = e.append(dst)
		}
		dst = append(dst, "\r\n"...)
	}
	dst, err := appendHeader(dst, r.Header, reservedIn101)
	if err != nil {
		return dst[:n0], err
	}
	return append(dst, "\r\n"...), nil
}

// AcceptHeader returns the header fields of the 200 that accepts req, an
// HTTP/2 extended CONNECT (RFC 8441 section 5,
// https://www.rfc-editor.org/rfc/rfc8441#section-5): Sec-WebSocket-Protocol
// and Sec-WebSocket-Extensions when resp sets them, and resp.Header. There is
// no Sec-WebSocket-Accept over HTTP/2. resp may be nil. It refuses what
// AppendResponse refuses, with the same errors, except that req has no key.
func AcceptHeader(req *Request, resp *Response) (http.Header, error) {
	if req == nil {
		return nil, invalid("no request")
	}
	if req.err != nil {
		return nil, invalid("the request was refused: " + req.err.Reason)
	}
	var r Response
	if resp != nil {
		r = *resp
	}
	if err := checkAnswer(req, &r); err != nil {
		return nil, err
	}
	// appendHeader checks the caller's fields as for a 101: HTTP/2 forbids
	// the connection-specific ones too (RFC 9113 section 8.2.2,
	// https://www.rfc-editor.org/rfc/rfc9113#section-8.2.2).
	if _, err := appendHeader(nil, r.Header, reservedIn101); err != nil {
		return nil, err
	}
	h := make(http.Header, len(r.Header)+2)
	for k, vs := range r.Header {
		if len(vs) > 0 {
			h[http.CanonicalHeaderKey(k)] = append(h[http.CanonicalHeaderKey(k)], vs...)
		}
	}
	if r.Protocol != "" {
		h[hdrProtocol] = []string{r.Protocol}
	}
	if len(r.Extensions) > 0 {
		var b []byte
		for i, e := range r.Extensions {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = e.append(b)
		}
		h[hdrExtensions] = []string{string(b)}
	}
	return h, nil
}

// checkAnswer checks that resp chooses only what req offered.
func checkAnswer(req *Request, r *Response) error {
	if r.Protocol != "" && !slices.Contains(req.Protocols, r.Protocol) {
		return invalid(fmt.Sprintf("subprotocol %q was not offered by the client", r.Protocol))
	}
	for _, e := range r.Extensions {
		if why := validExtension(e); why != "" {
			return invalid(why)
		}
		if !offered(req.Extensions, e.Name) {
			return invalid(fmt.Sprintf("extension %q was not offered by the client", e.Name))
		}
	}
	return nil
}

func offered(exts []Extension, name string) bool {
	for _, e := range exts {
		if equalFoldASCII(e.Name, name) {
			return true
		}
	}
	return false
}

// reservedIn101 names the fields a caller may not add to a 101: the
// handshake's own, and the body framing fields RFC 7230 section 3.3
// (https://www.rfc-editor.org/rfc/rfc7230#section-3.3) forbids in a 1xx
// response.
func reservedIn101(name string) bool {
	return equalFoldASCII(name, "Upgrade") ||
		equalFoldASCII(name, "Connection") ||
		equalFoldASCII(name, "Content-Length") ||
		equalFoldASCII(name, "Transfer-Encoding") ||
		hasPrefixFoldASCII(name, "Sec-WebSocket-")
}

// reservedInError names the fields AppendErrorResponse writes itself.
func reservedInError(name string) bool {
	return equalFoldASCII(name, "Connection") ||
		equalFoldASCII(name, "Content-Length") ||
		equalFoldASCII(name, "Transfer-Encoding")
}

// AppendErrorResponse appends to dst an HTTP/1.1 response refusing a
// handshake: the status line for status (400 to 599), Content-Type
// text/plain; charset=utf-8 unless header sets its own, Content-Length,
// Connection: close, the fields of header in sorted key order, the blank
// line and body. When header has Upgrade (as a 426 must, RFC 7231
// section 6.5.15, https://www.rfc-editor.org/rfc/rfc7231#section-6.5.15) the
// Connection field also lists "Upgrade", as RFC 7230 section 6.7
// (https://www.rfc-editor.org/rfc/rfc7230#section-6.7) requires.
//
// It returns dst unchanged and an error wrapping [ErrInvalidResponse] for a
// status outside 400..599, a header name that is not a token, a value with a
// control character other than HTAB, or a Connection, Content-Length or
// Transfer-Encoding field in header.
func AppendErrorResponse(dst []byte, status int, body string, header http.Header) ([]byte, error) {
	if status < 400 || status > 599 {
		return dst, invalid(fmt.Sprintf("status %d is not an error status (400..599)", status))
	}
	n0 := len(dst)
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\n"...)
	if !hasKey(header, "Content-Type") {
		dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	if hasKey(header, "Upgrade") {
		dst = append(dst, "\r\nConnection: Upgrade, close\r\n"...)
	} else {
		dst = append(dst, "\r\nConnection: close\r\n"...)
	}
	dst, err := appendHeader(dst, header, reservedInError)
	if err != nil {
		return dst[:n0], err
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...), nil
}

// hasKey reports whether h has a non-empty field name, ASCII
// case-insensitively: h may come from a caller who did not canonicalize.
func hasKey(h http.Header, name string) bool {
	for k, v := range h {
		if len(v) > 0 && equalFoldASCII(k, name) {
			return true
		}
	}
	return false
}

// appendHeader writes h in sorted key order (a stable output, as
// http.Header.Write gives), refusing what would break the message. On error
// the returned slice is partly written; the caller truncates it.
func appendHeader(dst []byte, h http.Header, reserved func(string) bool) ([]byte, error) {
	if len(h) == 0 {
		return dst, nil
	}
	// Sorting names on the stack keeps a typical header free of
	// allocations; a larger one spills to the heap.
	var stack [16]string
	names := stack[:0]
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := h[name]
		if len(values) == 0 {
			continue
		}
		if !isToken(name) {
			return dst, invalid(fmt.Sprintf("header name %q is not a token", name))
		}
		if reserved(name) {
			return dst, invalid(fmt.Sprintf("header %s is set by the handshake itself", name))
		}
		for _, v := range values {
			if !validFieldValue(v) {
				return dst, invalid(fmt.Sprintf("header %s: value %q has a control character", name, v))
			}
			dst = append(dst, name...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	return dst, nil
}

// validFieldValue refuses the control characters RFC 7230 section 3.2
// (https://www.rfc-editor.org/rfc/rfc7230#section-3.2) keeps out of field
// values (HTAB is allowed): CR and LF would end the line early and let a
// value inject fields or a body.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidResponse, reason)
}
