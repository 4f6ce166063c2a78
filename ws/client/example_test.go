package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// echoServer runs an echo server on a loop of its own, on a free port of
// 127.0.0.1, and returns its address and what stops it.
func echoServer() (addr string, stop func()) {
	loop := ws.NewLoop()
	srv, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
	if err != nil {
		log.Fatal(err)
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
	if err := srv.Run(); err != nil {
		log.Fatal(err)
	}
	go loop.Run()
	a, _ := srv.Addr()
	return a.String(), func() { srv.Stop() }
}

// Dial a server, set the listeners, send and run the loop until the
// connection is over. A program would pass nil for the loop
// (ws.DefaultLoop) and call its Run last in main.
func ExampleDial() {
	addr, stop := echoServer()
	defer stop()
	loop := ws.NewLoop()

	c, err := client.Dial(context.Background(), "ws://"+addr+"/chat", nil, loop)
	if err != nil {
		log.Fatal(err)
	}
	c.OnMessage(func(c *ws.Conn, m *ws.Message) {
		fmt.Printf("got %q\n", m.Payload)
		c.Close(ws.CloseCode(1000), "done")
	})
	c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) {
		fmt.Printf("closed %d %s\n", code, reason)
	})
	c.SendText("hello")

	loop.Run() // returns when the connection is over
	// Output:
	// got "hello"
	// closed 1000 done
}

// A refusal is a *client.HandshakeError with the server's status, header
// and the start of its body.
func ExampleHandshakeError() {
	loop := ws.NewLoop()
	srv, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
	if err != nil {
		log.Fatal(err)
	}
	srv.OnHandshake(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.SendAcceptError(http.StatusForbidden, "members only", nil)
	})
	srv.Run()
	go loop.Run()
	defer srv.Stop()
	addr, _ := srv.Addr()

	_, err = client.Dial(context.Background(), "ws://"+addr.String()+"/", nil, nil)
	var he *client.HandshakeError
	if errors.As(err, &he) {
		fmt.Println(he.StatusCode, string(he.Body))
	}
	// Output:
	// 403 members only
}

// DefaultConfig is what a nil or zero Config stands for.
func ExampleDefaultConfig() {
	c := client.DefaultConfig()
	fmt.Println("HandshakeTimeout:", c.HandshakeTimeout)
	fmt.Println("MaxHandshakeSize:", c.MaxHandshakeSize>>10, "KiB")
	fmt.Println("MaxMessageSize:", c.MaxMessageSize>>20, "MiB")
	// Output:
	// HandshakeTimeout: 10s
	// MaxHandshakeSize: 16 KiB
	// MaxMessageSize: 4 MiB
}
