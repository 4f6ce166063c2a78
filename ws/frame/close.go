package frame

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxCloseReason is the room a close frame leaves for the reason: 125
// payload bytes (section 5.5,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.5) less the 2-byte code.
const maxCloseReason = 125 - 2

// ParseClosePayload decodes the body of a close frame (RFC 6455
// section 5.5.1, https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1):
// empty, or a 2-byte big-endian status code followed by a UTF-8 reason. An
// empty body yields CloseNoStatus. reason aliases p.
//
// A 1-byte body, a body over 125 bytes, or a code that is not ValidOnWire
// fails with CloseProtocolError (sections 5.5 and 7.4,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.5,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4); a reason that is not
// valid UTF-8 fails with CloseInvalidPayload (section 5.5.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1) requires UTF-8,
// section 8.1 (https://www.rfc-editor.org/rfc/rfc6455#section-8.1) makes
// invalid UTF-8 a failure).
func ParseClosePayload(p []byte) (code CloseCode, reason []byte, err error) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, nil, nil
	case len(p) == 1:
		return 0, nil, errCloseShort
	case len(p) > 125:
		return 0, nil, errCloseLong
	}
	code = CloseCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return 0, nil, errCloseCode
	}
	reason = p[2:]
	if !utf8.Valid(reason) {
		return 0, nil, errCloseReasonUTF8
	}
	return code, reason, nil
}

// AppendClosePayload appends the body of a close frame to dst: code in two
// big-endian bytes, then reason, cut to the 123 bytes that fit in a control
// frame (section 5.5, https://www.rfc-editor.org/rfc/rfc6455#section-5.5)
// without splitting a UTF-8 sequence. CloseNoStatus appends nothing, which
// is how section 7.1.5
// (https://www.rfc-editor.org/rfc/rfc6455#section-7.1.5) encodes "no status
// code".
//
// The caller passes a code that is ValidOnWire (or CloseNoStatus) and a
// UTF-8 reason; AppendClosePayload writes other values as they are, and the
// peer will reject them.
func AppendClosePayload(dst []byte, code CloseCode, reason string) []byte {
	if code == CloseNoStatus {
		return dst
	}
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		// Back up over at most three continuation bytes to the start
		// of the rune that straddles the limit.
		for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(reason[cut]); i++ {
			cut--
		}
		reason = reason[:cut]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}
