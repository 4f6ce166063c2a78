package handshake

import (
	"fmt"
	"net/http"
)

// CheckResponse checks a server's answer to a client handshake sent with key
// (RFC 6455 section 4.1, https://www.rfc-editor.org/rfc/rfc6455#section-4.1,
// the client's steps after reading the response): status 101, Upgrade
// holding "websocket", Connection holding "upgrade", and exactly one
// Sec-WebSocket-Accept equal to [AcceptKey](key). Errors wrap
// [ErrBadServerResponse]. Subprotocol and extension checks are left to the
// caller, who knows what it offered.
func CheckResponse(resp *http.Response, key string) error {
	if resp == nil {
		return fmt.Errorf("%w: no response", ErrBadServerResponse)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("%w: status %d, want 101", ErrBadServerResponse, resp.StatusCode)
	}
	if !hasToken(resp.Header[hdrUpgrade], "websocket") {
		return fmt.Errorf(`%w: Upgrade header does not include "websocket"`, ErrBadServerResponse)
	}
	if !hasToken(resp.Header[hdrConnection], "upgrade") {
		return fmt.Errorf(`%w: Connection header does not include "Upgrade"`, ErrBadServerResponse)
	}
	accept := resp.Header[hdrAccept]
	if len(accept) != 1 {
		return fmt.Errorf("%w: want one Sec-WebSocket-Accept header, got %d", ErrBadServerResponse, len(accept))
	}
	if want := AcceptKey(key); accept[0] != want {
		return fmt.Errorf("%w: Sec-WebSocket-Accept is %q, want %q", ErrBadServerResponse, accept[0], want)
	}
	return nil
}
