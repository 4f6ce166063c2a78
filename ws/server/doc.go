// Package server is the WebSocket server of unievent.dev, the Go form of
// the Perl module UniEvent::WebSocket::Server: it listens on locations (or
// is mounted on a foreign net/http server), validates and answers the
// opening handshake (RFC 6455 section 4.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2, with ws/handshake and
// ws/permessagedeflate), hands each upgraded connection to a ws.Conn on
// the server's ws.Loop, and keeps the registry of its connections.
//
// # Standalone and mounted
//
// With Config.Locations the server runs its own net/http server on them:
// every WebSocket upgrade request, on any path, is upgraded (the
// handshake callback decides otherwise), and plain requests go to
// HTTPConfig.Handler. Without locations it listens on nothing; hand it
// requests with UpgradeConnection, or mount it as an http.Handler on any
// mux.
//
// # WebSocket over HTTP/2
//
// A server mounted on an http.Server that speaks HTTP/2 (TLS with h2),
// and a server's own TLS locations, also serve WebSockets on HTTP/2
// streams: an extended CONNECT with
// :protocol websocket (RFC 8441, https://www.rfc-editor.org/rfc/rfc8441) gets the same handshake callback,
// subprotocol and permessage-deflate negotiation, limits, callbacks,
// close handshake and Stop as an HTTP/1.1 upgrade, and is answered 200
// (there is no Sec-WebSocket-Key or Accept). The connection runs on the
// stream, read from the request body and written through the
// ResponseWriter, on a goroutine of its own; a reset stream ends it with
// 1006. The handshake callback and Conn.Request tell the two apart by the
// request's Proto ("HTTP/2.0", method CONNECT).
//
// On a stream, bad input ends as on HTTP/1.1 where it can: another
// :protocol gets 501, a version other than 13 gets 426, no :authority
// 400; net/http itself resets a stream without :path (RST_STREAM
// PROTOCOL_ERROR) before the server sees it. Frames the client sends
// before the 200 are read after it (and dropped with a refusal). A peer
// that gives no flow-control window is a peer that does not read: sends
// queue up to ws.Config.SendQueueLimit and then get the SendQueuePolicy,
// the blocked write gives up at the close timeout (or WriteTimeout), the
// stream is reset and the close listeners get 1006; Stop finishes
// within the close timeout all the same. How many streams one HTTP/2
// connection carries at a time is net/http's MaxConcurrentStreams (250
// by default): HTTPConfig.HTTP2 sets it for the server's own locations,
// the foreign http.Server's HTTP2 field for a mounted server; a stream
// past it is reset by net/http, and Config.MaxConnections (503) counts
// the WebSockets of every connection together.
//
// Go's HTTP/2 server serves extended CONNECT, and advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL so that browsers use it, only when the
// process starts with GODEBUG=http2xconnect=1 in its environment (off by
// default since Go 1.24, golang/go#71128). Neither Go 1.26 nor Go 1.27
// (1.27.3 checked) has an http.HTTP2Config field or other switch for it:
// the explicit setting proposed in golang/go#72071 is in no release yet,
// so there is nothing for a build tag to select. Without the setting the server's TLS
// locations offer HTTP/1.1 only (Run logs it), a foreign
// http.Server's HTTP/2 never offers WebSockets on a stream, and browsers
// open them over HTTP/1.1 as before:
//
//	GODEBUG=http2xconnect=1 ./yourserver
//
// Conn.Transport says which transport a connection came on
// (TransportHTTP2 or TransportHTTP1). What a stream costs, measured in
// docs/performance.md (BenchmarkEchoH2 beside BenchmarkEchoH1TLS,
// TestIdleMemoryPerTransport): an echo round trip takes about 1.6 to 1.9
// times one over HTTP/1.1 with TLS, and an idle WebSocket on a stream
// holds about the RSS of an idle wss connection (some 18 KiB, 27 KiB once
// a message went through: two goroutines and net/http's stream state
// instead of a socket and a TLS connection), against about 4.5 KiB for
// plain HTTP/1.1.
//
// # Callbacks
//
// The handshake, connection and disconnection callbacks, and the
// listeners of every connection, run on the server's loop, one at a time.
// Run returns at once; the loop's Run serves until Stop (or, for a loop
// shared with other servers, until nothing is left on it).
//
// # Topics
//
// A connection subscribes to topics by name (Conn.Subscribe, Unsubscribe,
// Topics) and Server.Publish, from any goroutine, sends one message to
// every subscriber of a topic: encoded, and with permessage-deflate
// compressed, once for all of them (ws.PreparedMessage), queued on each
// without blocking. A subscriber whose send queue is full is handled by
// its ws.Config.SendQueuePolicy (closed with 1008, or the message
// skipped); TopicStats counts it. A closed connection leaves its topics
// by itself. A subscription costs about 41 heap bytes when many
// connections share a topic, about 145 with one subscriber per topic (the
// topic's own entry; its name's bytes aside): TestMemoryPerSubscription
// measures both with 1,000,000 subscriptions.
//
// Past one machine, a Broker (SetBroker) carries the topics to the other
// nodes: it learns which topics this server's connections hold, is
// handed every Publish, and delivers what the other nodes publish with
// PublishLocal. Without one, everything stays in the process.
//
// # Limits
//
// The HTTP side bounds the request headers (431 past
// HTTPConfig.MaxHeaderBytes, exactly for the first request of a
// connection, and for an upgrade request past Config.MaxHeaderFields
// fields) and the time to read them and finish TLS
// (HTTPConfig.HandshakeTimeout); a bad handshake gets 400 (405 for a
// method other than GET, 426 with Sec-WebSocket-Version: 13 for another
// version); past Config.MaxConnections an upgrade gets 503 with
// Retry-After. Every connection limit and timeout of ws.Config applies to
// the connections.
package server
