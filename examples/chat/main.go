// Command chat is a chat with rooms in a web page: one standalone server
// serves the page at / and the rooms' WebSocket endpoint at /ws. The page
// opened as http://HOST:PORT/?room=NAME joins room NAME (1 to 32 letters,
// digits, '-' or '_'; "lobby" without one), and shows it.
//
//	go run ./examples/chat [-addr 127.0.0.1:8080]
//
// It prints "listening on ws://HOST:PORT/" once it listens; open
// http://HOST:PORT/ in a few browser windows. On SIGINT or SIGTERM it
// closes every connection with 1001 (going away) and exits once the
// closing handshakes are over.
//
// The chat itself is package unievent.dev/examples/chat/chat, whose doc
// says how it behaves.
//
// /debug/vars serves the standard library's expvar JSON, with the
// server's Metrics under "chat" (unievent.dev/metrics), to clients on this
// machine only: the process's command line and memory statistics are for
// its operators. The same chat with Prometheus's /metrics beside it is
// unievent.dev/metrics/prometheus/examples/chat.
package main

import (
	"flag"
	"log"

	"unievent.dev/examples/chat/chat"
	"unievent.dev/metrics"
	"unievent.dev/ws/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	flag.Parse()
	err := chat.Serve(*addr, func(srv *server.Server) error { return metrics.Publish("chat", srv) })
	if err != nil {
		log.Fatalf("chat: %v", err)
	}
}
