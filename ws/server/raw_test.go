package server

import (
	"net"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// dialRaw connects, writes raw (a handshake and whatever follows it) and
// returns a client positioned after the 101 response.
func dialRaw(t *testing.T, addr string, raw []byte) *wstest.Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := nc.Write(raw); err != nil {
		t.Fatal(err)
	}
	c, err := wstest.ReadHandshake(nc, time.Now().Add(wait))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
