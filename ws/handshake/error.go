package handshake

import (
	"errors"
	"net/http"
)

// Error is a refused opening handshake: the HTTP status a server answers
// with, a reason a person can read, and the header fields the answer must
// carry (Allow for 405, Sec-WebSocket-Version and Upgrade for 426).
type Error struct {
	Status int
	Reason string
	Header http.Header
}

// Error returns the reason, prefixed with the package name.
func (e *Error) Error() string { return "handshake: " + e.Reason }

// AppendResponse appends the HTTP response that refuses the handshake:
// e.Status, e.Header, and e.Reason as a text/plain body. If e holds
// something that cannot be written (a status outside 400..599, a header that
// would break the response), a plain 400 Bad Request with the reason is
// written instead, so a refusal is always answered.
func (e *Error) AppendResponse(dst []byte) []byte {
	out, err := AppendErrorResponse(dst, e.Status, e.Reason, e.Header)
	if err != nil {
		out, _ = AppendErrorResponse(dst, http.StatusBadRequest, e.Reason, nil)
	}
	return out
}

// ErrInvalidResponse is wrapped by the errors of [AppendResponse] and
// [AppendErrorResponse] when they are asked to write a response that would
// be invalid or would let a caller's header break the message.
var ErrInvalidResponse = errors.New("handshake: refusing to write an invalid response")

// ErrBadServerResponse is wrapped by the errors of [CheckResponse]: the
// server's answer does not complete a WebSocket handshake.
var ErrBadServerResponse = errors.New("handshake: server did not accept the WebSocket handshake")

func badRequest(reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Reason: reason}
}
