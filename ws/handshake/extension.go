package handshake

import (
	"fmt"

	"unievent.dev/internal/httptoken"
)

// Extension is one offer or answer in a Sec-WebSocket-Extensions header
// (RFC 6455 section 9.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-9.1): an extension token
// followed by its parameters in the order they were written.
type Extension struct {
	Name   string
	Params []Param
}

// Param is one extension parameter. HasValue distinguishes "name" from
// "name=" followed by a value; Value holds the unquoted value.
type Param struct {
	Name     string
	Value    string
	HasValue bool
}

// ParseExtensions parses the Sec-WebSocket-Extensions header lines values
// with the grammar of RFC 6455 section 9.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-9.1):
//
//	extension-list = 1#extension
//	extension      = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// Offers are returned in order, across all lines. Optional whitespace around
// the separators and empty list elements are accepted (RFC 7230 section 7,
// https://www.rfc-editor.org/rfc/rfc7230#section-7); a quoted value must
// unquote to a token, as section 9.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-9.1) requires. No lines,
// or lines holding only empty elements, give a nil list. Any other input is
// refused with an [*Error] whose Status is 400, so a server can answer it as
// is. The parser runs in time linear in the input.
func ParseExtensions(values []string) ([]Extension, error) {
	var exts []Extension
	for vi, v := range values {
		p := extParser{s: v, line: vi, lines: len(values)}
		for {
			p.skipOWS()
			if p.done() {
				break
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			ext, err := p.extension()
			if err != nil {
				return nil, err
			}
			exts = append(exts, ext)
			p.skipOWS()
			if p.done() {
				break
			}
			if p.s[p.i] != ',' {
				return nil, p.fail("expected ',' or ';'")
			}
			p.i++
		}
	}
	return exts, nil
}

type extParser struct {
	s     string
	i     int
	line  int // index of s among the header lines, for error messages
	lines int
}

func (p *extParser) done() bool { return p.i >= len(p.s) }

func (p *extParser) skipOWS() {
	for p.i < len(p.s) && httptoken.IsOWS(p.s[p.i]) {
		p.i++
	}
}

func (p *extParser) token() string {
	start := p.i
	for p.i < len(p.s) && httptoken.IsTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *extParser) fail(what string) *Error {
	var where string
	if p.done() {
		where = "at end of"
	} else {
		where = fmt.Sprintf("at byte %d (%q) of", p.i, p.s[p.i])
	}
	line := ""
	if p.lines > 1 {
		line = fmt.Sprintf(" %d", p.line+1)
	}
	return badRequest(fmt.Sprintf("malformed Sec-WebSocket-Extensions header: %s %s line%s", what, where, line))
}

func (p *extParser) extension() (Extension, error) {
	ext := Extension{Name: p.token()}
	if ext.Name == "" {
		return ext, p.fail("expected an extension name")
	}
	for {
		p.skipOWS()
		if p.done() || p.s[p.i] != ';' {
			return ext, nil
		}
		p.i++
		p.skipOWS()
		prm := Param{Name: p.token()}
		if prm.Name == "" {
			return ext, p.fail("expected a parameter name after ';'")
		}
		p.skipOWS()
		if !p.done() && p.s[p.i] == '=' {
			p.i++
			p.skipOWS()
			v, err := p.value()
			if err != nil {
				return ext, err
			}
			prm.Value, prm.HasValue = v, true
		}
		ext.Params = append(ext.Params, prm)
	}
}

// value parses token | quoted-string after "=".
func (p *extParser) value() (string, error) {
	if p.done() || (p.s[p.i] != '"' && !httptoken.IsTchar(p.s[p.i])) {
		return "", p.fail("expected a value after '='")
	}
	if p.s[p.i] != '"' {
		return p.token(), nil
	}
	open := p.i
	p.i++
	escaped := false
	for {
		if p.done() {
			p.i = open
			return "", p.fail("unterminated quoted-string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			raw := p.s[open+1 : p.i]
			p.i++
			if escaped {
				raw = unescape(raw)
			}
			if !isToken(raw) {
				p.i = open
				return "", p.fail("quoted value is not a token (RFC 6455 section 9.1)")
			}
			return raw, nil
		case c == '\\':
			// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
			if p.i+1 >= len(p.s) {
				p.i = open
				return "", p.fail("unterminated quoted-string")
			}
			if !isQuotedText(p.s[p.i+1]) && p.s[p.i+1] != '"' && p.s[p.i+1] != '\\' {
				p.i++
				return "", p.fail("control character in quoted-string")
			}
			escaped = true
			p.i += 2
		case isQuotedText(c):
			p.i++
		default:
			return "", p.fail("control character in quoted-string")
		}
	}
}

// isQuotedText reports whether c is qdtext (RFC 7230 section 3.2.6,
// https://www.rfc-editor.org/rfc/rfc7230#section-3.2.6): HTAB, SP, VCHAR
// except DQUOTE and backslash, or obs-text.
func isQuotedText(c byte) bool {
	return c == '\t' || c == ' ' || (0x21 <= c && c != '"' && c != '\\' && c != 0x7f)
}

// unescape removes the backslashes of quoted-pairs from a well-formed
// quoted-string body.
func unescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// FormatExtensions returns the Sec-WebSocket-Extensions header value for
// exts: offers separated by ", ", parameters by "; ", a value quoted only
// when it is not a token. For valid input (every name and value a token)
// ParseExtensions of the result gives exts back. FormatExtensions does not
// validate; [AppendResponse] does before it writes a header.
func FormatExtensions(exts []Extension) string {
	var b []byte
	for i, e := range exts {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = e.append(b)
	}
	return string(b)
}

// String returns e as one element of a Sec-WebSocket-Extensions header
// value, in the form [FormatExtensions] writes.
func (e Extension) String() string { return string(e.append(nil)) }

func (e Extension) append(b []byte) []byte {
	b = append(b, e.Name...)
	for _, prm := range e.Params {
		b = append(b, "; "...)
		b = append(b, prm.Name...)
		if !prm.HasValue {
			continue
		}
		b = append(b, '=')
		if isToken(prm.Value) {
			b = append(b, prm.Value...)
			continue
		}
		b = append(b, '"')
		for i := 0; i < len(prm.Value); i++ {
			if c := prm.Value[i]; c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, prm.Value[i])
		}
		b = append(b, '"')
	}
	return b
}

// validExtension reports why e cannot be written into a header, or "".
func validExtension(e Extension) string {
	if !isToken(e.Name) {
		return fmt.Sprintf("extension name %q is not a token", e.Name)
	}
	for _, prm := range e.Params {
		if !isToken(prm.Name) {
			return fmt.Sprintf("extension %s: parameter name %q is not a token", e.Name, prm.Name)
		}
		if prm.HasValue && !isToken(prm.Value) {
			return fmt.Sprintf("extension %s: parameter %s value %q is not a token", e.Name, prm.Name, prm.Value)
		}
	}
	return ""
}
