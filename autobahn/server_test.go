package autobahn

import (
	"testing"

	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

// startServer runs the testee (NewTestee) on a loopback port, on a loop of
// its own; the cleanup stops it, waits for the loop and checks that
// nothing was left behind.
func startServer(tb testing.TB) *servertest.Running[*server.Server] {
	tb.Helper()
	return servertest.Start(tb, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		return NewTestee(server.Location{Host: "127.0.0.1"}, loop)
	})
}
