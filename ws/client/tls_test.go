package client

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

func TestWSSEcho(t *testing.T) {
	cert, pool := wstest.Certificate(t, "ws.test")
	sni := make(chan string, 1)
	r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		tc := &tls.Config{
			Certificates: []tls.Certificate{cert},
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				sni <- h.ServerName
				return nil, nil
			},
		}
		s, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1", TLS: tc}}}, loop)
		if err == nil {
			s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
				c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
			})
		}
		return s, err
	})
	// The URL names 127.0.0.1, which TLS sends no SNI for: ServerName
	// set in the config is what the server sees.
	c, rec := dialRun(t, "wss://"+r.Addr+"/", &Config{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "ws.test"}})
	if got := <-sni; got != "ws.test" {
		t.Errorf("server saw SNI %q, want ws.test", got)
	}
	p := bytes.Repeat([]byte("tls "), 100<<10)
	c.SendBinary(p)
	if m := rec.message(t); !bytes.Equal(m.Payload, p) {
		t.Fatal("echo over TLS differs")
	}
	if _, ok := c.NetConn().(*tls.Conn); !ok {
		t.Errorf("NetConn is %T, want *tls.Conn", c.NetConn())
	}
}

func TestWSSRefusesUntrustedCertificate(t *testing.T) {
	cert, _ := wstest.Certificate(t, "ws.test")
	r := servertest.Start(t, servertest.Options{NoLeakCheck: true}, func(loop *ws.Loop) (*server.Server, error) {
		return server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}}, loop)
	})
	_, err := Dial(t.Context(), "wss://"+r.Addr+"/", nil, nil)
	var ue x509.UnknownAuthorityError
	if !errors.As(err, &ue) {
		t.Fatalf("Dial: %v, want x509.UnknownAuthorityError", err)
	}
}

func TestTLSConfigTakesTheURLHost(t *testing.T) {
	base := &tls.Config{NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS13}
	got := tlsConfig(base, "example.org")
	want := struct {
		Name  string
		Proto []string
		Min   uint16
	}{"example.org", []string{"http/1.1"}, tls.VersionTLS13}
	if d := cmp.Diff(want, struct {
		Name  string
		Proto []string
		Min   uint16
	}{got.ServerName, got.NextProtos, got.MinVersion}); d != "" {
		t.Errorf("tlsConfig (-want +got):\n%s", d)
	}
	if base.ServerName != "" || base.NextProtos[0] != "h2" {
		t.Error("tlsConfig changed the caller's config")
	}
	if got := tlsConfig(&tls.Config{ServerName: "given"}, "example.org"); got.ServerName != "given" {
		t.Errorf("ServerName %q, want the one given", got.ServerName)
	}
}
