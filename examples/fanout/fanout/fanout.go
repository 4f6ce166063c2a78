// Package fanout is the broadcast server of the command examples/fanout
// (and of broker/nats/examples/fanout, the same on several nodes), on
// topics: every connection
// subscribes to one topic, and every text or binary message received from
// any connection is published to it, reaching every open connection (the
// sender included) as one message of the same type, in the order
// received. Each message is encoded, and with -deflate compressed, once
// for all connections (server.Server.Publish).
//
//	go run ./examples/fanout [-addr 127.0.0.1:8080] [-deflate]
//
// With -deflate it accepts permessage-deflate without server context
// takeover (compression level 1), so that one compressed frame serves
// every connection. A connection whose send queue reaches its limit is
// closed with 1008 (ws.BackpressureClose). With a broker (server.Broker)
// a message reaches the connections of every node.
package fanout

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// Topic is the one topic every connection holds.
const Topic = "all"

// New makes the broadcast server on loc, on loop (nil: the default loop).
func New(loc server.Location, deflate bool, loop *ws.Loop) (*server.Server, error) {
	cfg := server.Config{Locations: []server.Location{loc}}
	if deflate {
		cfg.Deflate = &permessagedeflate.Config{Level: 1, ServerNoContextTakeover: true}
	}
	srv, err := server.New(cfg, loop)
	if err != nil {
		return nil, err
	}
	srv.OnConnection(func(s *server.Server, c *server.Conn, _ *handshake.Request) {
		if err := c.Subscribe(Topic); err != nil {
			return // closed already
		}
		c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
			if err := s.Publish(Topic, m.Opcode, m.Payload); err != nil {
				log.Printf("fanout: publish: %v", err)
			}
		})
	})
	return srv, nil
}

// Serve runs the server on addr (host:port) until SIGINT or SIGTERM,
// which close every connection with 1001 (going away); it returns once
// the closing handshakes are over. setup, when not nil, runs on the
// server before it starts (to set a broker, say). Serve prints "listening
// on ws://HOST:PORT/" once it listens.
func Serve(addr string, deflate bool, setup func(*server.Server) error) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-addr: bad port %q", portStr)
	}
	srv, err := New(server.Location{Host: host, Port: port}, deflate, nil)
	if err != nil {
		return err
	}
	if setup != nil {
		if err := setup(srv); err != nil {
			return err
		}
	}
	if err := srv.Run(); err != nil {
		return err
	}
	a, err := srv.Addr()
	if err != nil {
		return err
	}
	fmt.Printf("listening on ws://%s/\n", a)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		<-sig
		srv.Stop(frame.CloseAway)
	}()
	return srv.Loop().Run()
}
