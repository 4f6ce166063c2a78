package client

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// xconnect is whether this process serves extended CONNECT: net/http
// reads GODEBUG once, at start.
var xconnect = strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1")

// inH2Child runs the test again in a child process with
// GODEBUG=http2xconnect=1 and reports true in the parent, which returns;
// the child's failure fails the test.
func inH2Child(t *testing.T) bool {
	t.Helper()
	if xconnect {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GODEBUG=http2xconnect=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("with GODEBUG=http2xconnect=1: %v\n%s", err, out)
	}
	return true
}

// startTLSEcho runs this project's server on a TLS location of
// 127.0.0.1 (HTTP/2 beside HTTP/1.1 in a process with
// GODEBUG=http2xconnect=1) with an echo, and records the transport of
// every connection; setup may install more.
func startTLSEcho(t *testing.T, cfg server.Config, setup func(*server.Server)) (url string, pool *x509.CertPool, transports chan string) {
	t.Helper()
	cert, pool := wstest.Certificate(t)
	cfg.Locations = []server.Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}
	transports = make(chan string, 16)
	r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(cfg, loop)
		if err != nil {
			return nil, err
		}
		s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
			transports <- c.Transport()
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
		})
		if setup != nil {
			setup(s)
		}
		return s, nil
	})
	return "wss://" + r.Addr + "/echo", pool, transports
}

func TestH2DialEcho(t *testing.T) {
	if inH2Child(t) {
		return
	}
	url, pool, transports := startTLSEcho(t, server.Config{}, nil)
	for _, mode := range []HTTP2Mode{HTTP2Prefer, HTTP2Only} {
		c, rec := dialRun(t, url, &Config{HTTP2: mode, TLSConfig: &tls.Config{RootCAs: pool}})
		if got := <-transports; got != server.TransportHTTP2 {
			t.Fatalf("mode %d: the server saw the connection over %s, want h2", mode, got)
		}
		for _, n := range []int{0, 125, 65536, 1 << 20} {
			p := bytes.Repeat([]byte{'h'}, n)
			if err := c.SendBinary(p); err != nil {
				t.Fatal(err)
			}
			if m := rec.message(t); m.Opcode != ws.OpBinary || !bytes.Equal(m.Payload, p) {
				t.Fatalf("mode %d: %d-byte echo: opcode %d, %d bytes", mode, n, m.Opcode, len(m.Payload))
			}
		}
		c.SendText("héllo ✓")
		if m := rec.message(t); string(m.Payload) != "héllo ✓" {
			t.Fatalf("text echo %q", m.Payload)
		}
		c.Close(4000, "bye")
		if e := rec.close(t); e.code != 4000 {
			t.Fatalf("close %d %q, want the server's answer 4000", e.code, e.reason)
		}
	}
}

func TestH2DialSubprotocolAndDeflate(t *testing.T) {
	if inH2Child(t) {
		return
	}
	cfg := server.Config{Protocols: []string{"chat.v1"}}
	cfg.Deflate = &permessagedeflate.Config{}
	url, pool, transports := startTLSEcho(t, cfg, nil)
	ccfg := &Config{HTTP2: HTTP2Only, Protocols: []string{"chat.v2", "chat.v1"}, TLSConfig: &tls.Config{RootCAs: pool}}
	ccfg.Deflate = &permessagedeflate.Config{}
	c, rec := dialRun(t, url, ccfg)
	if got := <-transports; got != server.TransportHTTP2 {
		t.Fatalf("the server saw %s, want h2", got)
	}
	if c.Protocol() != "chat.v1" {
		t.Errorf("subprotocol %q, want chat.v1", c.Protocol())
	}
	if c.Deflate() == nil {
		t.Fatal("permessage-deflate was not agreed")
	}
	p := bytes.Repeat([]byte("compressible "), 20000)
	for range 3 { // context takeover across messages
		c.SendText(string(p))
		if m := rec.message(t); !bytes.Equal(m.Payload, p) {
			t.Fatal("compressed echo differs")
		}
	}
	if in, out := c.Stats().BytesIn, c.Stats().BytesOut; in > uint64(len(p)) || out > uint64(len(p)) {
		t.Errorf("%d bytes in, %d out for 3 messages of %d: not compressed", in, out, len(p))
	}
}

func TestH2DialRefused(t *testing.T) {
	if inH2Child(t) {
		return
	}
	url, pool, _ := startTLSEcho(t, server.Config{}, func(s *server.Server) {
		s.OnHandshake(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
			c.SendAcceptError(http.StatusForbidden, "members only", http.Header{"X-Why": {"test"}})
		})
	})
	_, err := Dial(t.Context(), url, &Config{HTTP2: HTTP2Only, TLSConfig: &tls.Config{RootCAs: pool}}, ws.NewLoop())
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden || string(he.Body) != "members only\n" || he.Header.Get("X-Why") != "test" {
		t.Fatalf("Dial: %v (%+v), want a HandshakeError with 403, its body and header", err, he)
	}
	if !errors.Is(err, ErrRefusedOverHTTP2) {
		t.Errorf("error %v does not wrap ErrRefusedOverHTTP2", err)
	}
}

// TestH2DialStop: a server's Stop reaches a client on an HTTP/2 stream as
// 1001, and the client's connection ends.
func TestH2DialStop(t *testing.T) {
	if inH2Child(t) {
		return
	}
	cert, pool := wstest.Certificate(t)
	r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		return server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}}, loop)
	})
	_, rec := dialRun(t, "wss://"+r.Addr+"/", &Config{HTTP2: HTTP2Only, TLSConfig: &tls.Config{RootCAs: pool}})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if e := rec.close(t); e.code != 1001 {
		t.Fatalf("close %d %q, want 1001", e.code, e.reason)
	}
}

// TestH2DialWithoutHTTP2 dials, in a process without
// GODEBUG=http2xconnect=1, a server whose TLS location speaks HTTP/1.1
// only (ALPN), and an HTTP/2 server without extended CONNECT (net/http's
// with the project's server mounted): HTTP2Prefer upgrades over HTTP/1.1
// (on the same connection, or a new one), HTTP2Only returns ErrNoHTTP2.
func TestH2DialWithoutHTTP2(t *testing.T) {
	if xconnect {
		t.Skip("this process serves extended CONNECT")
	}
	http1URL, pool1, transports := startTLSEcho(t, server.Config{}, nil)

	var mounted atomic.Pointer[server.Server]
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mounted.Load().ServeHTTP(w, r)
	}))
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	r := servertest.Start(t, servertest.Options{NoLeakCheck: true}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(server.Config{}, loop)
		if err == nil {
			s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
				transports <- c.Transport()
				c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
			})
		}
		return s, err
	})
	mounted.Store(r.Server)
	h2URL := "wss" + strings.TrimPrefix(ts.URL, "https") + "/"
	pool2 := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	for _, tc := range []struct {
		name string
		url  string
		pool *x509.CertPool
	}{{"HTTP/1.1 only", http1URL, pool1}, {"HTTP/2 without extended CONNECT", h2URL, pool2}} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := dialRun(t, tc.url, &Config{HTTP2: HTTP2Prefer, TLSConfig: &tls.Config{RootCAs: tc.pool}})
			if got := <-transports; got != server.TransportHTTP1 {
				t.Fatalf("HTTP2Prefer: the server saw %s, want http/1.1", got)
			}
			c.SendText("over HTTP/1.1")
			if m := rec.message(t); string(m.Payload) != "over HTTP/1.1" {
				t.Fatalf("echo %q", m.Payload)
			}
			_, err := Dial(t.Context(), tc.url, &Config{HTTP2: HTTP2Only, TLSConfig: &tls.Config{RootCAs: tc.pool}}, ws.NewLoop())
			if !errors.Is(err, ErrNoHTTP2) {
				t.Fatalf("HTTP2Only: %v, want ErrNoHTTP2", err)
			}
		})
	}
	if _, err := Dial(t.Context(), "ws://127.0.0.1:1/", &Config{HTTP2: HTTP2Only}, ws.NewLoop()); !errors.Is(err, ErrNoHTTP2) {
		t.Errorf("HTTP2Only with ws://: %v, want ErrNoHTTP2", err)
	}
	if err := (&Config{HTTP2: HTTP2Only + 1}).Validate(); err == nil {
		t.Error("an unknown HTTP2 mode is valid")
	}
}
