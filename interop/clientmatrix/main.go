// Command clientmatrix runs this project's client, unievent.dev/ws/client,
// against one real WebSocket server in up to six modes (plain, three
// permessage-deflate offers, wss with and without compression) and prints
// one line per case:
//
//	PASS unievent-client PEER/MODE/CASE
//	FAIL unievent-client PEER/MODE/CASE: reason
//
// It is its own module (with the peer servers gorillaserver/,
// coderserver/ and unieventserver/) so that the project's go.mod stays
// free of dependencies; run.sh beside it starts the servers and runs it,
// once per peer:
//
//	clientmatrix -peer node-ws -plain ws://H:P/ -deflate ws://H:P/ -wss wss://H:P/ -ca ca.pem
//
// A peer server answers on four paths (README.md): /echo sends every
// message back as one message, /fragmented?n=K sends it back in K
// fragments, /close?code=C&reason=R closes at once with that code and
// reason (/close-abrupt too, and ends the TCP connection at once), /ping
// sends three pings, checks each pong's payload and reports "ok" (or what
// was wrong) in a text message, /fragmented-ping?n=K pings between its
// fragments, /refuse refuses the upgrade
// with 403 and "members only"; on /echo it speaks the subprotocol chat.v1.
// -cases picks the groups of
// cases that run (examples/echo, which echoes on every path, gets the echo
// group only).
//
// With compression the client offers permessage-deflate three ways, all to
// the peer's -deflate URL: "deflate" (client_max_window_bits),
// "deflate-nocontext" (both no-context-takeover parameters) and
// "deflate-window10" (server_max_window_bits=10; client_max_window_bits=10).
// -expect says for a mode whether the peer agrees (the default), declines
// (no extension: the cases then run uncompressed) or gives an answer the
// client must refuse; the negotiate case checks it.
//
// With -proxy (an HTTP proxy that wants the credentials in its URL) two
// more modes dial through its CONNECT tunnel, proxy-plain and
// proxy-wss-deflate, and proxy-plain also checks its refusals: without
// credentials, with wrong ones, and to a port where nothing listens.
//
// clientmatrix -gencert DIR writes a CA (ca.pem) and a server certificate
// for 127.0.0.1 and localhost signed by it (cert.pem, key.pem) for the wss
// mode; the client trusts the CA through -ca, nothing is skipped.
//
// It exits 1 if any case failed.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/permessagedeflate"
)

func main() {
	peer := flag.String("peer", "", "name of the peer server, the first part of every case name")
	plain := flag.String("plain", "", "ws:// URL of the peer without compression (empty: mode skipped)")
	deflate := flag.String("deflate", "", "ws:// URL of the peer with permessage-deflate (empty: the deflate modes skipped)")
	wss := flag.String("wss", "", "wss:// URL of the peer over TLS, with permessage-deflate (empty: the wss modes skipped)")
	caFile := flag.String("ca", "", "PEM file of the CA the wss peer's certificate is signed by")
	big := flag.String("big", "plain", "comma-separated modes that also get the 16 MiB cases")
	expect := flag.String("expect", "", "comma-separated MODE=OUTCOME: how the peer answers that mode's deflate offer, agreed (the default), declined or refused (an answer the client must fail, permessagedeflate.ErrBadAnswer)")
	only := flag.String("cases", "echo,fragmented,close,abrupt,ping,handshake,invalid", "comma-separated groups of cases to run: echo, fragmented, close, abrupt, ping, handshake, invalid")
	h2 := flag.String("h2", "", "wss:// URL of the peer serving WebSockets over HTTP/2 (RFC 8441): adds the mode h2, HTTP2Only")
	proxy := flag.String("proxy", "", "http://USER:PASSWORD@HOST:PORT of an HTTP proxy that wants those credentials: adds the modes proxy-plain and proxy-wss-deflate, through it")
	gencert := flag.String("gencert", "", "instead of the cases: write ca.pem, cert.pem and key.pem into this directory")
	flag.Parse()

	if *gencert != "" {
		if err := writeCertificates(*gencert); err != nil {
			fmt.Fprintf(os.Stderr, "clientmatrix: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *peer == "" || *plain == "" && *deflate == "" && *wss == "" && *h2 == "" {
		fmt.Fprintln(os.Stderr, "clientmatrix: -peer and at least one of -plain, -deflate, -wss, -h2 are required")
		os.Exit(2)
	}
	var roots *x509.CertPool
	if *wss != "" || *h2 != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "clientmatrix: -wss and -h2 need -ca: %v\n", err)
			os.Exit(2)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "clientmatrix: no certificate in %s\n", *caFile)
			os.Exit(2)
		}
	}
	bigModes := set(*big)
	groups := set(*only)
	outcomes := map[string]outcome{}
	for _, e := range strings.Split(*expect, ",") {
		if e == "" {
			continue
		}
		name, o, _ := strings.Cut(e, "=")
		switch outcome(o) {
		case agreed, declined, refused:
			outcomes[name] = outcome(o)
		default:
			fmt.Fprintf(os.Stderr, "clientmatrix: -expect %s: the outcome is agreed, declined or refused\n", e)
			os.Exit(2)
		}
	}

	s := &suite{client: "unievent-client"}
	deflateWith := func(c permessagedeflate.Config) client.Config {
		return client.Config{Config: ws.Config{Deflate: &c}}
	}
	var proxyURL *url.URL
	proxyPlain, proxyWSS := "", ""
	if *proxy != "" {
		u, err := url.Parse(*proxy)
		if err != nil || u.User == nil {
			fmt.Fprintf(os.Stderr, "clientmatrix: -proxy %q: want http://USER:PASSWORD@HOST:PORT\n", *proxy)
			os.Exit(2)
		}
		proxyURL, proxyPlain, proxyWSS = u, *plain, *wss
	}
	viaProxy := func(c client.Config) client.Config {
		c.Proxy = http.ProxyURL(proxyURL)
		return c
	}
	for _, m := range []struct {
		name, url string
		cfg       client.Config
		few       bool // the offer's own modes: fewer cases
	}{
		{"plain", *plain, client.Config{}, false},
		// permessage-deflate; client_max_window_bits
		{"deflate", *deflate, deflateWith(permessagedeflate.Config{}), false},
		// both no-context-takeover parameters
		{"deflate-nocontext", *deflate, deflateWith(permessagedeflate.Config{ServerNoContextTakeover: true, ClientNoContextTakeover: true}), true},
		// server_max_window_bits=10; client_max_window_bits=10
		{"deflate-window10", *deflate, deflateWith(permessagedeflate.Config{ServerMaxWindowBits: 10, ClientMaxWindowBits: 10}), true},
		{"wss", *wss, client.Config{TLSConfig: &tls.Config{RootCAs: roots}}, false},
		{"wss-deflate", *wss, client.Config{Config: ws.Config{Deflate: &permessagedeflate.Config{}}, TLSConfig: &tls.Config{RootCAs: roots}}, false},
		// the certificate verified by its DNS name (SNI localhost)
		{"wss-localhost", strings.Replace(*wss, "//127.0.0.1:", "//localhost:", 1), client.Config{TLSConfig: &tls.Config{RootCAs: roots}}, true},
		// an HTTP/2 stream (extended CONNECT)
		{"h2", *h2, client.Config{TLSConfig: &tls.Config{RootCAs: roots}, HTTP2: client.HTTP2Only}, false},
		{"h2-deflate", *h2, client.Config{Config: ws.Config{Deflate: &permessagedeflate.Config{}}, TLSConfig: &tls.Config{RootCAs: roots}, HTTP2: client.HTTP2Only}, true},
		// HTTP2Prefer: a stream where the server offers one, HTTP/1.1 from
		// the servers without extended CONNECT (Go's net/http under
		// gorilla and coder speaks HTTP/2 without it; the others not at all)
		{"h2-prefer", *h2, client.Config{TLSConfig: &tls.Config{RootCAs: roots}, HTTP2: client.HTTP2Prefer}, true},
		{"wss-prefer-h2", *wss, client.Config{TLSConfig: &tls.Config{RootCAs: roots}, HTTP2: client.HTTP2Prefer}, true},
		// through the proxy's CONNECT tunnel
		{"proxy-plain", proxyPlain, viaProxy(client.Config{}), true},
		{"proxy-wss-deflate", proxyWSS, viaProxy(client.Config{Config: ws.Config{Deflate: &permessagedeflate.Config{}}, TLSConfig: &tls.Config{RootCAs: roots}}), true},
	} {
		if m.url == "" {
			continue
		}
		// The 16 MiB cases need more than the 4 MiB defaults.
		m.cfg.MaxMessageSize = 32 << 20
		m.cfg.SendQueueLimit = 64 << 20
		md := mode{
			label:  *peer + "/" + m.name,
			base:   strings.TrimSuffix(m.url, "/"),
			cfg:    m.cfg,
			offer:  m.cfg.Deflate,
			answer: agreed,
			big:    bigModes[m.name],
			groups: groups,
			few:    m.few,
			wantH2: strings.HasPrefix(m.name, "h2"),
		}
		if o, ok := outcomes[m.name]; ok {
			md.answer = o
		}
		if m.name == "proxy-plain" {
			md.proxy = proxyURL
		}
		runMode(s, md)
	}
	if s.failed > 0 {
		os.Exit(1)
	}
}

// caseTimeout bounds every case: a hung server is a failure, not a hang.
var caseTimeout = func() time.Duration {
	if ms, err := strconv.Atoi(os.Getenv("INTEROP_CASE_TIMEOUT_MS")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return 10 * time.Second
}()

// suite counts and prints the cases.
type suite struct {
	client         string
	passed, failed int
}

// run runs f with a context that ends after caseTimeout. A case that does
// not return by then is reported as failed and left behind (its session
// is stopped by f's own deadline handling).
func (s *suite) run(name string, f func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- f(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("timed out after %v", caseTimeout)
	}
	if err != nil {
		s.failed++
		fmt.Printf("FAIL %s %s: %s\n", s.client, name, strings.Join(strings.Fields(err.Error()), " "))
		return
	}
	s.passed++
	fmt.Printf("PASS %s %s\n", s.client, name)
}

// set returns the comma-separated items of list.
func set(list string) map[string]bool {
	m := map[string]bool{}
	for _, v := range strings.Split(list, ",") {
		m[strings.TrimSpace(v)] = true
	}
	return m
}
