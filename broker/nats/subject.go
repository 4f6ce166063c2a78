package nats

import (
	"errors"
	"strings"
)

// escapeChar starts an escape: %XX, two upper-case hex digits.
const escapeChar = '%'

// ErrSubject is the error of UnescapeTopic for a token that EscapeTopic
// does not make.
var ErrSubject = errors.New("nats: not an escaped topic")

// keep reports whether EscapeTopic leaves b as it is: printable ASCII
// other than what NATS reserves in a subject ('.' separates tokens, '*'
// and '>' are wildcards; whitespace and control bytes end a protocol
// field) and the escape character itself. Every other byte, UTF-8's
// included, becomes %XX.
func keep(b byte) bool {
	return b > ' ' && b < 0x7f && b != '.' && b != '*' && b != '>' && b != escapeChar
}

const hexDigits = "0123456789ABCDEF"

// EscapeTopic returns topic as one NATS subject token: the bytes NATS
// reserves (".", "*", ">", whitespace, control bytes), bytes outside
// printable ASCII and "%" itself become "%XX" (upper-case hex), the rest
// stays. UnescapeTopic reverses it. A Broker's subject for topic is its
// prefix, ".", and EscapeTopic(topic): a service outside this module that
// publishes to a topic builds the same.
func EscapeTopic(topic string) string {
	n := 0
	for i := 0; i < len(topic); i++ {
		if !keep(topic[i]) {
			n++
		}
	}
	if n == 0 {
		return topic
	}
	var sb strings.Builder
	sb.Grow(len(topic) + 2*n)
	for i := 0; i < len(topic); i++ {
		b := topic[i]
		if keep(b) {
			sb.WriteByte(b)
			continue
		}
		sb.WriteByte(escapeChar)
		sb.WriteByte(hexDigits[b>>4])
		sb.WriteByte(hexDigits[b&0xf])
	}
	return sb.String()
}

// UnescapeTopic returns the topic that EscapeTopic turned into token. A
// token EscapeTopic does not make (a byte it escapes left as it is, an
// escape of a byte it keeps, lower-case or missing hex digits) is
// ErrSubject: each topic has exactly one token.
func UnescapeTopic(token string) (string, error) {
	i := strings.IndexByte(token, escapeChar)
	if i < 0 {
		for j := 0; j < len(token); j++ {
			if !keep(token[j]) {
				return "", ErrSubject
			}
		}
		return token, nil
	}
	out := make([]byte, 0, len(token))
	for j := 0; j < len(token); j++ {
		b := token[j]
		if b != escapeChar {
			if !keep(b) {
				return "", ErrSubject
			}
			out = append(out, b)
			continue
		}
		if j+2 >= len(token) {
			return "", ErrSubject
		}
		hi, lo := unhex(token[j+1]), unhex(token[j+2])
		if hi < 0 || lo < 0 {
			return "", ErrSubject
		}
		d := byte(hi<<4 | lo)
		if keep(d) {
			return "", ErrSubject
		}
		out = append(out, d)
		j += 2
	}
	return string(out), nil
}

// unhex is the value of an upper-case hex digit, -1 for another byte.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// validPrefix reports whether p can start a subject: tokens of printable
// ASCII separated by single dots, no wildcard.
func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			b := tok[i]
			if b <= ' ' || b >= 0x7f || b == '*' || b == '>' {
				return false
			}
		}
	}
	return true
}
