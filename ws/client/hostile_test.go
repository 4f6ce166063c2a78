package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
)

// TestRefusedHandshakes dials hostile servers whose answers do not
// establish a connection: each is a *HandshakeError with the status, the
// header, a bounded body and the cause.
func TestRefusedHandshakes(t *testing.T) {
	deflate := &Config{}
	deflate.Deflate = &permessagedeflate.Config{ServerMaxWindowBits: 10}
	protocols := &Config{Protocols: []string{"chat", "superchat"}}
	long := strings.Repeat("b", 3*MaxErrorBodySize)
	tests := []struct {
		name     string
		cfg      *Config
		answer   func(p *peer)
		status   int
		cause    error
		body     string
		location string
	}{
		{name: "200 instead of 101", answer: func(p *peer) {
			p.write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" + long))
		}, status: 200, cause: handshake.ErrBadServerResponse, body: long[:MaxErrorBodySize]},
		{name: "redirect not followed", answer: func(p *peer) {
			p.write([]byte("HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n"))
		}, status: 302, cause: handshake.ErrBadServerResponse, location: "ws://elsewhere/"},
		{name: "wrong accept key", answer: func(p *peer) {
			p.write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + handshake.AcceptKey("dGhlIHNhbXBsZSBub25jZQ==") + "\r\n\r\n"))
		}, status: 101, cause: handshake.ErrBadServerResponse},
		{name: "no Upgrade", answer: func(p *peer) {
			p.write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + handshake.AcceptKey(p.req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"))
		}, status: 101, cause: handshake.ErrBadServerResponse},
		{name: "no Connection upgrade", answer: func(p *peer) {
			p.write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: " + handshake.AcceptKey(p.req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"))
		}, status: 101, cause: handshake.ErrBadServerResponse},
		{name: "subprotocol not requested", answer: func(p *peer) {
			p.accept("Sec-WebSocket-Protocol: chat\r\n")
		}, status: 101, cause: ErrProtocolNotOffered},
		{name: "subprotocol not offered", cfg: protocols, answer: func(p *peer) {
			p.accept("Sec-WebSocket-Protocol: other\r\n")
		}, status: 101, cause: ErrProtocolNotOffered},
		{name: "two subprotocols", cfg: protocols, answer: func(p *peer) {
			p.accept("Sec-WebSocket-Protocol: chat, superchat\r\n")
		}, status: 101, cause: ErrProtocolNotOffered},
		{name: "extension not requested", answer: func(p *peer) {
			p.accept("Sec-WebSocket-Extensions: permessage-deflate\r\n")
		}, status: 101, cause: ErrExtensionNotOffered},
		{name: "unknown extension", cfg: deflate, answer: func(p *peer) {
			p.accept("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")
		}, status: 101, cause: ErrExtensionNotOffered},
		{name: "deflate twice", cfg: deflate, answer: func(p *peer) {
			p.accept("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9, permessage-deflate; server_max_window_bits=9\r\n")
		}, status: 101, cause: ErrExtensionNotOffered},
		{name: "deflate parameter not offered", cfg: deflate, answer: func(p *peer) {
			p.accept("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; x_foo\r\n")
		}, status: 101, cause: permessagedeflate.ErrBadAnswer},
		{name: "deflate window above the offer", cfg: deflate, answer: func(p *peer) {
			p.accept("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11\r\n")
		}, status: 101, cause: permessagedeflate.ErrBadAnswer},
		{name: "response head over the limit", cfg: &Config{MaxHandshakeSize: 1024}, answer: func(p *peer) {
			p.accept("X-Filler: " + strings.Repeat("f", 1024) + "\r\n")
		}, cause: ErrResponseTooLarge},
		{name: "endless response head", cfg: &Config{MaxHandshakeSize: 1024}, answer: func(p *peer) {
			p.write([]byte("HTTP/1.1 101 Switching Protocols\r\n"))
			for range 100 {
				if p.write([]byte("X-More: "+strings.Repeat("m", 100)+"\r\n")) != nil {
					return
				}
			}
		}, cause: ErrResponseTooLarge},
		{name: "not HTTP", answer: func(p *peer) {
			p.write([]byte("SSH-2.0-OpenSSH_9.6\r\n\r\n"))
		}, cause: ErrMalformedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := hostile(t, tt.answer)
			c, err := Dial(context.Background(), url, tt.cfg, ws.NewLoop())
			if c != nil {
				t.Fatalf("Dial returned a connection, want an error")
			}
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("Dial: %v (%T), want a *HandshakeError", err, err)
			}
			if !errors.Is(err, tt.cause) {
				t.Errorf("Dial: %v, want it to wrap %v", err, tt.cause)
			}
			if he.StatusCode != tt.status {
				t.Errorf("StatusCode %d, want %d", he.StatusCode, tt.status)
			}
			if string(he.Body) != tt.body {
				t.Errorf("Body has %d bytes, want %d", len(he.Body), len(tt.body))
			}
			if tt.location != "" && he.Header.Get("Location") != tt.location {
				t.Errorf("Location %q, want %q", he.Header.Get("Location"), tt.location)
			}
		})
	}
}

func TestRequestCarriesTheOffer(t *testing.T) {
	got := make(chan *http.Request, 1)
	url := hostile(t, func(p *peer) {
		got <- p.req
		p.write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
	})
	cfg := &Config{Header: http.Header{"Authorization": {"Bearer t"}}, Origin: "https://example.org", Protocols: []string{"a", "b"}}
	cfg.Deflate = &permessagedeflate.Config{ClientNoContextTakeover: true}
	Dial(context.Background(), url+"?q=1", cfg, nil)
	req := <-got
	if req.URL.RequestURI() != "/hostile?q=1" || req.Header.Get("Authorization") != "Bearer t" || req.Header.Get("Origin") != "https://example.org" ||
		req.Header.Get("Sec-WebSocket-Protocol") != "a, b" || req.Header.Get("Sec-WebSocket-Version") != "13" ||
		!headerHas(req.Header, "Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; client_max_window_bits") {
		t.Errorf("request %s %v", req.URL, req.Header)
	}
	if _, err := handshake.Validate(req); err != nil {
		t.Errorf("the server side refuses the request: %v", err)
	}
}

// TestKeysAreFresh checks the Sec-WebSocket-Key of two connections, and
// the masking keys of many frames, are not repeated (RFC 6455 sections 4.1
// and 5.3).
func TestKeysAreFresh(t *testing.T) {
	keys := make(chan string, 2)
	for range 2 {
		url := hostile(t, func(p *peer) {
			keys <- p.req.Header.Get("Sec-WebSocket-Key")
			p.write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
		})
		Dial(context.Background(), url, nil, nil)
	}
	if a, b := <-keys, <-keys; a == b {
		t.Errorf("two connections sent the key %q", a)
	}

	const frames = 3 * maskKeyBatchForTest
	seen := make(chan error, 1)
	url := hostile(t, func(p *peer) {
		p.accept("")
		used := map[[4]byte]bool{}
		for range frames {
			f, err := p.readFrame()
			if err != nil {
				seen <- err
				return
			}
			if !f.masked || string(f.payload) != "m" {
				seen <- errors.New("a frame is not masked, or its payload differs")
				return
			}
			if used[f.key] {
				seen <- errors.New("a masking key was used twice")
				return
			}
			used[f.key] = true
		}
		seen <- nil
		p.finishClose()
	})
	c, _ := dialRun(t, url, nil)
	for range frames {
		c.SendText("m")
	}
	if err := <-seen; err != nil {
		t.Fatal(err)
	}
}

// maskKeyBatchForTest is more than one batch of keys of package ws.
const maskKeyBatchForTest = 64

func TestHandshakeTimeout(t *testing.T) {
	answered := make(chan struct{})
	url := hostile(t, func(p *peer) {
		<-answered // says nothing until the client gave up
	})
	_, err := Dial(context.Background(), url, &Config{HandshakeTimeout: 50 * time.Millisecond}, nil)
	close(answered)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want it to wrap context.DeadlineExceeded", err)
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		t.Errorf("a timeout is not a HandshakeError: %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	url := hostile(t, func(p *peer) {
		cancel()
		p.br.ReadByte() // until the client hangs up
	})
	_, err := Dial(ctx, url, nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial: %v, want it to wrap context.Canceled", err)
	}
}

func TestNoGoroutineLeftAfterFailures(t *testing.T) {
	before := servertest.TakeBaseline()
	for range 3 {
		url := hostile(t, func(p *peer) { p.br.ReadByte() })
		Dial(context.Background(), url, &Config{HandshakeTimeout: 20 * time.Millisecond}, nil)
		url = hostile(t, func(p *peer) { p.accept("Sec-WebSocket-Protocol: x\r\n") })
		Dial(context.Background(), url, nil, nil)
	}
	// The hostile servers' goroutines end when their clients hang up.
	before.Check(t, 12, wstest.WaitTimeout) // their listeners and accepted sockets stay open until the cleanup
}

func TestBadURLsAndConfigs(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1/", "ws://", "ws://user:pw@127.0.0.1/", "ws://127.0.0.1/#frag", "ws:opaque", "::"} {
		if _, err := Dial(context.Background(), u, nil, nil); !errors.Is(err, ErrBadURL) {
			t.Errorf("Dial(%q): %v, want ErrBadURL", u, err)
		}
	}
	for name, cfg := range map[string]*Config{
		"reserved header":  {Header: http.Header{"Sec-WebSocket-Key": {"x"}}},
		"header with CRLF": {Header: http.Header{"X-A": {"a\r\nX-B: b"}}},
		"bad protocol":     {Protocols: []string{"a b"}},
		"negative size":    {MaxHandshakeSize: -1},
	} {
		if _, err := Dial(context.Background(), "ws://127.0.0.1:1/", cfg, nil); err == nil || errors.Is(err, ErrBadURL) {
			t.Errorf("%s: Dial: %v, want a config error", name, err)
		}
	}
}

// TestMaskedFrameFromServer: a server must not mask (RFC 6455 section 5.1);
// the client fails the connection with 1002.
func TestMaskedFrameFromServer(t *testing.T) {
	code := make(chan int, 1)
	url := hostile(t, func(p *peer) {
		p.accept("")
		p.write(wstest.AppendFrame(nil, true, 0, 1, []byte("masked")))
		c, err := p.expectClose()
		if err != nil {
			t.Error(err)
		}
		code <- c
		p.nc.Close()
	})
	_, r := dialRun(t, url, nil)
	if c := <-code; c != 1002 {
		t.Errorf("client sent close code %d, want 1002", c)
	}
	if e := r.close(t); e.code != 1002 {
		t.Errorf("close listener got %d, want 1002", e.code)
	}
	select {
	case m := <-r.msgs:
		t.Errorf("the masked message was delivered: %q", m.Payload)
	default:
	}
}

// TestFragmentedServerMessage checks that frames the server sent in the
// same write as its 101 wait for the listeners set after Dial, and that a
// fragmented message with a ping between its fragments arrives whole, the
// ping answered.
func TestFragmentedServerMessage(t *testing.T) {
	pong := make(chan clientFrame, 1)
	url := hostile(t, func(p *peer) {
		var b bytes.Buffer
		b.Write(serverFrame(false, 1, []byte("frag")))
		b.Write(serverFrame(false, 0, []byte("men")))
		b.Write(serverFrame(true, 9, []byte("between")))
		b.Write(serverFrame(true, 0, []byte("ted")))
		key := p.req.Header.Get("Sec-WebSocket-Key")
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + handshake.AcceptKey(key) + "\r\n\r\n"
		p.write(append([]byte(resp), b.Bytes()...)) // one write: frames behind the head
		f, err := p.readFrame()
		if err != nil {
			t.Error(err)
		}
		pong <- f
		p.finishClose()
	})
	loop := ws.NewLoop()
	c, err := Dial(context.Background(), url, nil, loop)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is read before the loop runs: the frames behind the 101
	// wait for the listeners.
	select {
	case <-pong:
		t.Fatal("the connection read before its loop ran")
	case <-time.After(100 * time.Millisecond):
	}
	r := newRecorder()
	r.listen(c)
	done := make(chan struct{})
	go func() { loop.Run(); close(done) }()
	defer func() { c.Close(1000, ""); <-done }()
	if m := r.message(t); m.Opcode != ws.OpText || string(m.Payload) != "fragmented" {
		t.Errorf("got %v %q, want text \"fragmented\"", m.Opcode, m.Payload)
	}
	if f := <-pong; f.op != 10 || !f.masked || string(f.payload) != "between" {
		t.Errorf("answer to the ping: opcode %d masked %v payload %q, want a masked pong \"between\"", f.op, f.masked, f.payload)
	}
	if p := <-r.pings; string(p) != "between" {
		t.Errorf("ping listener got %q", p)
	}
}

// TestServerInitiatedClose: the client echoes the server's close frame and
// then waits for the server to close the TCP connection first (RFC 6455
// section 7.1.1), closing its own end right after.
func TestServerInitiatedClose(t *testing.T) {
	listenerRan := make(chan struct{})
	result := make(chan string, 1)
	url := hostile(t, func(p *peer) {
		p.accept("")
		p.write(serverFrame(true, 8, wstest.ClosePayload(1001, "going away")))
		code, err := p.expectClose()
		if err != nil || code != 1001 {
			result <- "no echo of the close frame"
			return
		}
		<-listenerRan
		if p.isEOF(200 * time.Millisecond) {
			result <- "the client closed the TCP connection before the server"
			return
		}
		p.nc.(interface{ CloseWrite() error }).CloseWrite()
		if !p.isEOF(wstest.WaitTimeout) {
			result <- "the client kept the TCP connection after the server closed it"
			return
		}
		result <- ""
	})
	// The recorder's close listener is set before the loop runs: one set
	// here could come after the close it is to see.
	_, r := dialRun(t, url, nil)
	e := r.close(t)
	close(listenerRan)
	if e.code != 1001 || e.reason != "going away" {
		t.Errorf("close listener got %d %q, want 1001 \"going away\"", e.code, e.reason)
	}
	if s := <-result; s != "" {
		t.Fatal(s)
	}
}

// TestServerThatNeverCloses: after the close handshake the client waits
// for the server's TCP close only until the close timeout.
func TestServerThatNeverCloses(t *testing.T) {
	eof := make(chan bool, 1)
	url := hostile(t, func(p *peer) {
		p.accept("")
		p.expectClose()
		p.write(serverFrame(true, 8, wstest.ClosePayload(1000, "")))
		eof <- p.isEOF(wstest.WaitTimeout) // and never closes
	})
	cfg := &Config{}
	cfg.CloseTimeout = 50 * time.Millisecond
	c, r := dialRun(t, url, cfg)
	c.Close(1000, "")
	if e := r.close(t); e.code != 1000 {
		t.Errorf("close code %d, want 1000", e.code)
	}
	if !<-eof {
		t.Error("the client never closed the TCP connection")
	}
}

// TestServerOverTheLimits: a frame whose header announces more than
// MaxMessageSize, and a compressed message that inflates past it (a
// deflate bomb), both close with 1009 before the bytes are taken in.
func TestServerOverTheLimits(t *testing.T) {
	bomb := wstest.DeflateBomb(16) // about 16 KB, inflating to 16 MiB
	tests := []struct {
		name    string
		deflate bool
		frame   []byte
	}{
		{"frame header over the limit", false, []byte{0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0}}, // 4 GiB announced
		{"deflate bomb", true, append([]byte{0xc2, 126, byte(len(bomb) >> 8), byte(len(bomb))}, bomb...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := make(chan int, 1)
			url := hostile(t, func(p *peer) {
				ext := ""
				if tt.deflate {
					ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
				}
				p.accept(ext)
				p.write(tt.frame)
				c, _ := p.expectClose()
				code <- c
				p.nc.Close()
			})
			cfg := &Config{}
			cfg.MaxMessageSize = 1 << 20
			if tt.deflate {
				cfg.Deflate = &permessagedeflate.Config{}
			}
			before := servertest.TakeBaseline()
			_, r := dialRun(t, url, cfg)
			if c := <-code; c != 1009 {
				t.Errorf("client sent close code %d, want 1009", c)
			}
			if e := r.close(t); e.code != 1009 {
				t.Errorf("close listener got %d, want 1009", e.code)
			}
			before.Check(t, 0, wstest.WaitTimeout) // the client's connection and loop are gone
		})
	}
}

// TestSlowlorisServer: a server trickling its response head byte by byte
// is cut off by the handshake timeout, which bounds the whole exchange,
// not each read.
func TestSlowlorisServer(t *testing.T) {
	url := hostile(t, func(p *peer) {
		p.write([]byte("HTTP/1.1 101 Switching Protocols\r\nX-Slow: "))
		for range 100_000 { // until the client hangs up
			if p.write([]byte("s")) != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	_, err := Dial(context.Background(), url, &Config{HandshakeTimeout: 100 * time.Millisecond}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want it to wrap context.DeadlineExceeded", err)
	}
}

// TestTimeoutWhileDialing: a handshake timeout that ends the dial itself
// is reported as the context's deadline, as one later in the handshake.
func TestTimeoutWhileDialing(t *testing.T) {
	url := hostile(t, func(p *peer) {})
	_, err := Dial(context.Background(), url, &Config{HandshakeTimeout: time.Nanosecond}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want it to wrap context.DeadlineExceeded", err)
	}
}

// TestPreparedMessageIsMasked: a prepared message, encoded once for the
// server connections that share it, goes out of a client connection
// masked like any other frame.
func TestPreparedMessageIsMasked(t *testing.T) {
	got := make(chan clientFrame, 1)
	url := hostile(t, func(p *peer) {
		p.accept("")
		f, err := p.readFrame()
		if err != nil {
			t.Error(err)
		}
		got <- f
		p.finishClose()
	})
	c, _ := dialRun(t, url, nil)
	pm, err := ws.NewPreparedMessage(ws.OpText, []byte("prepared"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendPrepared(pm); err != nil {
		t.Fatal(err)
	}
	if f := <-got; !f.masked || f.op != 1 || string(f.payload) != "prepared" {
		t.Errorf("frame: masked %v opcode %d payload %q, want a masked text frame \"prepared\"", f.masked, f.op, f.payload)
	}
}

// TestConnectCallbackPanics: a panic in Connect's callback is logged and
// closes the connection with 1011, as one in a listener does.
func TestConnectCallbackPanics(t *testing.T) {
	code := make(chan int, 1)
	url := hostile(t, func(p *peer) {
		p.accept("")
		c, err := p.expectClose()
		if err != nil {
			t.Error(err)
		}
		code <- c
		p.write(serverFrame(true, 8, wstest.ClosePayload(c, "")))
		p.nc.Close()
	})
	loop := ws.NewLoop()
	Connect(context.Background(), url, nil, loop, func(c *ws.Conn, err error) {
		if err != nil {
			t.Error(err)
			return
		}
		panic("in the connect callback")
	})
	loop.Run() // until the connection is over
	if c := <-code; c != 1011 {
		t.Errorf("client sent close code %d, want 1011", c)
	}
}

// TestSlowlorisServerMidFrame: a server that stops inside a frame is cut
// off by IdleTimeout (1001), one that trickles a frame a byte at a time,
// never idle, by MessageTimeout (1008); either way the close code goes
// out, the close listener gets it, and no goroutine or socket of the
// client is left.
func TestSlowlorisServerMidFrame(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		trickle time.Duration // 0: stop after the first bytes
		code    int
	}{
		{"stalled inside a frame", func(c *Config) { c.IdleTimeout = 200 * time.Millisecond }, 0, 1001},
		{"trickling a frame", func(c *Config) { c.MessageTimeout = 300 * time.Millisecond }, 10 * time.Millisecond, 1008},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := servertest.TakeBaseline()
			sent := make(chan int, 1)
			url := hostile(t, func(p *peer) {
				p.accept("")
				p.write([]byte{0x81, 126, 0x03, 0xe8}) // a text of 1000 bytes
				p.write([]byte("sta"))
				stop := make(chan struct{})
				trickled := make(chan struct{})
				go func() {
					defer close(trickled)
					for tt.trickle > 0 {
						select {
						case <-stop:
							return
						case <-time.After(tt.trickle):
						}
						if p.write([]byte("l")) != nil {
							return
						}
					}
				}()
				code, err := p.expectClose()
				close(stop)
				<-trickled
				if err != nil {
					t.Errorf("no close frame from the client: %v", err)
				}
				sent <- code
				p.write(serverFrame(true, 8, wstest.ClosePayload(code, "")))
				p.nc.Close()
			})
			cfg := &Config{}
			tt.cfg(cfg)
			start := time.Now()
			_, r := dialRun(t, url, cfg)
			if e := r.close(t); int(e.code) != tt.code {
				t.Errorf("close listener got %d, want %d", e.code, tt.code)
			}
			if code := <-sent; code != tt.code {
				t.Errorf("client sent close code %d, want %d", code, tt.code)
			}
			if d := time.Since(start); d < 200*time.Millisecond {
				t.Errorf("closed after %v, before the timeout", d)
			}
			// The hostile listener stays open until the cleanup; the engine's
			// poller goroutine ends a moment after its last connection.
			before.Check(t, 1, wstest.WaitTimeout)
		})
	}
}
