package server

import (
	"errors"
	"fmt"
	"testing"

	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

func TestBackpressureRefuseAndDrain(t *testing.T) {
	ev := make(record, 10)
	var cfg Config
	cfg.SendQueueLimit = 64 << 10
	cfg.SendQueuePolicy = ws.BackpressureRefuse
	h := start(t, cfg, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnDrain(func(c *ws.Conn) { ev <- fmt.Sprintf("drain %d", c.BufferedAmount()) })
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				chunk := make([]byte, 16<<10)
				sent := 0
				for {
					err := c.SendBinary(chunk)
					if errors.Is(err, ws.ErrBackpressure) {
						break
					}
					if err != nil {
						ev <- "error " + err.Error()
						return
					}
					sent++
				}
				ev <- fmt.Sprintf("sent %d, buffered %d", sent, c.BufferedAmount())
			})
		})
	})
	c := h.dial(nil)
	c.WriteMessage(1, []byte("go"))
	// 16 KiB + 4 header bytes per frame: three fit under 64 KiB.
	ev.expect(t, fmt.Sprintf("sent 3, buffered %d", 3*(16<<10+4)), "drain 0")
	for range 3 {
		if _, p, _, err := c.ReadMessage(wait); err != nil || len(p) != 16<<10 {
			t.Fatalf("%d bytes %v", len(p), err)
		}
	}
	// The connection is still usable.
	c.WriteMessage(1, []byte("go"))
	ev.expect(t, fmt.Sprintf("sent 3, buffered %d", 3*(16<<10+4)), "drain 0")
}

func TestBackpressureClose(t *testing.T) {
	ev := make(record, 10)
	var cfg Config
	cfg.SendQueueLimit = 64 << 10
	h := start(t, cfg, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, _ *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				chunk := make([]byte, 16<<10)
				for {
					if err := c.SendBinary(chunk); err != nil {
						ev <- err.Error()
						return
					}
				}
			})
		})
	})
	c := h.dial(nil)
	c.WriteMessage(1, []byte("go"))
	ev.expect(t, ws.ErrBackpressure.Error())
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1008 {
		t.Fatalf("close %d %v, want 1008", code, err)
	}
}
