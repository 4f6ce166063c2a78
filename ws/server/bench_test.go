package server

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
)

// BenchmarkEcho measures a whole round trip over loopback: the client
// writes a batch of masked frames, the server decodes, dispatches on its
// loop, echoes, and the client reads the replies. The client side is
// pre-encoded and reads into a fixed buffer, so allocs/op are the
// server's.
func BenchmarkEcho(b *testing.B) {
	benchEcho(b, Config{}, func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) })
}

// BenchmarkEchoTLS is BenchmarkEcho over wss: a connection on a goroutine
// of its own, reading through crypto/tls.
func BenchmarkEchoTLS(b *testing.B) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	cert := ts.TLS.Certificates[0]
	ts.Close()
	cfg := Config{Locations: []Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}}
	benchEcho(b, cfg, func(addr string) (net.Conn, error) {
		return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	})
}

// BenchmarkEchoSendMessage is BenchmarkEcho with an echo that passes the
// received message back with SendMessage: a payload reassembled from
// several reads (64 KiB, over 32 KiB reads) goes to the send queue
// without a copy; one that arrived whole in a read is copied as by Send.
func BenchmarkEchoSendMessage(b *testing.B) {
	benchEchoWith(b, Config{}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.SendMessage(m) })
		})
	}, func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) })
}

func benchEcho(b *testing.B, cfg Config, dial func(addr string) (net.Conn, error)) {
	benchEchoWith(b, cfg, echo, dial)
}

func benchEchoWith(b *testing.B, cfg Config, setup func(*Server), dial func(addr string) (net.Conn, error)) {
	for _, bc := range []struct {
		name  string
		size  int
		batch int
	}{
		{"16B", 16, 1},
		{"16Bx32", 16, 32},
		{"1KiB", 1024, 1},
		{"4KiB", 4 << 10, 1},
		{"64KiB", 64 << 10, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := startBenchWith(b, cfg, setup)
			nc, err := dial(h.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			c, err := wstest.Handshake(nc, "/", nil)
			if err != nil {
				b.Fatal(err)
			}
			var req []byte
			for range bc.batch {
				req = wstest.AppendFrame(req, true, 0, 2, make([]byte, bc.size))
			}
			hdr := 2
			switch {
			case bc.size > 65535:
				hdr = 10
			case bc.size > 125:
				hdr = 4
			}
			reply := make([]byte, bc.batch*(hdr+bc.size))
			r := c.Reader()
			b.SetBytes(int64(bc.batch * bc.size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := nc.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r, reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEchoDeflate is BenchmarkEcho with permessage-deflate (level 1):
// the client sends a compressed 1 KiB or 16 KiB JSON message, the server
// inflates it, echoes it, compresses the echo (outside its loop) and the
// client reads the compressed reply. With and without the server's
// context takeover.
func BenchmarkEchoDeflate(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, takeover := range []bool{true, false} {
			name := map[int]string{1 << 10: "1KiB", 16 << 10: "16KiB"}[size]
			offer := "permessage-deflate"
			if takeover {
				name += "/takeover"
			} else {
				name += "/no-takeover"
				offer += "; server_no_context_takeover"
			}
			b.Run(name, func(b *testing.B) {
				var cfg Config
				cfg.Deflate = &permessagedeflate.Config{Level: 1}
				h := startBenchConfig(b, cfg)
				nc, err := net.Dial("tcp", h.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				c, err := wstest.Handshake(nc, "/", http.Header{"Sec-WebSocket-Extensions": {offer}})
				if err != nil {
					b.Fatal(err)
				}
				const item = `{"id":12345,"name":"benchmark","tags":["a","b"],"ok":true},`
				msg := []byte(strings.Repeat(item, size/len(item)+1)[:size])
				req := wstest.AppendFrame(nil, true, 4, 1, wstest.Deflate(msg))
				fr := &frameReader{r: bufio.NewReader(c.Reader())}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := nc.Write(req); err != nil {
						b.Fatal(err)
					}
					if _, err := fr.next(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// frameReader reads unmasked frames from the server without allocating in
// steady state, so that allocs/op are the server's.
type frameReader struct {
	r   *bufio.Reader
	hdr [10]byte
	buf []byte
}

// next returns the next frame's payload, valid until the next call.
func (f *frameReader) next() ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:2]); err != nil {
		return nil, err
	}
	n := int(f.hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(f.r, f.hdr[2:4]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint16(f.hdr[2:4]))
	case 127:
		if _, err := io.ReadFull(f.r, f.hdr[2:10]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint64(f.hdr[2:10]))
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	_, err := io.ReadFull(f.r, f.buf)
	return f.buf, err
}

// BenchmarkChurn measures a whole connection's life: dial, upgrade, one
// close handshake, TCP close (the bench's churn scenario, one worker).
// goroutines/op counts the goroutines started meanwhile (the client's
// dial starts none): a connection served by a waiting worker starts
// none either.
func BenchmarkChurn(b *testing.B) {
	h := startBench(b)
	req, _ := wstest.Request(h.addr, "/", nil)
	closeFrame := wstest.AppendFrame(nil, true, 0, 8, wstest.ClosePayload(1000, ""))
	buf := make([]byte, 4096)
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	b.ReportAllocs()
	for b.Loop() {
		nc, err := net.Dial("tcp", h.addr)
		if err != nil {
			b.Fatal(err)
		}
		nc.Write(req)
		// The 101 response, then the close frame after ours.
		n, err := nc.Read(buf)
		if err != nil || n < 12 || string(buf[9:12]) != "101" {
			b.Fatalf("handshake: %q %v", buf[:n], err)
		}
		nc.Write(closeFrame)
		for {
			if _, err := nc.Read(buf); err != nil {
				break
			}
		}
		nc.Close()
	}
	metrics.Read(created)
	b.ReportMetric(float64(created[0].Value.Uint64()-before)/float64(b.N), "goroutines/op")
}

// BenchmarkServeConn measures the server's whole part of a connection's
// life, from the accepted socket to its close: the first read, the
// request head, the upgrade and the connection callbacks, the 101, the
// client's close frame (sent behind its request) and the answer, the
// close. Dialing, accepting and the client's reads are left out of the
// timer, so allocs/op are the server's per connection. With browser, the
// request is Chrome's (more and longer header fields).
func BenchmarkServeConn(b *testing.B) {
	for _, bc := range []struct {
		name string
		hdr  http.Header
	}{
		{"minimal", nil},
		{"browser", http.Header{
			"Origin":                   {"http://localhost:8080"},
			"Pragma":                   {"no-cache"},
			"Cache-Control":            {"no-cache"},
			"User-Agent":               {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
			"Accept-Encoding":          {"gzip, deflate, br, zstd"},
			"Accept-Language":          {"en-US,en;q=0.9"},
			"Sec-WebSocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := startBench(b)
			fe := h.s.front()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			req, _ := wstest.Request(h.addr, "/", bc.hdr)
			req = wstest.AppendFrame(req, true, 0, 8, wstest.ClosePayload(1000, ""))
			buf := make([]byte, 4096)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				sc, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				c.Write(req)
				b.StartTimer()
				h.s.serveConn(sc, fe)
				b.StopTimer()
				n, _ := io.ReadFull(c, buf[:12])
				if n < 12 || string(buf[9:12]) != "101" {
					b.Fatalf("handshake: %q", buf[:n])
				}
				for {
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				c.Close()
				b.StartTimer()
			}
		})
	}
}
