package handshake

import (
	"net/http"

	"unievent.dev/internal/httptoken"
)

// IsToken reports whether s is an RFC 7230 token (1*tchar), as a subprotocol
// name (RFC 6455 section 4.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.1) or an extension name
// must be.
func IsToken(s string) bool { return isToken(s) }

// isToken reports whether s is an RFC 7230 token (1*tchar).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httptoken.IsTchar(s[i]) {
			return false
		}
	}
	return true
}

// nextElement splits the first element off an RFC 7230 section 7
// (https://www.rfc-editor.org/rfc/rfc7230#section-7) comma-separated list
// and trims the OWS around it.
func nextElement(s string) (elem, rest string) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return httptoken.TrimOWS(s[:i]), s[i+1:]
		}
	}
	return httptoken.TrimOWS(s), ""
}

// hasToken reports whether any list element of the header lines values is
// tok, compared case-insensitively as RFC 6455 section 4.2.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) asks for the
// Upgrade and Connection fields.
func hasToken(values []string, tok string) bool {
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v = nextElement(v)
			if equalFoldASCII(elem, tok) {
				return true
			}
		}
	}
	return false
}

// equalFoldASCII compares ASCII case-insensitively; unlike strings.EqualFold
// it never maps non-ASCII letters (the Kelvin sign is not a "k").
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFoldASCII(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFoldASCII(s[:len(prefix)], prefix)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// parseTokenList parses header lines holding 1#token (RFC 7230 section 7
// (https://www.rfc-editor.org/rfc/rfc7230#section-7): empty elements are
// skipped). bad is the first element that is not a token.
func parseTokenList(values []string) (list []string, bad string, ok bool) {
	n := 0
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v = nextElement(v)
			if elem == "" {
				continue
			}
			if !isToken(elem) {
				return nil, elem, false
			}
			n++
		}
	}
	if n == 0 {
		return nil, "", true
	}
	list = make([]string, 0, n)
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v = nextElement(v)
			if elem != "" {
				list = append(list, elem)
			}
		}
	}
	return list, "", true
}

// IsUpgradeRequest reports whether r asks to be upgraded to WebSocket: its
// Upgrade header lists the token "websocket" (case-insensitively, RFC 6455
// section 4.2.1, https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1), or
// it is an HTTP/2 extended CONNECT (RFC 8441 section 4,
// https://www.rfc-editor.org/rfc/rfc8441#section-4: it has a :protocol,
// whichever). It does not validate the rest; Validate does, and refuses
// another :protocol. Servers use it to tell upgrade
// requests from plain ones.
func IsUpgradeRequest(r *http.Request) bool {
	if r.ProtoMajor == 2 && r.Method == http.MethodConnect && len(r.Header[hdrPseudoProtocol]) > 0 {
		return true
	}
	return hasToken(r.Header[hdrUpgrade], "websocket")
}
