// Package client is the WebSocket client of unievent.dev, the Go form of
// the Perl module UniEvent::WebSocket::Client: it dials ws:// and wss://
// URLs, performs the client's opening handshake (RFC 6455 section 4.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.1, with ws/handshake and,
// for permessage-deflate, ws/permessagedeflate) and hands the connection to
// a ws.Conn on a ws.Loop: the same connection type, listeners and sends as
// a server's, with the client's duties of RFC 6455 (every frame masked with
// a fresh key from crypto/rand, masked frames from the server refused with
// 1002, and after the closing handshake the server's TCP close awaited,
// section 7.1.1).
//
// # Blocking and asynchronous
//
// Dial blocks until the connection is established or refused; Connect
// returns at once and runs its callback on the loop, as the reference's
// connect_callback, once the handshake is over. Neither connection reads
// before its listeners can be in place: one from Connect starts reading
// when the callback returns, one from Dial on its loop's next turn, so
// listeners set before the loop runs (the usual order in a program: Dial,
// set the listeners, loop.Run) see every message. Client connections are
// active handles of their loop, next to any servers on it.
//
// # Refusals
//
// Every answer that does not complete the handshake is a *HandshakeError
// (status, header, at most MaxErrorBodySize bytes of the body, and the
// cause: handshake.ErrBadServerResponse, ErrResponseTooLarge,
// ErrProtocolNotOffered, ErrExtensionNotOffered or
// permessagedeflate.ErrBadAnswer). Redirects are not followed: a 3xx is a
// HandshakeError with the Location in its Header. A handshake slower than
// Config.HandshakeTimeout, or whose context ends, fails with an error
// that wraps context.DeadlineExceeded or the context's error.
//
// # Proxies
//
// Through an HTTP proxy the client opens a tunnel with CONNECT
// (Config.Proxy, http.ProxyFromEnvironment by default) and runs TLS and
// the handshake inside it; a proxy that refuses is a HandshakeError
// wrapping ErrProxyRefused with the proxy's status (407 when it wants
// credentials, given as the proxy URL's user).
//
// # WebSocket over HTTP/2
//
// With Config.HTTP2 set (HTTP2Prefer or HTTP2Only), a wss:// connection
// offers h2 in TLS's ALPN, and on an HTTP/2 connection whose SETTINGS
// enable extended CONNECT it is a stream (RFC 8441,
// https://www.rfc-editor.org/rfc/rfc8441): net/http's HTTP/2 client sends
// the CONNECT with :protocol websocket, the server answers 200, and the
// same engine runs on the stream. A Go server serves that only with
// GODEBUG=http2xconnect=1 (unievent.dev/ws/server: go doc
// unievent.dev/ws/server). When the server does not offer it,
// HTTP2Prefer upgrades over HTTP/1.1 (on the same connection when ALPN
// chose http/1.1, on a new one when the server speaks HTTP/2 without
// extended CONNECT) and HTTP2Only fails with ErrNoHTTP2; a refusal is a
// HandshakeError wrapping ErrRefusedOverHTTP2. Every such connection has
// an HTTP/2 connection of its own.
package client
