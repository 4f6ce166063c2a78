// Package engine is the seam through which ws/server and ws/client make
// and start the connections of package ws, so that ws does not export that
// plumbing to its users. Package ws fills in Registered when it is initialised, before
// any package that imports it.
package engine

import (
	"net"

	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

// Pending says what is known of a connection while its opening handshake
// is being decided.
type Pending struct {
	// ID identifies the connection to its server.
	ID uint64
	// Role is RoleServer for a connection accepted by a server, RoleClient
	// for one a client opened (its frames are masked).
	Role frame.Role
	// Local and Remote are the connection's addresses.
	Local, Remote net.Addr
}

// Options is what the opening handshake negotiated.
type Options struct {
	// Deflate holds the negotiated permessage-deflate parameters; nil when
	// the extension is off.
	Deflate *permessagedeflate.Params
	// Protocol is the negotiated subprotocol, "" when none.
	Protocol string
	// Buffered holds bytes already read from the peer after the handshake
	// (frames a client sent right behind its upgrade request, or a server
	// right behind its 101); they are copied.
	Buffered []byte
	// Preamble is written before any frame: a server passes its 101
	// response here, so that a close queued the moment the connection is
	// registered (a concurrent Stop) still follows the handshake on the
	// wire.
	Preamble []byte
}

// Deferred collects the connections whose send queues a run of
// SendDeferred calls left to be written: FlushDeferred writes them all
// from one goroutine per few hundred connections, not one goroutine per
// connection, and a connection still waiting there when the next run
// comes takes that run's message in the same write.
type Deferred[C any] struct {
	Conns []*C
}

// Funcs is what package ws lends its servers and its client, for C = ws.Conn, L = ws.Loop,
// Cfg = ws.Config and PM = ws.PreparedMessage.
type Funcs[C, L, Cfg, PM any] struct {
	// Pending makes a connection whose opening handshake is being
	// decided: listeners may be set on it, and a send or close returns
	// ws.ErrNotEstablished. onClosed, when not nil, runs on the loop
	// after the close listeners, once the established connection is gone,
	// with the close code they were given.
	// A client makes its connection with Role RoleClient once it has read
	// the server's 101: its frames are masked, masked frames from the
	// server fail it with 1002, it compresses with the Client* fields of
	// the negotiated permessagedeflate.Params, and after the closing
	// handshake it waits for the server's TCP close (RFC 6455 section
	// 7.1.1).
	Pending func(cfg *Cfg, loop *L, p Pending, onClosed func(*C, frame.CloseCode)) *C
	// Establish completes the opening handshake on nc, before Start or
	// Serve.
	Establish func(c *C, nc net.Conn, o Options)
	// Register counts an established connection as an active handle of
	// its loop before Start or Serve, which then do not count it again: a
	// server calls it while its own hold on the loop for the upgrade
	// still stands, so that the loop's Run cannot return in between.
	Register func(*C)
	// Start registers the connection with its loop and starts serving it
	// on a goroutine of its own; Serve does that on the calling goroutine
	// until the connection is handed to a poller or over.
	Start, Serve func(*C)
	// Handles returns the number of active handles of a loop (a running
	// server, an open connection, an upgrade under way).
	Handles func(*L) int
	// Ref registers an active handle of a loop (a running server, an
	// upgrade under way): the loop's Run does not return while it is
	// registered. Unref unregisters it; every Ref is paired with one Unref.
	Ref, Unref func(*L)
	// NewDeferred returns an empty Deferred from package ws's pool.
	NewDeferred func() *Deferred[C]
	// SendDeferred queues pm on c like ws.Conn.SendPrepared, with the same
	// result, except that a write it would start is recorded in d instead.
	SendDeferred func(c *C, pm *PM, d *Deferred[C]) error
	// FlushDeferred writes out the queues recorded in d without blocking
	// the caller, and takes d back to the pool: the caller must not use it
	// again. What a socket does not take at once goes out on a flushing
	// goroutine of that connection's own, so that a slow peer delays
	// nobody else.
	FlushDeferred func(d *Deferred[C])
}

// Registered is package ws's *Funcs[ws.Conn, ws.Loop, ws.Config, ws.PreparedMessage].
var Registered any
