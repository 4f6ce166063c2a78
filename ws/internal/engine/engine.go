// Package engine is the seam through which ws/server makes and starts the
// connections of package ws, so that ws does not export that plumbing to
// its users. Package ws fills in Registered when it is initialised, before
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
	// (frames a client sent right behind its upgrade request); they are
	// copied.
	Buffered []byte
	// Preamble is written before any frame: a server passes its 101
	// response here, so that a close queued the moment the connection is
	// registered (a concurrent Stop) still follows the handshake on the
	// wire.
	Preamble []byte
}

// Funcs is what package ws lends its servers, for C = ws.Conn, L = ws.Loop
// and Cfg = ws.Config.
type Funcs[C, L, Cfg any] struct {
	// Pending makes a connection whose opening handshake is being
	// decided: listeners may be set on it, and a send or close returns
	// ws.ErrNotEstablished. onClosed runs on the loop after the close
	// listeners, once the established connection is gone.
	Pending func(cfg *Cfg, loop *L, p Pending, onClosed func(*C)) *C
	// Establish completes the opening handshake on nc, before Start or
	// Serve.
	Establish func(c *C, nc net.Conn, o Options)
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
}

// Registered is package ws's *Funcs[ws.Conn, ws.Loop, ws.Config].
var Registered any
