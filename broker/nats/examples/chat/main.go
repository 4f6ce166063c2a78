// Command chat is examples/chat (package unievent.dev/examples/chat/chat)
// on several nodes: each node is the same chat server, and with -nats the
// rooms are shared through NATS, so that the pages of one room see each
// other's lines whichever node serves them (the "N online" counts are
// each node's).
//
//	go run ./examples/chat -addr 127.0.0.1:8081 -nats nats://127.0.0.1:4222
//	go run ./examples/chat -addr 127.0.0.1:8082 -nats nats://127.0.0.1:4222
//
// Without -nats it is one node alone, as examples/chat. A node starts only
// when NATS answers; once running it rides out NATS outages (see package
// unievent.dev/broker/nats): its own rooms work on, the other nodes'
// lines come back with NATS. On SIGINT or SIGTERM it closes its
// connections with 1001, then its NATS connection, and exits.
package main

import (
	"flag"
	"log"

	"unievent.dev/broker/nats"
	"unievent.dev/examples/chat/chat"
	"unievent.dev/ws/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	url := flag.String("nats", "", "NATS server URL(s), comma-separated (nats://HOST:PORT), shared by the nodes; none: this node alone")
	prefix := flag.String("nats-prefix", "chat", "the subject prefix the nodes share")
	flag.Parse()
	var b *nats.Broker
	err := chat.Serve(*addr, func(srv *server.Server) error {
		if *url == "" {
			return nil
		}
		var err error
		if b, err = nats.Connect(*url, srv, nats.Options{Prefix: *prefix, Name: "examples/chat"}); err != nil {
			return err
		}
		log.Printf("chat: rooms shared through NATS at %s", *url)
		return nil
	})
	if b != nil {
		b.Close()
	}
	if err != nil {
		log.Fatalf("chat: %v", err)
	}
}
