// Command fanout is a broadcast server on topics: every connection
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
// closed with 1008 (ws.BackpressureClose). It prints "listening on
// ws://HOST:PORT/" once it listens; on SIGINT or SIGTERM it closes every
// connection with 1001 and exits once the closing handshakes are over.
package main

import (
	"flag"
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

// topic is the one topic every connection holds.
const topic = "all"

// newFanout makes the broadcast server on loc, on loop (nil: the default
// loop).
func newFanout(loc server.Location, deflate bool, loop *ws.Loop) (*server.Server, error) {
	cfg := server.Config{Locations: []server.Location{loc}}
	if deflate {
		cfg.Deflate = &permessagedeflate.Config{Level: 1, ServerNoContextTakeover: true}
	}
	srv, err := server.New(cfg, loop)
	if err != nil {
		return nil, err
	}
	srv.OnConnection(func(s *server.Server, c *server.Conn, _ *handshake.Request) {
		if err := c.Subscribe(topic); err != nil {
			return // closed already
		}
		c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
			if err := s.Publish(topic, m.Opcode, m.Payload); err != nil {
				log.Printf("fanout: publish: %v", err)
			}
		})
	})
	return srv, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	deflate := flag.Bool("deflate", false, "accept permessage-deflate without server context takeover (compression level 1)")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("fanout: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("fanout: -addr: bad port %q", portStr)
	}
	srv, err := newFanout(server.Location{Host: host, Port: port}, *deflate, nil)
	if err != nil {
		log.Fatalf("fanout: %v", err)
	}
	if err := srv.Run(); err != nil {
		log.Fatalf("fanout: %v", err)
	}
	a, err := srv.Addr()
	if err != nil {
		log.Fatalf("fanout: %v", err)
	}
	fmt.Printf("listening on ws://%s/\n", a)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop(frame.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("fanout: %v", err)
	}
}
