// Package autobahn is the in-repo conformance suite (its tests, numbered
// like the Autobahn|Testsuite cases; see README.md), the testee it and
// the Autobahn fuzzing client run against (NewTestee, served by the
// command in ./testee), and the configuration of the client testee that
// its client side and the Autobahn fuzzing server test
// (ClientTesteeConfig, used by the command in ./clienttestee).
package autobahn

import (
	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

const (
	maxMessageSize = 64 << 20
	// sendQueueLimit holds one echo of the largest message with room to
	// spare: a message that does not compress grows a little when
	// deflated, and the next echo may be queued before the last is out.
	sendQueueLimit = 2 * maxMessageSize
	// maxFragments lets through a maximal message in 64-byte fragments
	// (cases 9.3 and 9.4 fragment 4 MiB that way).
	maxFragments = maxMessageSize / 64
)

// TesteeConfig is the testee's server configuration for loc: the one the
// testsuite needs, not a recommendation for a public server.
// permessage-deflate at level 1 accepts every valid offer, with any window
// bits and context takeover as the client asks (cases 12 and 13); messages
// and frames may be as large as 64 MiB, in fragments as small as 64 bytes,
// and the send queue holds a 64 MiB echo (case 9 sends up to 16 MiB in one
// message).
func TesteeConfig(loc server.Location) server.Config {
	cfg := server.Config{Locations: []server.Location{loc}}
	cfg.MaxMessageSize = maxMessageSize
	cfg.MaxFrameSize = maxMessageSize
	cfg.MaxFragments = maxFragments
	cfg.SendQueueLimit = sendQueueLimit
	// The zero values of ServerMaxWindowBits and ClientMaxWindowBits
	// restrict nothing: Negotiate takes the first valid offer with the
	// window bits and context takeover the client asked for.
	cfg.Deflate = &permessagedeflate.Config{Level: 1}
	return cfg
}

// NewTestee returns the testee, an echo server for loc on loop (nil:
// ws.DefaultLoop()), ready to Run: every text and binary message goes back
// as one message of the same type.
func NewTestee(loc server.Location, loop *ws.Loop) (*server.Server, error) {
	srv, err := server.New(TesteeConfig(loc), loop)
	if err != nil {
		return nil, err
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) {
			// As examples/echo does: the payload passes to the send
			// queue without a copy when SendMessage can take it.
			c.SendMessage(m)
		})
	})
	return srv, nil
}

// ClientTesteeConfig is the client testee's configuration: the server
// testee's limits, and permessage-deflate offered at level 1 (as
// permessagedeflate.Offer makes it: client_max_window_bits without a
// value, so that the server may choose one), whose answer decides whether
// a connection compresses.
func ClientTesteeConfig() *client.Config {
	cfg := &client.Config{}
	cfg.MaxMessageSize = maxMessageSize
	cfg.MaxFrameSize = maxMessageSize
	cfg.MaxFragments = maxFragments
	cfg.SendQueueLimit = sendQueueLimit
	cfg.Deflate = &permessagedeflate.Config{Level: 1}
	return cfg
}
