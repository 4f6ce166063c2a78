package client

import (
	"errors"
	"fmt"
	"net/http"
)

// Causes a HandshakeError wraps, besides handshake.ErrBadServerResponse
// (status, Upgrade, Connection or Sec-WebSocket-Accept wrong) and
// permessagedeflate.ErrBadAnswer.
var (
	// ErrResponseTooLarge: the response head exceeds
	// Config.MaxHandshakeSize.
	ErrResponseTooLarge = errors.New("client: handshake response head too large")
	// ErrMalformedResponse: the response is not valid HTTP/1.1.
	ErrMalformedResponse = errors.New("client: malformed handshake response")
	// ErrProtocolNotOffered: the server chose a subprotocol we did not
	// offer, or several (RFC 6455 section 4.1, the client's step 6).
	ErrProtocolNotOffered = errors.New("client: server chose a subprotocol that was not offered")
	// ErrExtensionNotOffered: the server answered an extension we did not
	// offer, or one twice (section 4.1, the client's step 5).
	ErrExtensionNotOffered = errors.New("client: server answered an extension that was not offered")
)

// ErrBadURL is returned for a URL Dial cannot connect to: a scheme other
// than ws and wss, no host, user information or a fragment (RFC 6455
// section 3).
var ErrBadURL = errors.New("client: invalid WebSocket URL")

// HandshakeError is a server's answer that does not establish a WebSocket
// connection: a status other than 101 (a redirect, 401, 403, 503, ...), or
// a 101 that breaks RFC 6455 section 4.1 or RFC 7692 section 7.1. It is the
// reference's response with its error set.
type HandshakeError struct {
	// StatusCode is the response's status; 0 when no status line could
	// be read (a head too large or malformed).
	StatusCode int
	// Header is the response's header, nil when it could not be read.
	Header http.Header
	// Body holds the start of a refusal's body, at most
	// MaxErrorBodySize bytes; nil for a 101.
	Body []byte
	// Err says what is wrong.
	Err error
}

func (e *HandshakeError) Error() string {
	if errors.Is(e.Err, ErrProxyRefused) {
		return "client: " + e.Err.Error()
	}
	if e.StatusCode != 0 && e.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Sprintf("client: handshake refused: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return "client: handshake failed: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }
