// Command mounted runs the WebSocket server without locations, mounted on
// the http.ServeMux of an ordinary net/http server: the program owns the
// HTTP server (its listener, routes, timeouts, TLS) and the WebSocket
// server only takes over the requests routed to it. This is the
// non-standalone mode of the reference, whose upgrade_connection the
// Server's ServeHTTP calls for each request.
//
//	go run ./examples/mounted [-addr 127.0.0.1:8080]
//
// It serves a plain text page at / and echoes every text and binary
// message on ws://HOST:PORT/ws (a plain request to /ws gets 426 Upgrade
// Required). It prints "listening on ws://HOST:PORT/" once it listens. On
// SIGINT or SIGTERM it stops the HTTP server, closes every WebSocket
// connection with 1001 (going away) and exits once the closing handshakes
// are over.
//
// Once upgraded, a connection no longer belongs to the HTTP server (its
// Shutdown neither waits for it nor closes it): its callbacks run on the
// WebSocket server's loop, which main runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	flag.Parse()

	srv, err := newEcho(nil)
	if err != nil {
		log.Fatalf("mounted: %v", err)
	}
	hs := &http.Server{
		Handler:           routes(srv),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("mounted: %v", err)
	}
	// Without locations Run opens nothing: it registers the server with
	// its loop so that the loop serves the connections ServeHTTP hands it.
	if err := srv.Run(); err != nil {
		log.Fatalf("mounted: %v", err)
	}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("mounted: %v", err)
		}
	}()
	fmt.Printf("listening on ws://%s/\n", ln.Addr())
	log.Printf("mounted: WebSocket endpoint ws://%s/ws, page http://%s/", ln.Addr(), ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx) // no new requests, so no new WebSocket connections
		srv.Stop(frame.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("mounted: %v", err)
	}
}

// newEcho returns a WebSocket server without locations that echoes every
// message, on loop (nil: ws.DefaultLoop()).
func newEcho(loop *ws.Loop) (*server.Server, error) {
	srv, err := server.New(server.Config{}, loop)
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

// routes mounts srv on /ws beside a plain page.
func routes(srv *server.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "This is a plain page. The echo endpoint is ws://%s/ws\n", r.Host)
	})
	return mux
}
