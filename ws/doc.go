// Package ws is the WebSocket connection engine: message reassembly,
// control frames, the closing handshake, UTF-8 validation, limits,
// permessage-deflate and the send queue (RFC 6455 sections 5.4
// https://www.rfc-editor.org/rfc/rfc6455#section-5.4, 5.5
// https://www.rfc-editor.org/rfc/rfc6455#section-5.5, 7
// https://www.rfc-editor.org/rfc/rfc6455#section-7 and 8
// https://www.rfc-editor.org/rfc/rfc6455#section-8; RFC 7692 section 6,
// https://www.rfc-editor.org/rfc/rfc7692#section-6), and the event Loop
// its callbacks run on. A PreparedMessage is a message encoded once for
// many connections.
//
// # The loop
//
// Callbacks of one Loop never run concurrently, so code inside them needs
// no locks, as in the event loop of the Perl module
// UniEvent::WebSocket::Server. Loop.Run blocks until no active handle (a
// running server, an open connection) is left, or until Loop.Stop. There
// is no dispatcher goroutine: the goroutine that has an event takes the
// loop's lock and runs the listeners in place, which costs a mutex where
// a dispatcher costs two goroutine switches (docs/performance.md). One loop uses about one
// core for its connections' callbacks; to use more, run several loops
// (examples/multicore).
//
// Reading, decoding, UTF-8 validation, inflating and compressing run
// outside the loop, in parallel. On Linux a plain TCP or Unix connection
// whose peer is silent is served by its loop's epoll pollers (one per
// core), and an idle one holds no goroutine and no buffer; TLS
// connections, other platforms and the build tag unievent_nopoll keep a
// goroutine per connection, which waits without a read buffer where the
// socket allows it. docs/architecture.md describes both paths.
//
// A message that arrived whole in one read is delivered straight out of
// the read buffer: Message.Payload is valid only until the listener
// returns.
//
// # Sending
//
// SendText, SendBinary, SendPing and Close are safe from any goroutine,
// keep their order and never block: a send queues the frame and returns.
// The queue is bounded by Config.SendQueueLimit (see DefaultConfig);
// at the limit a send is refused (BackpressureRefuse) or the connection
// closed with 1008 (BackpressureClose, the default). BufferedAmount and
// the drain event let a sender pace itself.
//
// # Bad input
//
// Every protocol violation closes the connection with the code RFC 6455
// gives it: 1002 for framing and close-frame errors; 1007 for invalid
// UTF-8, as soon as the invalid byte arrives (or is inflated), and for
// corrupt compressed data; 1009 for a frame, message or inflated message
// over its limit (Config.MaxFrameSize, Config.MaxMessageSize) or too many
// fragments (Config.MaxFragments); 1008 for a message slower than
// Config.MessageTimeout and a full send queue; 1011 when a listener panics
// (the panic is logged through log/slog). Every timeout of Config is on by
// default (DefaultConfig).
package ws
