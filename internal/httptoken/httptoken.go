// Package httptoken holds the HTTP grammar's smallest pieces (RFC 9110
// section 5.6, https://www.rfc-editor.org/rfc/rfc9110#section-5.6) that
// the upgrade's parsers share: the token alphabet and optional
// whitespace. ws/handshake reads header values with them, internal/httphead
// request heads.
package httptoken

// tchar is the token alphabet (RFC 9110 section 5.6.2): visible ASCII
// minus the delimiters.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// IsTchar reports whether c may appear in a token.
func IsTchar(c byte) bool { return tchar[c] }

// IsOWS reports whether c is optional whitespace (SP / HTAB).
func IsOWS(c byte) bool { return c == ' ' || c == '\t' }

// TrimOWS returns s without the optional whitespace around it.
func TrimOWS(s string) string {
	for s != "" && IsOWS(s[0]) {
		s = s[1:]
	}
	for s != "" && IsOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
