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
// On Linux, a connection on a plain TCP or Unix socket is served by one of
// its loop's pollers once its peer has been silent for a few milliseconds:
// one goroutine per core (GOMAXPROCS, at most eight) per loop, each waiting
// on an epoll instance that watches its share of the loop's sockets (the
// wait itself goes through Go's runtime poller, so no thread sleeps for
// it). For each readable socket a poller reads into a pooled buffer,
// decodes and unmasks frames in place, validates UTF-8 as the bytes
// arrive, inflates, runs the listeners in place under the loop's run lock,
// and writes what they queued with one non-blocking writev. The system
// calls run outside the lock: the pollers read and write in parallel, the
// listeners of a loop still run one at a time. With permessage-deflate,
// inflating and compressing run outside the lock too (only each message's
// listeners take it), so connections compress in parallel. Timers (idle,
// ping, pong, message, close) are a heap in the poller. An idle connection therefore holds no
// goroutine, no stack and no buffer: its socket, its Conn and what the
// application keeps. A socket that will not take everything queued gets a
// goroutine that waits to write the rest; meanwhile that socket is not
// read (a peer that does not read is not read either, as with a blocking
// write). The end of a connection (our close frame going out, the close
// listeners, waiting for the peer's FIN) runs on a goroutine of its own.
// A connection that is busy while few others are (messages again within
// two milliseconds, at most four sockets ready at once) is served by a
// goroutine of its own until it pauses, so that the reads and writes of a
// few busy connections run on every core rather than in turn.
//
// Elsewhere, and for TLS, each connection has one I/O goroutine that does
// the same for its socket and takes the run lock for each event. On the
// other Unix systems that goroutine waits for its socket through the
// runtime poller without holding a read buffer (an idle connection costs
// its parked goroutine, about 7 KiB in all); on Windows and for TLS it
// cannot wait without a buffer, so after a read that did not fill its
// buffer it waits with a 2 KiB one (a wss connection idles at about
// 16 KiB, crypto/tls's own state included). Building with the tag
// unievent_nopoll serves Linux connections that way too (the tests run
// so, to cover the other platforms' path).
//
// Events posted while another goroutine holds the run lock (Loop.Post from
// anywhere, drain events) are queued and run by the holder before it lets
// go. The alternative, a dispatcher goroutine fed through a channel, costs
// two goroutine switches per batch of events where the lock costs one
// uncontended mutex; see docs/performance.md for the figures.
//
// One loop therefore uses about one core for its connections' I/O and
// callbacks together; to use more cores, run several loops (a server per
// loop on one port with server.Location.ReusePort: examples/multicore).
//
// A message is delivered straight out of the read buffer when it arrived
// whole in one read, so Message.Payload is only valid until the listener
// returns.
//
// # Sending
//
// SendText, SendBinary, SendPing and Close are safe from any goroutine and
// keep their order. A send encodes the frame into the connection's queue
// and returns; it never blocks on the socket. A message to compress is
// copied instead and compressed when the queue is written out (after the
// listener returns, by the goroutine that writes), so compression, the
// costly part of a compressed send, does not hold up the loop; frames sent
// after it wait behind it. Frames queued by listeners while the I/O
// goroutine dispatches go out in one writev when it is done; a send from
// any other goroutine starts a short-lived flushing goroutine when none is
// running. The queue is bounded by Config.SendQueueLimit:
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
