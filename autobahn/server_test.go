package autobahn

import (
	"testing"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// The testee's limits (autobahn/testee, a main package this suite cannot
// import): the configuration is rebuilt here field by field and must stay
// in step with testee's config function.
const (
	maxMessageSize = 64 << 20
	sendQueueLimit = 2 * maxMessageSize
	maxFragments   = maxMessageSize / 64
)

// testeeConfig is the testee's server configuration, listening on an
// ephemeral loopback port: permessage-deflate at level 1 taking every
// valid offer as asked, 64 MiB messages and frames, room for 64 MiB in
// 64-byte fragments, and a send queue that holds a 64 MiB echo.
func testeeConfig() server.Config {
	cfg := server.Config{Locations: []server.Location{{Host: "127.0.0.1", TCPNoDelay: true}}}
	cfg.MaxMessageSize = maxMessageSize
	cfg.MaxFrameSize = maxMessageSize
	cfg.MaxFragments = maxFragments
	cfg.SendQueueLimit = sendQueueLimit
	cfg.Deflate = &permessagedeflate.Config{Level: 1}
	return cfg
}

type testServer struct {
	srv  *server.Server
	addr string
}

// startServer runs the testee's echo server on a loop of its own; the
// cleanup stops it and waits for the loop to return.
func startServer(t *testing.T) *testServer {
	t.Helper()
	loop := ws.NewLoop()
	srv, err := server.New(testeeConfig(), loop)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) {
			c.Send(m.Opcode, m.Payload)
		})
	})
	if err := srv.Run(); err != nil {
		t.Fatal(err)
	}
	a, err := srv.Addr()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("loop: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the loop did not return after Stop")
		}
	})
	return &testServer{srv: srv, addr: a.String()}
}
