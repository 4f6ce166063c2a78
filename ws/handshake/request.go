package handshake

import (
	"fmt"
	"net/http"
)

// Canonical header keys (textproto.CanonicalMIMEHeaderKey form), used to
// index http.Header directly: Header.Values would canonicalize the mixed-case
// spelling on every call, at the cost of an allocation.
const (
	hdrUpgrade    = "Upgrade"
	hdrConnection = "Connection"
	hdrKey        = "Sec-Websocket-Key"
	hdrVersion    = "Sec-Websocket-Version"
	hdrProtocol   = "Sec-Websocket-Protocol"
	hdrExtensions = "Sec-Websocket-Extensions"
	hdrAccept     = "Sec-Websocket-Accept"
	hdrOrigin     = "Origin"
	// hdrPseudoProtocol is where net/http's HTTP/2 server puts an extended
	// CONNECT's :protocol pseudo-header (RFC 8441 section 4,
	// https://www.rfc-editor.org/rfc/rfc8441#section-4).
	hdrPseudoProtocol = ":protocol"
)

// version is the only WebSocket protocol version this package speaks
// (RFC 6455 section 4.1 item 9,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.1).
const version = "13"

// Request is an opening handshake request as [Validate] read it.
//
// On error the fields hold what was parsed before the failing check; the
// checks run in the order documented on Validate.
type Request struct {
	// HTTP is the request as received.
	HTTP *http.Request
	// Key is the Sec-WebSocket-Key value, as sent; "" for an HTTP/2 request,
	// which has none (RFC 8441 section 5,
	// https://www.rfc-editor.org/rfc/rfc8441#section-5).
	Key string
	// Protocols are the subprotocols the client offered
	// (Sec-WebSocket-Protocol), in its order of preference.
	Protocols []string
	// Extensions are the client's Sec-WebSocket-Extensions offers, in its
	// order of preference.
	Extensions []Extension

	err *Error
}

// Err returns nil for a valid handshake request, or the [*Error] that tells
// why it was refused and how to answer.
func (r *Request) Err() error {
	if r.err == nil {
		return nil
	}
	return r.err
}

// Origin returns the Origin header (RFC 6455 section 4.2.1 item 7,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1, RFC 6454), "" when
// absent. A browser always sends it; a server uses it to refuse cross-site
// pages.
func (r *Request) Origin() string {
	if r.HTTP == nil {
		return ""
	}
	if v := r.HTTP.Header[hdrOrigin]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Validate checks that r is a WebSocket opening handshake (RFC 6455
// section 4.2.1, https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) and
// parses its WebSocket header fields. The returned *Request is never nil;
// when the request is refused, the error is the [*Error] also returned by
// its Err method. The checks run in this order, and the first failure is
// reported:
//
//   - the method is GET (405, with Allow: GET);
//   - HTTP/1.1 or later (400);
//   - a Host (400); r.Host is checked, since r need not come from
//     net/http's server, which would have required it;
//   - Upgrade holds the token "websocket" and Connection the token
//     "upgrade", case-insensitively, in comma lists over any number of
//     lines (400);
//   - Sec-WebSocket-Version is exactly one line "13" (426 with
//     Sec-WebSocket-Version: 13); this comes before the key check so that a
//     client of another draft learns which version to speak;
//   - exactly one Sec-WebSocket-Key line, the padded base64 of 16 bytes
//     (400);
//   - Sec-WebSocket-Protocol, if present, is a list of tokens (400);
//   - Sec-WebSocket-Extensions, if present, parses with [ParseExtensions]
//     (400).
//
// An HTTP/2 request (r.ProtoMajor 2) is an extended CONNECT instead (RFC
// 8441 section 4 and 5): the method is CONNECT (405, with Allow: CONNECT);
// a Host, which net/http takes from :authority (400); the :protocol
// pseudo-header, which net/http's HTTP/2 server keeps in
// r.Header[":protocol"], is "websocket" (400 when missing, 501 for another
// protocol); then the version, subprotocol and extension checks above.
// There is no Upgrade, Connection or Sec-WebSocket-Key, and Key stays "".
//
// Header fields are looked up under their canonical keys, as net/http's
// parsers store them.
func Validate(r *http.Request) (*Request, error) {
	req := &Request{HTTP: r}
	req.err = validate(req)
	return req, req.Err()
}

func validate(req *Request) *Error {
	r := req.HTTP
	if r == nil {
		return badRequest("no request")
	}
	if r.ProtoMajor == 2 {
		return validateConnect(req)
	}
	if r.Method != http.MethodGet {
		return &Error{
			Status: http.StatusMethodNotAllowed,
			Reason: fmt.Sprintf("method %q not allowed: a WebSocket handshake uses GET", r.Method),
			Header: http.Header{"Allow": {http.MethodGet}},
		}
	}
	if !r.ProtoAtLeast(1, 1) {
		return badRequest(fmt.Sprintf("a WebSocket handshake needs HTTP/1.1 or later, not %q", r.Proto))
	}
	if r.Host == "" {
		return badRequest("missing Host header")
	}
	h := r.Header
	if !hasToken(h[hdrUpgrade], "websocket") {
		return badRequest(`Upgrade header must include "websocket"`)
	}
	if !hasToken(h[hdrConnection], "upgrade") {
		return badRequest(`Connection header must include "Upgrade"`)
	}
	if err := checkVersion(h[hdrVersion]); err != nil {
		return err
	}

	switch keys := h[hdrKey]; {
	case len(keys) == 0:
		return badRequest("missing Sec-WebSocket-Key header")
	case len(keys) > 1:
		return badRequest("Sec-WebSocket-Key header sent more than once")
	case !validKey(keys[0]):
		return badRequest("Sec-WebSocket-Key must be base64 of 16 bytes")
	default:
		req.Key = keys[0]
	}

	return parseOffers(req)
}

// validateConnect checks an HTTP/2 extended CONNECT request (RFC 8441
// section 5).
func validateConnect(req *Request) *Error {
	r := req.HTTP
	if r.Method != http.MethodConnect {
		return &Error{
			Status: http.StatusMethodNotAllowed,
			Reason: fmt.Sprintf("method %q not allowed: a WebSocket over HTTP/2 opens with an extended CONNECT", r.Method),
			Header: http.Header{"Allow": {http.MethodConnect}},
		}
	}
	if r.Host == "" {
		return badRequest("missing :authority")
	}
	switch p := r.Header[hdrPseudoProtocol]; {
	case len(p) == 0:
		return badRequest("missing :protocol: a WebSocket over HTTP/2 is an extended CONNECT with :protocol websocket")
	case p[0] != "websocket":
		return &Error{
			Status: http.StatusNotImplemented,
			Reason: fmt.Sprintf("unsupported :protocol %q: this endpoint serves websocket", p[0]),
		}
	}
	if err := checkVersion(r.Header[hdrVersion]); err != nil {
		return err
	}
	return parseOffers(req)
}

// parseOffers parses the subprotocols and extensions the client offered.
func parseOffers(req *Request) *Error {
	h := req.HTTP.Header
	protos, bad, ok := parseTokenList(h[hdrProtocol])
	if !ok {
		return badRequest(fmt.Sprintf("Sec-WebSocket-Protocol: %q is not a token", bad))
	}
	req.Protocols = protos

	exts, err := ParseExtensions(h[hdrExtensions])
	if err != nil {
		return err.(*Error)
	}
	req.Extensions = exts
	return nil
}

// checkVersion implements RFC 6455 section 4.2.2 item 4
// (https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2): a version the
// server does not speak is answered with 426 and the versions it does speak.
func checkVersion(values []string) *Error {
	var reason string
	switch {
	case len(values) == 0:
		reason = "missing Sec-WebSocket-Version header"
	case len(values) > 1:
		reason = "Sec-WebSocket-Version header sent more than once"
	case values[0] != version:
		reason = fmt.Sprintf("unsupported Sec-WebSocket-Version %q: this server speaks version %s", values[0], version)
	default:
		return nil
	}
	return &Error{
		Status: http.StatusUpgradeRequired,
		Reason: reason,
		// RFC 7231 section 6.5.15
		// (https://www.rfc-editor.org/rfc/rfc7231#section-6.5.15) requires
		// Upgrade in a 426.
		Header: http.Header{hdrVersion: {version}, hdrUpgrade: {"websocket"}},
	}
}

// SelectProtocol returns the first of the server's supported subprotocols,
// in the server's order of preference, that the client offered; "" when
// there is none. Names are compared exactly: RFC 6455 section 4.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-4.1) makes subprotocol
// names case-sensitive tokens.
func SelectProtocol(offered, supported []string) string {
	for _, s := range supported {
		for _, o := range offered {
			if s == o {
				return s
			}
		}
	}
	return ""
}
