// Package handshake implements the WebSocket opening handshake of RFC 6455.
//
// On the server side (section 4.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2) [Validate] checks an
// HTTP upgrade request against section 4.2.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) and reports a
// refusal as an [*Error] carrying the HTTP status to answer;
// [AppendResponse] writes the 101 Switching Protocols answer of
// section 4.2.2 (https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2), and
// [AppendErrorResponse] a refusal. On the client side (section 4.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.1) [NewKey] makes a
// Sec-WebSocket-Key and [CheckResponse] checks the server's answer.
//
// [ParseExtensions] and [FormatExtensions] implement the
// Sec-WebSocket-Extensions grammar of section 9.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-9.1) on top of the token
// and quoted-string rules of RFC 7230; [SelectProtocol] chooses a
// subprotocol. The header fields involved are the ones registered in
// section 11.3 (https://www.rfc-editor.org/rfc/rfc6455#section-11.3).
//
// The package only parses and formats: it does no I/O, so the caller decides
// how requests are read and where responses are written.
package handshake
