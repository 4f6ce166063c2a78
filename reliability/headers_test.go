package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/ws/server"
)

// Item 2: an oversized request line or header, or too many header fields,
// gets 431 (a malformed line 400), the connection is closed, and the
// server allocates nothing beyond the limit whatever the client sends.
func TestOversizedAndMalformedRequests(t *testing.T) {
	limit := server.DefaultConfig().HTTP.MaxHeaderBytes
	valid := "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	var many, tiny strings.Builder
	for i := range 200_000 { // 2.5 MB of small fields
		fmt.Fprintf(&many, "X-%d: v\r\n", i)
	}
	for range 1_000_000 { // 4 MB of the smallest fields there are
		tiny.WriteString("a:\r\n")
	}
	// What net/http allocates is bounded by the limit: the bytes it reads
	// (the limit plus 4 KiB of read-ahead) and, for a request cut at the
	// limit, its connection state and the fields parsed so far. A field
	// costs more parsed (a map entry, a key, a value slice) than on the
	// wire, up to about 25 times for the smallest, so a flood of tiny fields
	// gets a larger, still fixed, bound.
	plain := int64(limit + 4096 + 96<<10)
	fields := int64(25*(limit+4096) + 96<<10)
	cases := []struct {
		name     string
		request  string
		status   int
		maxAlloc int64
	}{
		{"request line of 1 MiB", "GET /" + strings.Repeat("a", 1<<20) + " HTTP/1.1\r\n" + valid + "\r\n", 431, plain},
		{"header field of 1 MiB", "GET / HTTP/1.1\r\n" + valid + "X-Big: " + strings.Repeat("b", 1<<20) + "\r\n\r\n", 431, plain},
		{"header just over the limit", "GET / HTTP/1.1\r\n" + valid + "X-Big: " + strings.Repeat("b", limit+4096) + "\r\n\r\n", 431, plain},
		{"an endless header", "GET / HTTP/1.1\r\n" + valid + "X-Endless: " + strings.Repeat("c", 4<<20), 431, plain},
		{"200,000 header fields", "GET / HTTP/1.1\r\n" + valid + many.String() + "\r\n", 431, fields},
		{"1,000,000 empty header fields", "GET / HTTP/1.1\r\n" + valid + tiny.String() + "\r\n", 431, fields},
		// Within the byte limit, the field count is bounded on its own.
		{"1,500 empty header fields within the byte limit", "GET / HTTP/1.1\r\n" + valid + tiny.String()[:1500*4] + "\r\n", 431, fields},
		{"64 KiB of binary garbage", strings.Repeat("\x00\xff\x16\x03", 16<<10), 431, plain},
		{"malformed request line", "GET/HTTP/1.1\r\n" + valid + "\r\n", 400, plain},
		{"malformed header line", "GET / HTTP/1.1\r\n" + valid + "no colon here\r\n\r\n", 400, plain},
		{"binary garbage line", "\x00\xff\x16\x03\x01 garbage\r\n\r\n", 400, plain},
	}
	h := start(t, server.Config{}, echo)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := servertest.TakeBaseline()
			req := []byte(tc.request)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before) // no collection: the pools stay warm
			nc := dialTCP(t, h.addr)
			go func() {
				nc.SetWriteDeadline(time.Now().Add(wait))
				nc.Write(req) // fails once the server has answered and closed
			}()
			nc.SetReadDeadline(time.Now().Add(wait))
			br := bufio.NewReaderSize(nc, 512)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if resp.Header.Get("Connection") != "close" && !resp.Close {
				t.Errorf("the response does not say Connection: close")
			}
			// The server closes the connection (net/http waits up to half a
			// second for the client to stop sending, so that its close does
			// not turn into a reset that destroys the response).
			start := time.Now()
			if _, err := io.Copy(io.Discard, br); err != nil && time.Since(start) >= wait {
				t.Fatalf("the connection is still open after %v", wait)
			}
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes sent: status %d, %d bytes allocated", len(req), resp.StatusCode, allocated)
			if int64(allocated) > tc.maxAlloc {
				t.Errorf("%d bytes allocated for a request cut at %d bytes, want at most %d", allocated, limit, tc.maxAlloc)
			}
			nc.Close()
			base.Check(t, 0, wait)
		})
	}
}
