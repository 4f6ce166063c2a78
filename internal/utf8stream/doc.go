// Package utf8stream validates UTF-8 (RFC 3629) one chunk at a time, failing
// at the first byte that rules out every valid continuation.
//
// RFC 3629 section 4 gives the well-formed byte sequences as a table: C0, C1
// and F5..FF never occur; after E0 the next byte is A0..BF (no overlong
// three-byte forms), after ED it is 80..9F (no UTF-16 surrogates, section
// 3), after F0 it is 90..BF (no overlong four-byte forms) and after F4 it is
// 80..8F (nothing above U+10FFFF); every other trailing byte is 80..BF.
//
// A WebSocket endpoint must fail the connection as soon as text data turns
// out not to be UTF-8 (RFC 6455 section 8.1, with close code 1007 from
// section 7.4.1), and a text message can arrive in many fragments with a
// code point split between them (section 5.4). Waiting for the end of the
// message is not enough: Autobahn test cases 6.4.x send the offending byte
// and then stall, and expect the close during the stall. A [Validator]
// therefore carries the unfinished sequence across Write calls in one byte
// of state and reports the failure at the Write that delivers the bad byte.
// [Valid] is the one-shot check for payloads that arrive whole, such as a
// close reason (RFC 6455 section 5.5.1).
//
// Both skip runs of ASCII a machine word or more at a time; only bytes that
// belong to multi-byte sequences go through the byte-by-byte rules.
package utf8stream
