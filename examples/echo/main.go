// Command echo is a WebSocket echo server: it upgrades on any path and
// sends every text and binary message back as one message of the same type.
//
//	go run ./examples/echo [-addr 127.0.0.1:8080] [-deflate]
//
// It prints "listening on ws://HOST:PORT/" once it listens. On SIGINT or
// SIGTERM it closes every connection with 1001 (going away) and exits
// once the closing handshakes are over.
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

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	deflate := flag.Bool("deflate", false, "accept permessage-deflate (compression level 1)")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("echo: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("echo: -addr: bad port %q", portStr)
	}
	cfg := server.Config{
		Locations: []server.Location{{Host: host, Port: port}},
	}
	if *deflate {
		cfg.Deflate = &permessagedeflate.Config{Level: 1}
	}
	srv, err := server.New(cfg)
	if err != nil {
		log.Fatalf("echo: %v", err)
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) {
			c.Send(m.Opcode, m.Payload)
		})
	})
	if err := srv.Run(); err != nil {
		log.Fatalf("echo: %v", err)
	}
	a, err := srv.Addr()
	if err != nil {
		log.Fatalf("echo: %v", err)
	}
	fmt.Printf("listening on ws://%s/\n", a)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop(frame.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("echo: %v", err)
	}
}
