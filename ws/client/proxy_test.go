package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// connectProxy runs an HTTP CONNECT proxy on 127.0.0.1 for the test: it
// wants the Basic credentials user:pw when user is not empty, reports
// each CONNECT target on targets, and relays bytes both ways. It returns
// the proxy's address.
func connectProxy(t *testing.T, user, pw string, targets chan<- string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			track(nc)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				nc.SetReadDeadline(time.Now().Add(wstest.WaitTimeout))
				br := bufio.NewReader(nc)
				req, err := http.ReadRequest(br)
				nc.SetReadDeadline(time.Time{})
				if err != nil || req.Method != http.MethodConnect {
					io.WriteString(nc, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
					return
				}
				targets <- req.RequestURI
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
				if user != "" && req.Header.Get("Proxy-Authorization") != want {
					io.WriteString(nc, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 6\r\n\r\nlog in")
					return
				}
				up, err := net.Dial("tcp", req.RequestURI)
				if err != nil {
					io.WriteString(nc, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
					return
				}
				track(up)
				defer up.Close()
				io.WriteString(nc, "HTTP/1.1 200 Connection Established\r\n\r\n")
				// Plain copies: TCPConn.ReadFrom would splice(2)
				// through pipes the runtime keeps pooled, which the
				// harness would count as leaked descriptors.
				go func() { io.Copy(struct{ io.Writer }{up}, br); up.(*net.TCPConn).CloseWrite() }()
				io.Copy(struct{ io.Writer }{nc}, struct{ io.Reader }{up})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func fixedProxy(u string) func(*http.Request) (*url.URL, error) {
	return func(*http.Request) (*url.URL, error) { return url.Parse(u) }
}

func TestThroughProxy(t *testing.T) {
	wsURL := startEcho(t, server.Config{}, nil)
	targets := make(chan string, 1)
	proxy := connectProxy(t, "alice", "s3cret", targets)
	c, r := dialRun(t, wsURL, &Config{Proxy: fixedProxy("http://alice:s3cret@" + proxy)})
	if got, want := <-targets, wsURL[len("ws://"):len(wsURL)-len("/echo")]; got != want {
		t.Errorf("CONNECT %s, want %s", got, want)
	}
	p := bytes.Repeat([]byte("tunnel "), 10<<10)
	c.SendBinary(p)
	if m := r.message(t); !bytes.Equal(m.Payload, p) {
		t.Fatal("echo through the proxy differs")
	}
}

func TestWSSThroughProxy(t *testing.T) {
	cert, pool := wstest.Certificate(t, "ws.test")
	r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}}, loop)
		if err == nil {
			s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
				c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
			})
		}
		return s, err
	})
	proxy := connectProxy(t, "", "", make(chan string, 1))
	c, rec := dialRun(t, "wss://"+r.Addr+"/", &Config{TLSConfig: &tls.Config{RootCAs: pool}, Proxy: fixedProxy("http://" + proxy)})
	c.SendText("over TLS in a tunnel")
	if m := rec.message(t); string(m.Payload) != "over TLS in a tunnel" {
		t.Fatalf("got %q", m.Payload)
	}
}

func TestProxyRefuses(t *testing.T) {
	wsURL := startEcho(t, server.Config{}, nil)
	proxy := connectProxy(t, "alice", "s3cret", make(chan string, 1))
	_, err := Dial(context.Background(), wsURL, &Config{Proxy: fixedProxy("http://alice:wrong@" + proxy)}, nil)
	var he *HandshakeError
	if !errors.As(err, &he) || !errors.Is(err, ErrProxyRefused) {
		t.Fatalf("Dial: %v, want a HandshakeError wrapping ErrProxyRefused", err)
	}
	if he.StatusCode != http.StatusProxyAuthRequired || he.Header.Get("Proxy-Authenticate") == "" || string(he.Body) != "log in" {
		t.Errorf("got %d %v %q, want 407 with Proxy-Authenticate and the body", he.StatusCode, he.Header, he.Body)
	}
}

func TestProxyChoice(t *testing.T) {
	var seen *http.Request
	cfg := &Config{Proxy: func(r *http.Request) (*url.URL, error) { seen = r; return nil, nil }}
	for _, tc := range []struct{ url, scheme, host string }{
		{"ws://example.org/x", "http", "example.org"},
		{"wss://example.org:8443/x", "https", "example.org:8443"},
	} {
		tg, err := parseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if u, err := proxyFor(cfg, tg); u != nil || err != nil {
			t.Fatalf("proxyFor: %v, %v; want none", u, err)
		}
		if seen.URL.Scheme != tc.scheme || seen.URL.Host != tc.host {
			t.Errorf("%s: Proxy was asked about %s, want scheme %s host %s", tc.url, seen.URL, tc.scheme, tc.host)
		}
	}
	tg, _ := parseURL("ws://example.org/")
	if _, err := proxyFor(&Config{Proxy: fixedProxy("socks5://127.0.0.1:1080")}, tg); err == nil {
		t.Error("a socks5 proxy was accepted")
	}
	if u, _ := proxyFor(&Config{}, mustTarget(t, "ws://127.0.0.1:9/")); u != nil {
		t.Errorf("the environment's proxy %v is used for a loopback address", u)
	}
}

func mustTarget(t *testing.T, u string) target {
	t.Helper()
	tg, err := parseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}
