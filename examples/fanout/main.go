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
//
// The server is package unievent.dev/examples/fanout/fanout;
// unievent.dev/broker/nats/examples/fanout is the same command for
// several nodes on NATS.
package main

import (
	"flag"
	"log"

	"unievent.dev/examples/fanout/fanout"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	deflate := flag.Bool("deflate", false, "accept permessage-deflate without server context takeover (compression level 1)")
	flag.Parse()
	if err := fanout.Serve(*addr, *deflate, nil); err != nil {
		log.Fatalf("fanout: %v", err)
	}
}
