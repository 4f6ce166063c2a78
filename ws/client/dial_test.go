package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// payload returns n bytes of text that compresses, different per n.
func payload(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d:%d message text, ", n, i)
	}
	return b.Bytes()[:n]
}

func TestEchoRoundTrips(t *testing.T) {
	url := startEcho(t, server.Config{}, nil)
	c, r := dialRun(t, url, nil)
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		p := payload(n)
		if err := c.Send(ws.OpText, p); err != nil {
			t.Fatal(err)
		}
		if err := c.SendBinary(p); err != nil {
			t.Fatal(err)
		}
		for _, op := range []ws.Opcode{ws.OpText, ws.OpBinary} {
			m := r.message(t)
			if m.Opcode != op || !bytes.Equal(m.Payload, p) {
				t.Fatalf("%d bytes: got opcode %v, %d bytes; want %v, the bytes sent", n, m.Opcode, len(m.Payload), op)
			}
		}
	}
}

func TestDeflateNegotiatedBothWays(t *testing.T) {
	tests := []struct {
		name           string
		client, server permessagedeflate.Config
	}{
		{"defaults", permessagedeflate.Config{}, permessagedeflate.Config{}},
		{"client asks small windows and resets", permessagedeflate.Config{ClientMaxWindowBits: 10, ServerMaxWindowBits: 9, ClientNoContextTakeover: true, ServerNoContextTakeover: true}, permessagedeflate.Config{}},
		{"server asks the client", permessagedeflate.Config{}, permessagedeflate.Config{ClientMaxWindowBits: 11, ClientNoContextTakeover: true, ServerMaxWindowBits: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverParams := make(chan *permessagedeflate.Params, 1)
			scfg := server.Config{}
			scfg.Deflate = &tt.server
			url := startEcho(t, scfg, func(s *server.Server) {
				s.ConnectionEvent().Add(func(_ *server.Server, c *server.Conn, _ *handshake.Request) { serverParams <- c.Deflate() })
			})
			cfg := &Config{}
			cfg.Deflate = &tt.client
			c, r := dialRun(t, url, cfg)
			got := c.Deflate()
			if got == nil {
				t.Fatal("permessage-deflate not negotiated")
			}
			if d := cmp.Diff(<-serverParams, got); d != "" {
				t.Errorf("client and server disagree on the parameters (-server +client):\n%s", d)
			}
			for _, n := range []int{10, 200, 40 << 10, 256 << 10} {
				p := payload(n)
				for range 3 { // context takeover across messages
					c.Send(ws.OpText, p)
					if m := r.message(t); !bytes.Equal(m.Payload, p) {
						t.Fatalf("%d bytes: echo differs", n)
					}
				}
			}
			if st := c.Stats(); st.BytesOut >= 3*(256<<10) {
				t.Errorf("sent %d bytes on the wire for more than 3*256 KiB of text: not compressed", st.BytesOut)
			}
		})
	}
}

func TestConnectCallbackSeesFirstMessage(t *testing.T) {
	url := startEcho(t, server.Config{}, func(s *server.Server) {
		s.ConnectionEvent().Add(func(_ *server.Server, c *server.Conn, _ *handshake.Request) { c.SendText("hello") })
	})
	loop := ws.NewLoop()
	r := newRecorder()
	var cerr error
	Connect(context.Background(), url, nil, loop, func(c *ws.Conn, err error) {
		cerr = err
		if err == nil {
			r.listen(c)
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				r.msgs <- ws.Message{Opcode: m.Opcode, Payload: append([]byte(nil), m.Payload...)}
				c.Close(1000, "")
			})
		}
	})
	if err := loop.Run(); err != nil { // returns once the connection is over
		t.Fatal(err)
	}
	if cerr != nil {
		t.Fatal(cerr)
	}
	if m := r.message(t); string(m.Payload) != "hello" {
		t.Errorf("got %q, want hello", m.Payload)
	}
	if e := r.close(t); e.code != 1000 {
		t.Errorf("close code %d, want 1000", e.code)
	}
}

func TestConnectReportsRefusal(t *testing.T) {
	url := hostile(t, func(p *peer) {
		p.write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"))
	})
	loop := ws.NewLoop()
	var gotConn *ws.Conn
	var gotErr error
	Connect(context.Background(), url, nil, loop, func(c *ws.Conn, err error) { gotConn, gotErr = c, err })
	loop.Run() // the attempt holds the loop until done ran
	var he *HandshakeError
	if gotConn != nil || !errors.As(gotErr, &he) || he.StatusCode != http.StatusForbidden || string(he.Body) != "no" {
		t.Fatalf("done got %v, %v; want nil and a HandshakeError 403 with body \"no\"", gotConn, gotErr)
	}
}

// TestClientsAndServerShareALoop runs a server and two of its clients on
// one loop: the clients connect with Connect, as the server answers only
// once the loop runs.
func TestClientsAndServerShareALoop(t *testing.T) {
	loop := ws.NewLoop()
	s, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
	if err != nil {
		t.Fatal(err)
	}
	s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	addr, _ := s.Addr()
	replies, closed := 0, 0
	for i := range 2 {
		Connect(context.Background(), "ws://"+addr.String()+"/", nil, loop, func(c *ws.Conn, err error) {
			if err != nil {
				t.Error(err)
				s.Stop()
				return
			}
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				replies++ // on the loop: no lock
				c.Close(1000, "")
			})
			c.OnClose(func(*ws.Conn, ws.CloseCode, string) {
				if closed++; closed == 2 {
					s.Stop()
				}
			})
			c.SendText(strings.Repeat("x", i+1))
		})
	}
	if err := loop.Run(); err != nil {
		t.Fatal(err)
	}
	if replies != 2 {
		t.Errorf("%d replies, want 2", replies)
	}
	wstest.WaitFor(t, "the server's connections to end", func() bool { return s.Len() == 0 })
}
