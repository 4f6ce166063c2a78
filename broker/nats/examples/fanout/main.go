// Command fanout is examples/fanout (package
// unievent.dev/examples/fanout/fanout) on several nodes: with -nats every
// message any connection of any node sends reaches the connections of
// every node, through NATS (one NATS message per other node, whatever the
// number of connections there).
//
//	go run ./examples/fanout -addr 127.0.0.1:8081 -nats nats://127.0.0.1:4222
//	go run ./examples/fanout -addr 127.0.0.1:8082 -nats nats://127.0.0.1:4222
//
// Without -nats it is one node alone, as examples/fanout. Each sender's
// messages reach every connection in the order sent; messages of
// different senders on different nodes have no order between them.
package main

import (
	"flag"
	"log"

	"unievent.dev/broker/nats"
	"unievent.dev/examples/fanout/fanout"
	"unievent.dev/ws/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	deflate := flag.Bool("deflate", false, "accept permessage-deflate without server context takeover (compression level 1)")
	url := flag.String("nats", "", "NATS server URL(s), comma-separated (nats://HOST:PORT), shared by the nodes; none: this node alone")
	prefix := flag.String("nats-prefix", "fanout", "the subject prefix the nodes share")
	flag.Parse()
	var b *nats.Broker
	err := fanout.Serve(*addr, *deflate, func(srv *server.Server) error {
		if *url == "" {
			return nil
		}
		var err error
		if b, err = nats.Connect(*url, srv, nats.Options{Prefix: *prefix, Name: "examples/fanout"}); err != nil {
			return err
		}
		log.Printf("fanout: messages shared through NATS at %s", *url)
		return nil
	})
	if b != nil {
		b.Close()
	}
	if err != nil {
		log.Fatalf("fanout: %v", err)
	}
}
