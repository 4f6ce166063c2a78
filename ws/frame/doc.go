// Package frame is the RFC 6455 wire codec: it encodes and incrementally
// decodes WebSocket frames and knows nothing of connections, messages or I/O.
//
// It implements RFC 6455 section 5
// (https://www.rfc-editor.org/rfc/rfc6455#section-5):
//   - 5.2 base framing: the header layout, the three length forms and the
//     rule that the minimal one must be used (HeaderLen, PutHeader,
//     AppendHeader, AppendFrame, Decoder);
//   - 5.3 client-to-server masking: servers receive only masked frames,
//     clients only unmasked ones (Role), and the Decoder unmasks payload in
//     place;
//   - 5.4 fragmentation: continuation frames must continue a message, a new
//     message must not start inside another, control frames may come between
//     fragments;
//   - 5.5 control frames: at most 125 payload bytes and never fragmented, and
//     5.5.1 the close frame body (ParseClosePayload, AppendClosePayload);
//
// and the status codes of section 7.4
// (https://www.rfc-editor.org/rfc/rfc6455#section-7.4; CloseCode), with the
// later IANA registrations 1012-1014.
//
// Every decoding failure is an *Error carrying the close code the connection
// should send (1002, 1007 or 1009). The Decoder never allocates: it keeps at
// most a partial header in a fixed array and hands out payload as sub-slices
// of the caller's buffer.
package frame
