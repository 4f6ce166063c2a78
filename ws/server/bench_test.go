package server

import (
	"io"
	"net"
	"testing"

	"unievent.dev/internal/wstest"
)

// BenchmarkEcho measures a whole round trip over loopback: the client
// writes a batch of masked frames, the server decodes, dispatches on its
// loop, echoes, and the client reads the replies. The client side is
// pre-encoded and reads into a fixed buffer, so allocs/op are the
// server's.
func BenchmarkEcho(b *testing.B) {
	for _, bc := range []struct {
		name  string
		size  int
		batch int
	}{
		{"16B", 16, 1},
		{"16Bx32", 16, 32},
		{"1KiB", 1024, 1},
		{"64KiB", 64 << 10, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := startBench(b)
			nc, err := net.Dial("tcp", h.addr)
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

// BenchmarkChurn measures a whole connection's life: dial, upgrade, one
// close handshake, TCP close (the bench's churn scenario, one worker).
func BenchmarkChurn(b *testing.B) {
	h := startBench(b)
	req, _ := wstest.Request(h.addr, "/", nil)
	closeFrame := wstest.AppendFrame(nil, true, 0, 8, wstest.ClosePayload(1000, ""))
	buf := make([]byte, 4096)
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
}
