package frame

// Error is a decoding failure. Code is the status the connection should
// close with (RFC 6455 section 7.4.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1): CloseProtocolError
// for a frame that breaks section 5
// (https://www.rfc-editor.org/rfc/rfc6455#section-5), CloseMessageTooBig for
// a frame over the Decoder's MaxFrameSize, CloseInvalidPayload for a close
// reason that is not UTF-8. Reason is a short human-readable explanation;
// the reasons this package produces fit in a close frame (at most 123 bytes,
// section 5.5, https://www.rfc-editor.org/rfc/rfc6455#section-5.5). The
// package returns shared *Error values: callers read them, never modify.
type Error struct {
	Code   CloseCode
	Reason string
}

// Error returns "websocket: " followed by the reason.
func (e *Error) Error() string { return "websocket: " + e.Reason }

// The decoder's errors are fixed values so that failing never allocates.
var (
	errRSV1            = &Error{CloseProtocolError, "RSV1 set without a negotiated extension"}
	errRSV1Control     = &Error{CloseProtocolError, "RSV1 set on a control frame"}
	errRSV1Cont        = &Error{CloseProtocolError, "RSV1 set on a continuation frame"}
	errRSV2            = &Error{CloseProtocolError, "RSV2 set"}
	errRSV3            = &Error{CloseProtocolError, "RSV3 set"}
	errReservedOpcode  = &Error{CloseProtocolError, "reserved opcode"}
	errControlFin      = &Error{CloseProtocolError, "fragmented control frame"}
	errControlLength   = &Error{CloseProtocolError, "control frame payload over 125 bytes"}
	errUnmasked        = &Error{CloseProtocolError, "unmasked frame from a client"}
	errMasked          = &Error{CloseProtocolError, "masked frame from a server"}
	errContinuation    = &Error{CloseProtocolError, "continuation frame with no message in progress"}
	errInterleaved     = &Error{CloseProtocolError, "new data frame while a fragmented message is in progress"}
	errLengthMSB       = &Error{CloseProtocolError, "64-bit payload length with the most significant bit set"}
	errNonMinimal      = &Error{CloseProtocolError, "payload length not in its minimal encoding"}
	errFrameTooBig     = &Error{CloseMessageTooBig, "frame payload over the size limit"}
	errCloseShort      = &Error{CloseProtocolError, "close frame payload of 1 byte"}
	errCloseLong       = &Error{CloseProtocolError, "close frame payload over 125 bytes"}
	errCloseCode       = &Error{CloseProtocolError, "invalid close code"}
	errCloseReasonUTF8 = &Error{CloseInvalidPayload, "close reason is not valid UTF-8"}
)
