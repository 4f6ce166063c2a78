package frame

import "strconv"

// CloseCode is a close frame status code (RFC 6455 section 7.4,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4), as registered in the
// IANA "WebSocket Close Code Number Registry".
//
// The ranges (section 7.4.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.2):
//   - 0-999: never used.
//   - 1000-2999: reserved for RFC 6455, its revisions and extensions; only
//     the codes below have a meaning.
//   - 3000-3999: registered with IANA for libraries, frameworks and
//     applications.
//   - 4000-4999: private use, by agreement between the endpoints.
//   - 5000 and up: undefined.
type CloseCode uint16

// The codes defined by RFC 6455 section 7.4.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1) and, for 1012-1014,
// the IANA registry. Codes 1005, 1006 and 1015 are for reporting only and
// must never appear on the wire.
const (
	CloseNormal             CloseCode = 1000 // the purpose of the connection is fulfilled
	CloseAway               CloseCode = 1001 // server going down or browser leaving the page
	CloseProtocolError      CloseCode = 1002 // the peer broke the protocol
	CloseUnsupportedData    CloseCode = 1003 // a data type the endpoint cannot accept
	CloseNoStatus           CloseCode = 1005 // reporting only: the close frame carried no code
	CloseAbnormal           CloseCode = 1006 // reporting only: the connection dropped without a close frame
	CloseInvalidPayload     CloseCode = 1007 // data inconsistent with its type, such as invalid UTF-8 text
	ClosePolicyViolation    CloseCode = 1008 // a message violated the endpoint's policy
	CloseMessageTooBig      CloseCode = 1009 // a frame or message is too big to process
	CloseMandatoryExtension CloseCode = 1010 // client: the server did not negotiate a required extension
	CloseInternalError      CloseCode = 1011 // server: an unexpected condition prevented the request
	CloseServiceRestart     CloseCode = 1012 // server restarting (IANA registry)
	CloseTryAgainLater      CloseCode = 1013 // temporary overload, try later (IANA registry)
	CloseBadGateway         CloseCode = 1014 // a gateway got an invalid upstream response (IANA registry)
	CloseTLSHandshake       CloseCode = 1015 // reporting only: the TLS handshake failed
)

// ValidOnWire reports whether c may be sent in a close frame (RFC 6455
// sections 7.4.1 and 7.4.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.2): the defined codes
// 1000-1003 and 1007-1014 and the registered and private ranges 3000-4999.
// An endpoint receiving any other code fails the connection with
// CloseProtocolError.
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// String returns the code's IANA meaning in lower case, or "close code N"
// for codes without a defined name.
func (c CloseCode) String() string {
	switch c {
	case CloseNormal:
		return "normal closure"
	case CloseAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case CloseNoStatus:
		return "no status received"
	case CloseAbnormal:
		return "abnormal closure"
	case CloseInvalidPayload:
		return "invalid payload data"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseMessageTooBig:
		return "message too big"
	case CloseMandatoryExtension:
		return "mandatory extension"
	case CloseInternalError:
		return "internal error"
	case CloseServiceRestart:
		return "service restart"
	case CloseTryAgainLater:
		return "try again later"
	case CloseBadGateway:
		return "bad gateway"
	case CloseTLSHandshake:
		return "TLS handshake failure"
	}
	return "close code " + strconv.Itoa(int(c))
}
