// Command echo is a WebSocket echo server: it upgrades on any path and
// sends every text and binary message back as one message of the same type.
//
//	go run ./examples/echo [-addr 127.0.0.1:8080] [-deflate] [-tls [-cert FILE -key FILE]] [-h2] [-log] [-max-message BYTES]
//
// -log prints a line on stdout when a connection opens, with the
// transport it arrived on (server.Conn.Transport: h2 for an HTTP/2
// stream, http/1.1 for an upgrade) and its path, and one when it closes:
//
//	open 3 h2 /chat
//	close 3 1000 "bye"
//
// -max-message raises (or lowers) the largest message it takes from the
// 4 MiB default; interop/clientmatrix echoes 16 MiB through it.
//
// With -tls it serves wss, with the certificate in -cert and -key or, by
// default, a self-signed one for 127.0.0.1 and localhost made at start.
// With -h2 (which needs -tls and GODEBUG=http2xconnect=1 in the
// environment, see unievent.dev/ws/server) the same port also speaks
// HTTP/2, and a browser that loaded the page at / over it opens its
// WebSocket as an HTTP/2 stream (RFC 8441):
//
//	GODEBUG=http2xconnect=1 go run ./examples/echo -tls -h2
//
// With -tls a plain request (not an upgrade) gets a small page whose
// script opens a WebSocket to the same origin and echoes a message. It prints
// "listening on ws://HOST:PORT/" (wss with -tls) once it listens. On SIGINT or
// SIGTERM it closes every connection with 1001 (going away) and exits
// once the closing handshakes are over.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	deflate := flag.Bool("deflate", false, "accept permessage-deflate (compression level 1)")
	useTLS := flag.Bool("tls", false, "serve wss (a self-signed certificate unless -cert and -key)")
	certFile := flag.String("cert", "", "with -tls: PEM certificate file")
	keyFile := flag.String("key", "", "with -tls: PEM private key file")
	maxMessage := flag.Int("max-message", 0, "largest message accepted, in bytes (0: the default, 4 MiB)")
	logConns := flag.Bool("log", false, "print a line per connection opened (with its transport, h2 or http/1.1, and path) and closed")
	h2 := flag.Bool("h2", false, "with -tls: HTTP/2 with WebSockets on extended CONNECT streams too (needs GODEBUG=http2xconnect=1)")
	flag.Parse()
	if *h2 && !*useTLS {
		log.Fatal("echo: -h2 needs -tls (browsers speak HTTP/2 over TLS only)")
	}
	if *h2 && !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		log.Fatal("echo: -h2 needs GODEBUG=http2xconnect=1 in the environment: Go's HTTP/2 server serves extended CONNECT only then")
	}
	if !*h2 && strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		log.Print("echo: GODEBUG=http2xconnect=1 is set: TLS speaks HTTP/2 as with -h2")
	}

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("echo: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("echo: -addr: bad port %q", portStr)
	}
	loc := server.Location{Host: host, Port: port}
	scheme := "ws"
	if *useTLS {
		cert, err := certificate(*certFile, *keyFile)
		if err != nil {
			log.Fatalf("echo: %v", err)
		}
		loc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		scheme = "wss"
	}
	cfg := server.Config{
		Locations: []server.Location{loc},
	}
	// The send queue holds at least one message echoed back whole.
	cfg.MaxMessageSize = *maxMessage
	cfg.SendQueueLimit = max(*maxMessage, ws.DefaultConfig().SendQueueLimit)
	if *useTLS {
		// For a browser: the page it loads first over HTTP/2 makes the
		// connection its WebSocket then opens a stream on. Without a
		// handler the server upgrades on its fast path instead.
		cfg.HTTP.Handler = http.HandlerFunc(page)
	}
	if *deflate {
		cfg.Deflate = &permessagedeflate.Config{Level: 1}
	}
	srv, err := server.New(cfg)
	if err != nil {
		log.Fatalf("echo: %v", err)
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) {
			// The payload passes to the send queue without a copy
			// when it is a buffer of its own (see ws.Conn.SendMessage).
			c.SendMessage(m)
		})
		if *logConns {
			fmt.Printf("open %d %s %s\n", c.ID(), c.Transport(), req.HTTP.URL.Path)
			c.OnClose(func(wc *ws.Conn, code ws.CloseCode, reason string) {
				fmt.Printf("close %d %d %q\n", wc.ID(), code, reason)
			})
		}
	})
	if err := srv.Run(); err != nil {
		log.Fatalf("echo: %v", err)
	}
	a, err := srv.Addr()
	if err != nil {
		log.Fatalf("echo: %v", err)
	}
	fmt.Printf("listening on %s://%s/\n", scheme, a)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop(frame.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("echo: %v", err)
	}
}

// page answers a plain request with a page whose script echoes one message
// over a WebSocket to the same origin; an upgrade request is left
// unanswered, so the server upgrades it.
func page(w http.ResponseWriter, r *http.Request) {
	if handshake.IsUpgradeRequest(r) {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>echo</title><pre id=out>page loaded over %s
</pre><script>
const out = document.getElementById("out");
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/");
ws.onopen = () => ws.send("hello");
ws.onmessage = (e) => { out.textContent += "echo: " + e.data + "\n"; ws.close(1000, "done"); };
ws.onclose = (e) => { out.textContent += "closed " + e.code + " " + e.reason + "\n"; };
</script>
`, r.Proto)
}

// certificate loads the certificate in certFile and keyFile, or without
// them makes a self-signed one for 127.0.0.1 and localhost, valid for a
// day.
func certificate(certFile, keyFile string) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
