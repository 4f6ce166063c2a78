// Command testee is the echo server the Autobahn|Testsuite fuzzing client
// tests (see ../README.md): it upgrades on any path and sends every text
// and binary message back as one message of the same type.
//
//	go run ./autobahn/testee [-addr 127.0.0.1:9001]
//
// It prints "listening on ws://HOST:PORT/" once it listens, and on SIGINT
// or SIGTERM closes every connection with 1001 (going away) and exits.
//
// Its configuration is the one the testsuite needs, not a recommendation
// for a public server: permessage-deflate accepts every valid offer, with
// any window bits and context takeover as the client asks (cases 12 and
// 13); messages and frames may be as large as 64 MiB, and the send queue
// holds a 64 MiB echo (case 9 sends up to 16 MiB in one message, and in
// fragments as small as 64 bytes).
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

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "host:port to listen on")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("testee: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("testee: -addr: bad port %q", portStr)
	}
	srv, err := newTestee(server.Location{Host: host, Port: port, TCPNoDelay: true}, nil)
	if err != nil {
		log.Fatalf("testee: %v", err)
	}
	if err := srv.Run(); err != nil {
		log.Fatalf("testee: %v", err)
	}
	a, err := srv.Addr()
	if err != nil {
		log.Fatalf("testee: %v", err)
	}
	fmt.Printf("listening on ws://%s/\n", a)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop(ws.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("testee: %v", err)
	}
}

// config is the testee's server configuration for loc.
func config(loc server.Location) server.Config {
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

// newTestee returns the echo server for loc on loop (nil:
// ws.DefaultLoop()), ready to Run.
func newTestee(loc server.Location, loop *ws.Loop) (*server.Server, error) {
	srv, err := server.New(config(loc), loop)
	if err != nil {
		return nil, err
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) {
			c.Send(m.Opcode, m.Payload)
		})
	})
	return srv, nil
}
