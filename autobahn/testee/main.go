// Command testee is the echo server the Autobahn|Testsuite fuzzing client
// tests (see ../README.md): it upgrades on any path and sends every text
// and binary message back as one message of the same type.
//
//	go run ./autobahn/testee [-addr 127.0.0.1:9001]
//
// It prints "listening on ws://HOST:PORT/" once it listens, and on SIGINT
// or SIGTERM closes every connection with 1001 (going away) and exits.
//
// Its configuration (autobahn.TesteeConfig) is the one the testsuite
// needs, not a recommendation for a public server. The in-repo suite in
// ../ runs the same server, autobahn.NewTestee.
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

	"unievent.dev/autobahn"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/server"
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
	srv, err := autobahn.NewTestee(server.Location{Host: host, Port: port}, nil)
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
		srv.Stop(frame.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("testee: %v", err)
	}
}
