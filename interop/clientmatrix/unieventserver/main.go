// Command unieventserver is this project's server (unievent.dev/ws/server)
// as a peer of the client matrix, for what examples/echo cannot do: it
// closes and pings from the server's side.
//
//	unieventserver [-addr 127.0.0.1:0] [-deflate] [-cert FILE -key FILE]
//
// Paths as every peer of the matrix (../README.md): /echo,
// /close?code=C&reason=R, /ping, /headers and /refuse. There is no /fragmented: the engine
// sends every message as one frame and has no call that sends a fragment.
package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"unievent.dev/interop/clientmatrix/internal/peer"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

func main() {
	f := peer.ParseFlags()
	host, portStr, err := net.SplitHostPort(f.Addr)
	if err != nil {
		log.Fatalf("unieventserver: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("unieventserver: -addr: bad port %q", portStr)
	}
	loc := server.Location{Host: host, Port: port}
	scheme := "ws"
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			log.Fatalf("unieventserver: %v", err)
		}
		loc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		scheme = "wss"
	}
	cfg := server.Config{Locations: []server.Location{loc}, Protocols: []string{peer.Subprotocol}}
	if f.Deflate {
		cfg.Deflate = &permessagedeflate.Config{}
	}
	srv, err := server.New(cfg)
	if err != nil {
		log.Fatalf("unieventserver: %v", err)
	}
	srv.OnHandshake(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		if req.HTTP.URL.Path == "/refuse" {
			c.SendAcceptError(http.StatusForbidden, peer.RefusalBody, nil)
		}
	})
	srv.OnConnection(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		switch req.HTTP.URL.Path {
		case "/echo":
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
		case "/close":
			q := req.HTTP.URL.Query()
			code, _ := strconv.Atoi(q.Get("code"))
			if err := c.Close(ws.CloseCode(code), q.Get("reason")); err != nil {
				c.Close(frame.CloseInternalError, err.Error())
			}
		case "/ping":
			pinger(c.Conn)
		case "/headers":
			c.SendText(peer.Headers(req.HTTP))
		default:
			c.Close(4404, "no such path")
		}
	})
	if err := srv.Run(); err != nil {
		log.Fatalf("unieventserver: %v", err)
	}
	a, err := srv.Addr()
	if err != nil {
		log.Fatalf("unieventserver: %v", err)
	}
	fmt.Printf("listening on %s://%s/\n", scheme, a)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop(frame.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("unieventserver: %v", err)
	}
}

// pinger sends the three pings one at a time, the next from the pong
// listener of the one before, and sends the verdict after the last pong or
// the first wrong or missing one. The listener, the connection callback
// and the timers' posts all run on the loop, so i needs no lock.
func pinger(c *ws.Conn) {
	n := len(peer.PingPayloads)
	i := 0 // the ping awaiting its pong; n once the verdict is sent
	verdict := func(v string) {
		i = n
		c.SendText(v)
	}
	send := func() {
		k := i
		time.AfterFunc(5*time.Second, func() {
			c.Loop().Post(func() {
				if i == k {
					verdict(fmt.Sprintf("no pong within 5 s for a ping of %d bytes", len(peer.PingPayloads[k])))
				}
			})
		})
		if err := c.SendPing(peer.PingPayloads[k]); err != nil {
			verdict(fmt.Sprintf("ping: %v", err))
		}
	}
	c.OnPong(func(c *ws.Conn, m *ws.Message) {
		if i == n {
			return
		}
		if want := peer.PingPayloads[i]; !bytes.Equal(m.Payload, want) {
			verdict(fmt.Sprintf("pong %q for a ping of %d bytes", m.Payload, len(want)))
			return
		}
		if i++; i == n {
			verdict("ok")
			return
		}
		send()
	})
	send()
}
