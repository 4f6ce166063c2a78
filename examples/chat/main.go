// Command chat is a chat with rooms in a web page: one standalone server
// serves the page at / and the rooms' WebSocket endpoint at /ws; the page
// opened as http://HOST:PORT/?room=NAME joins room NAME ("lobby" without
// one). The chat itself is package unievent.dev/examples/chat/chatserver;
// broker/nats/examples/chat is the same command for several nodes on
// NATS.
//
//	go run ./examples/chat [-addr 127.0.0.1:8080]
//
// It prints "listening on ws://HOST:PORT/" once it listens; open
// http://HOST:PORT/ in a few browser windows. On SIGINT or SIGTERM it
// closes every connection with 1001 (going away) and exits once the
// closing handshakes are over.
package main

import "unievent.dev/examples/chat/chatserver"

func main() { chatserver.Main(nil) }
