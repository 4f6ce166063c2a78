// Package ws is the WebSocket connection engine: message reassembly,
// control frames, the closing handshake, UTF-8 validation, limits,
// permessage-deflate and the send queue (RFC 6455 sections 5.4, 5.5, 7 and
// 8; RFC 7692 section 6), and the event Loop its callbacks run on.
//
// # The loop
//
// Callbacks of one Loop never run concurrently, so code inside them needs
// no locks, as in the reference's event loop. Loop.Run blocks until no
// active handle (a running server, an open connection) is left, or until
// Loop.Stop.
//
// Each connection has one I/O goroutine. It waits for the socket to become
// readable without holding a buffer (on Linux it peeks through the runtime
// poller), reads into a pooled buffer, decodes and unmasks frames in place,
// validates UTF-8 as the bytes arrive, inflates, and then delivers each
// finished event by taking the loop's run lock and calling the listeners
// itself. Events posted while another goroutine holds the lock (timers,
// Loop.Post from anywhere, drain events) are queued and run by the holder
// before it lets go. The alternative, a dispatcher goroutine fed through a
// channel, costs two goroutine switches per batch of events where the lock
// costs one uncontended mutex; see docs/performance.md for the figures.
//
// A message is delivered straight out of the read buffer when it arrived
// whole in one read, so Message.Payload is only valid until the listener
// returns.
//
// # Sending
//
// SendText, SendBinary, SendPing and Close are safe from any goroutine and
// keep their order. A send encodes the frame into the connection's queue
// and returns; it never blocks on the socket. Frames queued by listeners
// while the I/O goroutine dispatches go out in one writev when it is done;
// a send from any other goroutine starts a short-lived flushing goroutine
// when none is running. The queue is bounded by Config.SendQueueLimit:
// at the limit a send is refused (BackpressureRefuse) or the connection is
// closed with 1008 (BackpressureClose, the default). BufferedAmount and the
// drain event let a sender pace itself.
//
// # Bad input
//
// Every protocol violation closes the connection with the code RFC 6455
// gives it: 1002 for framing and close-frame errors, 1007 for invalid UTF-8
// (as soon as the invalid byte arrives, also in the middle of a fragment;
// a compressed message is inflated and validated as it arrives, so there
// too as soon as the invalid byte is inflated) and for corrupt compressed
// data, 1009 for a frame,
// message or inflated message over its limit or too many fragments, 1008
// for a message that takes longer than Config.MessageTimeout and for a
// full send queue, 1011 when a listener panics (the panic is logged
// through log/slog).
package ws
