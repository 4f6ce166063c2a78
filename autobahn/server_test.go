package autobahn

import (
	"testing"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

type testServer struct {
	srv  *server.Server
	addr string
}

// startServer runs the testee (NewTestee) on a loop of its own; the
// cleanup stops it and waits for the loop to return.
func startServer(t *testing.T) *testServer {
	t.Helper()
	loop := ws.NewLoop()
	srv, err := NewTestee(server.Location{Host: "127.0.0.1"}, loop)
	if err != nil {
		t.Fatal(err)
	}
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
