package fuzz

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// Mode bits of a FuzzClient input.
const (
	clientValid101 = 1 << iota // a valid 101 goes first, the bytes follow it as frames
	clientDeflate              // offer permessage-deflate (and accept it in the valid 101)
)

// clientLimit bounds one FuzzClient input from dial to the close event.
const clientLimit = 10 * time.Second

// FuzzClient plays a hostile server against ws/client: the bytes are its
// whole answer to the upgrade request ("{accept}" stands for the right
// Sec-WebSocket-Accept), or, with clientValid101, what it sends after a
// valid 101. The server then ends the TCP connection. Whatever the bytes,
// Connect reports a connection or an error (a refusal is a
// *client.HandshakeError with a bounded body), a connection delivers only
// valid text and ends with exactly one close event, and nothing hangs.
func FuzzClient(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n\x81\x02hi"), byte(0))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), byte(0))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n\r\n"), byte(clientDeflate))
	f.Add([]byte("\x01\x03fra\x89\x00\x80\x02g!\x88\x02\x03\xe8"), byte(clientValid101))
	f.Add([]byte("\xc1\x07\xf2H\xcd\xc9\xc9\x07\x00"), byte(clientValid101|clientDeflate))
	f.Add([]byte("\x81\x85\x00\x00\x00\x00hello"), byte(clientValid101))

	url, answers, loop := hostileServer(f)
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		served := make(chan struct{})
		go func() {
			answers <- func(nc net.Conn) {
				defer close(served)
				serveHostile(nc, data, mode)
			}
		}()
		var cfg client.Config
		cfg.HandshakeTimeout = clientLimit
		cfg.MaxHandshakeSize = 2 << 10
		cfg.MaxMessageSize = 4 << 10
		cfg.CloseTimeout = 10 * time.Millisecond
		if mode&clientDeflate != 0 {
			cfg.Deflate = &permessagedeflate.Config{}
		}
		type result struct {
			c   *ws.Conn
			err error
		}
		connected := make(chan result, 1)
		closes := make(chan ws.CloseCode, 2)
		badText := make(chan struct{}, 1)
		client.Connect(context.Background(), url, &cfg, loop, func(c *ws.Conn, err error) {
			if c != nil {
				c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
					if m.IsText() && !utf8.Valid(m.Payload) {
						select {
						case badText <- struct{}{}:
						default:
						}
					}
				})
				c.OnClose(func(_ *ws.Conn, code ws.CloseCode, _ string) { closes <- code })
			}
			connected <- result{c, err}
		})
		var r result
		select {
		case r = <-connected:
		case <-time.After(clientLimit + time.Second):
			t.Fatal("Connect did not call back")
		}
		if r.err != nil {
			var he *client.HandshakeError
			if errors.As(r.err, &he) && len(he.Body) > client.MaxErrorBodySize {
				t.Fatalf("HandshakeError body of %d bytes", len(he.Body))
			}
		} else {
			select {
			case <-closes:
			case <-time.After(clientLimit):
				t.Fatal("the connection did not end")
			}
		}
		select {
		case <-served:
		case <-time.After(clientLimit):
			t.Fatal("the client kept the TCP connection open")
		}
		select {
		case code := <-closes:
			t.Fatalf("a second close event (%d)", code)
		case <-badText:
			t.Fatal("invalid UTF-8 delivered as text")
		default:
		}
	})
}

// hostileServer listens on a loopback port for the clients of a fuzz
// target, each connection served by the next function sent on answers,
// and runs a loop for them (kept running by an idle server); the cleanup
// stops both.
func hostileServer(f *testing.F) (url string, answers chan<- func(net.Conn), loop *ws.Loop) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	ch := make(chan func(net.Conn))
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			answer := <-ch
			go answer(nc)
		}
	}()

	loop = ws.NewLoop()
	keeper, err := server.New(server.Config{}, loop) // a running server keeps the loop's Run going
	if err != nil {
		f.Fatal(err)
	}
	keeper.Run()
	loopDone := make(chan struct{})
	go func() { loop.Run(); close(loopDone) }()
	f.Cleanup(func() { keeper.Stop(); <-loopDone })
	return "ws://" + ln.Addr().String() + "/", ch, loop
}

// serveHostile reads the upgrade request on nc, answers with data as
// mode says, ends its side and waits for the client to end its own.
func serveHostile(nc net.Conn, data []byte, mode byte) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(clientLimit))
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	accept := handshake.AcceptKey(req.Header.Get("Sec-WebSocket-Key"))
	var out []byte
	if mode&clientValid101 != 0 {
		out = []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n")
		if mode&clientDeflate != 0 {
			out = append(out, "Sec-WebSocket-Extensions: permessage-deflate\r\n"...)
		}
		out = append(append(out, "\r\n"...), data...)
	} else {
		out = bytes.ReplaceAll(data, []byte("{accept}"), []byte(accept))
	}
	nc.Write(out)
	nc.(*net.TCPConn).CloseWrite()
	var sink [4 << 10]byte
	for {
		if _, err := br.Read(sink[:]); err != nil {
			return
		}
	}
}
