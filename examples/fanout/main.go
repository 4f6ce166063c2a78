// Command fanout is a broadcast server on topics: every connection
// subscribes to one topic, and every text or binary message received from
// any connection is published to it, reaching every open connection (the
// sender included) as one message of the same type, in the order
// received. The server is package unievent.dev/examples/fanout/fanoutserver;
// broker/nats/examples/fanout is the same command for several nodes on
// NATS.
//
//	go run ./examples/fanout [-addr 127.0.0.1:8080] [-deflate]
//
// With -deflate it accepts permessage-deflate without server context
// takeover (compression level 1), so that one compressed frame serves
// every connection. It prints "listening on ws://HOST:PORT/" once it
// listens; on SIGINT or SIGTERM it closes every connection with 1001 and
// exits once the closing handshakes are over.
package main

import "unievent.dev/examples/fanout/fanoutserver"

func main() { fanoutserver.Main(nil) }
