// Package peer is what the Go peer servers of the client matrix share:
// their flags, listening with or without TLS, and how a message is cut
// into fragments.
package peer

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Flags are the command line every peer server takes.
type Flags struct {
	Addr      string
	Deflate   bool
	Cert, Key string // PEM files; both set means wss
}

// ParseFlags parses the command line: -addr (127.0.0.1:0 by default),
// -deflate, -cert and -key.
func ParseFlags() Flags {
	var f Flags
	flag.StringVar(&f.Addr, "addr", "127.0.0.1:0", "host:port to listen on")
	flag.BoolVar(&f.Deflate, "deflate", false, "accept permessage-deflate")
	flag.StringVar(&f.Cert, "cert", "", "PEM certificate file: serve wss")
	flag.StringVar(&f.Key, "key", "", "PEM private key file of -cert")
	flag.Parse()
	if (f.Cert == "") != (f.Key == "") {
		log.Fatal("peer: -cert and -key go together")
	}
	return f
}

// Serve listens on f.Addr, prints "listening on ws://HOST:PORT/" (wss with
// a certificate) and serves h until SIGTERM or SIGINT, then shuts down and
// exits.
func Serve(f Flags, h http.Handler) {
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	scheme := "ws"
	if f.Cert != "" {
		scheme = "wss"
	}
	fmt.Printf("listening on %s://%s/\n", scheme, ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		// Hijacked connections are not waited for: the case they serve
		// is over or failed.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if f.Cert != "" {
		err = srv.ServeTLS(ln, f.Cert, f.Key)
	} else {
		err = srv.Serve(ln)
	}
	if err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// Pieces cuts p into n pieces of about the same size (the last ones
// shorter or empty), at byte offsets.
func Pieces(p []byte, n int) [][]byte {
	if n < 1 {
		n = 1
	}
	step := (len(p) + n - 1) / n
	out := make([][]byte, n)
	for i := range out {
		out[i] = p[min(i*step, len(p)):min((i+1)*step, len(p))]
	}
	return out
}

// PingPayloads are the payloads of the three pings /ping sends.
var PingPayloads = [][]byte{{}, []byte("interop"), make125()}

func make125() []byte {
	b := make([]byte, 125)
	for i := range b {
		b[i] = 'p'
	}
	return b
}

// Subprotocol is the one subprotocol every peer speaks, chosen when the
// client offers it.
const Subprotocol = "chat.v1"

// RefusalBody is the body of the refusal at /refuse.
const RefusalBody = "members only"

// Refuse answers an upgrade with 403 and RefusalBody.
func Refuse(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprint(w, RefusalBody)
}

// Headers is what /headers sends: the request's Origin, X-Interop,
// Authorization and Host as "name: value" lines.
func Headers(r *http.Request) string {
	return fmt.Sprintf("origin: %s\nx-interop: %s\nauthorization: %s\nhost: %s",
		r.Header.Get("Origin"), r.Header.Get("X-Interop"), r.Header.Get("Authorization"), r.Host)
}

// InvalidUTF8 is the text message /invalid-utf8 sends: "ok" and "!"
// around the byte 0xff, which UTF-8 never has.
var InvalidUTF8 = []byte{'o', 'k', 0xff, '!'}
