package ws

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync/atomic"

	"unievent.dev/ws/frame"
	"unievent.dev/ws/internal/engine"
	"unievent.dev/ws/permessagedeflate"
)

// Errors a send or a close can report.
var (
	// ErrClosed: the connection is closing or closed; nothing more can be
	// sent.
	ErrClosed = errors.New("ws: connection closed")
	// ErrNotEstablished: the opening handshake is not complete (a server's
	// handshake callback is deciding it, or refused it): nothing can be
	// sent or closed yet. Listeners set meanwhile stay.
	ErrNotEstablished = errors.New("ws: connection not established: its opening handshake is still being decided")
	// ErrBackpressure: the send queue is at Config.SendQueueLimit. Under
	// BackpressureClose the connection is closing (1008) as well.
	ErrBackpressure = errors.New("ws: send queue limit reached")
	// ErrInvalid: a send or a close was given what may not go on the wire.
	// The error returned wraps it and says what: an opcode other than
	// OpText and OpBinary, text or a close reason that is not valid UTF-8,
	// a ping payload or close reason over the 125 bytes of a control frame
	// (RFC 6455 section 5.5,
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.5), a close code
	// that may not be sent (section 7.4,
	// https://www.rfc-editor.org/rfc/rfc6455#section-7.4, see
	// CloseCode.ValidOnWire), or a close reason without a code.
	ErrInvalid = errors.New("ws: invalid argument")
)

// The errors wrapping ErrInvalid, made once: a refused send allocates
// nothing.
var (
	errInvalidOpcode    = fmt.Errorf("%w: only text and binary messages can be sent", ErrInvalid)
	errInvalidUTF8      = fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
	errControlTooLong   = fmt.Errorf("%w: a control frame carries at most 125 bytes", ErrInvalid)
	errInvalidCloseCode = fmt.Errorf("%w: the close code may not be sent on the wire", ErrInvalid)
	errReasonWithout    = fmt.Errorf("%w: a close reason needs a close code", ErrInvalid)
	errPayloadTaken     = fmt.Errorf("%w: the message's payload was passed on by SendMessage already", ErrInvalid)
)

// connOptions says how newConn sets a connection up (see
// engine.Options).
type connOptions struct {
	Loop          *Loop
	Local, Remote net.Addr // of a pending connection
	ID            uint64
	Role          frame.Role
	Deflate       *permessagedeflate.Params
	Protocol      string
	Buffered      []byte
	Preamble      []byte
	OnClosed      func(*Conn, CloseCode)
}

func init() {
	engine.Registered = &engine.Funcs[Conn, Loop, Config, PreparedMessage]{
		Pending: func(cfg *Config, loop *Loop, p engine.Pending, onClosed func(*Conn, CloseCode)) *Conn {
			return newPending(cfg, connOptions{Loop: loop, ID: p.ID, Role: p.Role, Local: p.Local, Remote: p.Remote, OnClosed: onClosed})
		},
		Establish: func(c *Conn, nc net.Conn, o engine.Options) {
			c.establish(nc, connOptions{Deflate: o.Deflate, Protocol: o.Protocol, Buffered: o.Buffered, Preamble: o.Preamble})
		},
		Register: (*Conn).register,
		Start:    (*Conn).start,
		Serve:    (*Conn).serveHere,
		Handles:  (*Loop).activeHandles,
		Ref:      (*Loop).ref,
		Unref:    (*Loop).unref,

		NewDeferred:   newDeferred,
		SendDeferred:  (*Conn).sendDeferred,
		FlushDeferred: flushDeferred,
	}
}

// codecParams returns the negotiated permessage-deflate parameters in the
// form NewCompressor and NewDecompressor take them, which is the server's:
// its Server* fields govern what this side compresses, its Client* fields
// what it inflates. A client's connection swaps them, so that Deflate
// reports the agreement as negotiated while each side compresses with its
// own parameters (RFC 7692 section 7.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1). Only called once
// params is set.
func (c *Conn) codecParams() permessagedeflate.Params {
	p := *c.params
	if c.role == frame.RoleClient {
		p.ServerNoContextTakeover, p.ClientNoContextTakeover = p.ClientNoContextTakeover, p.ServerNoContextTakeover
		p.ServerMaxWindowBits, p.ClientMaxWindowBits = p.ClientMaxWindowBits, p.ServerMaxWindowBits
	}
	return p
}

// Stats counts a connection's traffic. Bytes are counted on the wire
// (headers and compressed payloads included), messages are whole data
// messages.
type Stats struct {
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	// Refused counts the data messages the send queue refused at
	// Config.SendQueueLimit (ErrBackpressure), sent or prepared; under
	// BackpressureClose the first one closed the connection, so it is at
	// most 1 there.
	Refused uint64
}

// Conn is one WebSocket connection. Its listeners run on its loop; its
// methods are safe to call from any goroutine.
//
// Its state lives in owner types, each in its own file: the deadlines
// (deadlines.go), the close handshake (closehandshake.go), the send queue
// (sendqueue.go, flush.go, compressqueue.go), the message assembler
// (assemble.go) and the reading side (inbound.go), served by a driver
// (driver.go) over a transport (transport.go).
type Conn struct {
	nc       transport
	loop     *Loop
	s        *settings
	id       uint64
	protocol string
	params   *permessagedeflate.Params
	onClosed func(*Conn, CloseCode)
	started  atomic.Bool
	// counted says the connection is an active handle of its loop
	// (register): from its start, or earlier when its server asked.
	counted atomic.Bool
	// aborted says the socket must be closed without a closing handshake
	// (writing to it failed); any goroutine reads it.
	aborted atomic.Bool
	role    frame.Role // in the atomics' padding

	message, peerClose, ping, pong Event[func(*Conn, *Message)]
	closeEv                        Event[func(*Conn, CloseCode, string)]
	drainEv                        Event[func(*Conn)]

	r  reader
	a  assembler
	d  deadlines
	hs closeHandshake
	q  sendQueue

	messagesIn, messagesOut, bytesIn, bytesOut atomic.Uint64
	refused                                    atomic.Uint64 // a full queue's refusals: the cold path only

	p pollState // the poller's bookkeeping, while it watches the socket
}

// newConn wraps nc, whose opening handshake is complete, in a Conn. Call
// start once the listeners are in place.
func newConn(nc transport, cfg *Config, o connOptions) *Conn {
	c := newPending(cfg, o)
	c.establish(nc, o)
	return c
}

// newPending makes a connection whose opening handshake is still being
// decided (CONNECTING): listeners may be set, the addresses are known, and
// every send or close returns ErrNotEstablished until establish.
func newPending(cfg *Config, o connOptions) *Conn {
	if cfg == nil {
		cfg = &Config{}
	}
	c := &Conn{
		nc:       pendingTransport{local: o.Local, remote: o.Remote},
		loop:     o.Loop,
		s:        cfg.settings(),
		id:       o.ID,
		role:     o.Role,
		onClosed: o.OnClosed,
	}
	if c.loop == nil {
		c.loop = DefaultLoop()
	}
	c.q.c = c
	c.hs.state = stateConnecting
	return c
}

// establish completes the opening handshake on nc (CONNECTING → OPEN),
// with what it negotiated. It runs before start, under the send queue's
// lock: a send from another goroutine sees the connection CONNECTING or
// OPEN, never half made.
func (c *Conn) establish(nc transport, o connOptions) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	c.nc = nc
	// Here, under the lock, not on the reading goroutine: a send queued
	// before the connection starts (a server's connection callback
	// publishing) asks the socket reader whether the socket takes a
	// non-blocking write (claimedWriter.write).
	c.r.sock.init(nc, c.s.readBuf)
	c.protocol = o.Protocol
	c.params = o.Deflate
	c.r.dec = frame.Decoder{Role: c.role, MaxFrameSize: c.s.maxFrame, AllowRSV1: o.Deflate != nil}
	if len(o.Buffered) > 0 {
		c.r.extra().pending = append([]byte(nil), o.Buffered...)
	}
	c.q.init(c)
	if len(o.Preamble) > 0 {
		c.q.appendRaw(o.Preamble)
	}
	c.hs.state = stateOpen
}

// start registers the connection as an active handle of its loop and
// starts reading. It does nothing when called again.
func (c *Conn) start() {
	if c.begin() {
		go c.serve()
	}
}

// serveHere is start on the calling goroutine: it serves the connection there
// until it hands the socket to its loop's poller (Linux, plain sockets:
// once the peer is silent for a few milliseconds) or until the connection is
// over, and then returns. A server that already runs a goroutine per
// accepted socket saves starting another one. It does nothing when the
// connection was started already.
func (c *Conn) serveHere() {
	if c.begin() {
		c.serve()
	}
}

// begin registers the connection with its loop the first time it is
// started, and reports whether this was that time.
func (c *Conn) begin() bool {
	if c.started.Swap(true) {
		return false
	}
	c.register()
	return true
}

// register counts the connection as an active handle of its loop, once:
// the close listeners' finish gives the handle back. A server registers a
// connection before it lets go of its own hold on the loop for the
// upgrade, so that the loop's Run cannot return between the two (it would
// leave the connection's end waiting for a loop that no longer runs).
func (c *Conn) register() {
	if !c.counted.Swap(true) {
		c.loop.ref()
	}
}

// ID returns the identifier the server gave the connection (for a
// client connection, its number among the client connections of the
// process).
func (c *Conn) ID() uint64 { return c.id }

// Loop returns the loop the connection's callbacks run on.
func (c *Conn) Loop() *Loop { return c.loop }

// Protocol returns the negotiated subprotocol, "" when none (and while
// the opening handshake is being decided).
func (c *Conn) Protocol() string {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.protocol
}

// Deflate returns the negotiated permessage-deflate parameters, nil when
// the extension is off (and while the opening handshake is being decided).
func (c *Conn) Deflate() *permessagedeflate.Params {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.params
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.transport().LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.transport().RemoteAddr() }

// NetConn returns the underlying connection, nil while the opening
// handshake is being decided and when the connection runs on a transport
// that is not a net.Conn. Reading from or writing to it corrupts the
// WebSocket stream; it is there for socket options.
//
// On Linux a plain TCP connection that its loop's poller has taken (once
// its peer was silent for a few milliseconds) keeps its socket's
// descriptor instead of a net.Conn, which saves about 700 bytes per idle
// connection. NetConn then makes a *net.TCPConn on a duplicate of the
// descriptor, a new one at each call: socket options set on it are the
// connection's, and closing it (which the caller should do) closes only
// the duplicate; once one was made, the connection's end shuts the socket
// down, so a duplicate left open does not hold the connection open (only
// its descriptor, until closed or collected). It is nil when the duplicate
// cannot be made (the process's file limit). A net.Conn NetConn returned
// before the poller took the connection is closed then: ask again for a
// later use.
func (c *Conn) NetConn() net.Conn {
	nc := c.transport()
	if s, ok := nc.(interface{ netConn() net.Conn }); ok {
		return s.netConn()
	}
	n, _ := nc.(net.Conn)
	return n
}

// transport returns c.nc for a caller that may run while establish sets
// it (the engine's own code runs after establish, and reads c.nc as is).
func (c *Conn) transport() transport {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.nc
}

// Stats returns the connection's traffic counters.
func (c *Conn) Stats() Stats {
	return Stats{
		MessagesIn:  c.messagesIn.Load(),
		MessagesOut: c.messagesOut.Load(),
		BytesIn:     c.bytesIn.Load(),
		BytesOut:    c.bytesOut.Load(),
		Refused:     c.refused.Load(),
	}
}

// OnMessage replaces every message listener with f (nil removes them).
// A listener receives each whole text or binary message.
func (c *Conn) OnMessage(f func(*Conn, *Message)) { c.message.Set(f) }

// MessageEvent returns the message event, to Add, Prepend or Remove
// listeners.
func (c *Conn) MessageEvent() *Event[func(*Conn, *Message)] { return &c.message }

// OnPeerClose replaces every peer-close listener with f (nil removes
// them). A listener receives the peer's close frame: Message.CloseCode and
// Message.CloseReason.
func (c *Conn) OnPeerClose(f func(*Conn, *Message)) { c.peerClose.Set(f) }

// PeerCloseEvent returns the peer-close event.
func (c *Conn) PeerCloseEvent() *Event[func(*Conn, *Message)] { return &c.peerClose }

// OnPing replaces every ping listener with f (nil removes them). Pings are
// answered with a pong whether or not anyone listens.
func (c *Conn) OnPing(f func(*Conn, *Message)) { c.ping.Set(f) }

// PingEvent returns the ping event.
func (c *Conn) PingEvent() *Event[func(*Conn, *Message)] { return &c.ping }

// OnPong replaces every pong listener with f (nil removes them).
func (c *Conn) OnPong(f func(*Conn, *Message)) { c.pong.Set(f) }

// PongEvent returns the pong event.
func (c *Conn) PongEvent() *Event[func(*Conn, *Message)] { return &c.pong }

// OnClose replaces every close listener with f (nil removes them). A close
// listener runs once, when the connection is gone, with the code of the
// close handshake (the peer's when it started it, ours when we did,
// frame.CloseAbnormal when the TCP connection ended without one).
func (c *Conn) OnClose(f func(*Conn, CloseCode, string)) { c.closeEv.Set(f) }

// CloseEvent returns the close event.
func (c *Conn) CloseEvent() *Event[func(*Conn, CloseCode, string)] { return &c.closeEv }

// OnDrain replaces every drain listener with f (nil removes them). The
// drain event fires when the send queue has been written out completely
// after a send was refused or the queue passed half its limit.
func (c *Conn) OnDrain(f func(*Conn)) { c.drainEv.Set(f) }

// DrainEvent returns the drain event.
func (c *Conn) DrainEvent() *Event[func(*Conn)] { return &c.drainEv }

// runListeners runs on the loop: it hands the reading goroutine's message
// (readScratch.msg) to the listeners chosen by emit. A panicking listener
// is logged and fails the connection with 1011; the others still run.
func (c *Conn) runListeners() {
	w := c.r.w
	for _, l := range *w.listen {
		c.call(func() { l.f(c, &w.msg) })
	}
}

// emit delivers the reading goroutine's message (readScratch.msg) to the
// listeners of ev, on the loop, and returns once they have run (the
// payload may alias the read buffer).
func (c *Conn) emit(ev *Event[func(*Conn, *Message)]) {
	ls := ev.list.Load() // never modified once stored: a snapshot
	if ls == nil || len(*ls) == 0 {
		return
	}
	w := c.r.w
	w.listen = ls
	if c.r.onLoop {
		c.runListeners() // the poller holds the loop
	} else {
		c.loop.execConn(c)
	}
	w.listen = nil
}

// call runs a user callback; a panic in it is logged through log/slog and
// fails the connection with 1011, and the loop goes on.
func (c *Conn) call(f func()) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("ws: panic in a connection callback", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			c.Close(frame.CloseInternalError, "internal error")
		}
	}()
	f()
}
