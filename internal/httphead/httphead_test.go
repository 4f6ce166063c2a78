package httphead

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const upgrade = "GET /chat HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

// browser is an upgrade request as Chrome sends it.
const browser = "GET /ws?room=1 HTTP/1.1\r\n" +
	"Host: localhost:8080\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: http://localhost:8080\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

func TestParseRequestAsNetHTTP(t *testing.T) {
	for _, head := range []string{
		upgrade,
		browser,
		"GET / HTTP/1.1\r\n\r\n",
		"GET /a%20b?q=%41#frag HTTP/1.1\r\nhost: x\r\n\r\n",
		"GET // HTTP/1.1\r\nHOST:x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache, x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, CLOSE\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n",
		"GET / HTTP/1.1\r\nx-a: 1\r\nX-A: 2\r\nx-A:3\r\nE:\r\nT: \t v \t \r\n\r\n",
		"GET / HTTP/1.1\r\nHost: \r\n\r\n",
		"GET / HTTP/1.1\r\nA_b.c!~: v\r\n\r\n",
	} {
		got, ok := ParseRequest(head)
		if !ok {
			t.Errorf("ParseRequest declined %q", head)
			continue
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("http.ReadRequest(%q): %v", head, err)
		}
		opts := cmp.Options{cmpopts.IgnoreUnexported(http.Request{}), cmpopts.IgnoreFields(http.Request{}, "Body")}
		if d := cmp.Diff(want, got, opts); d != "" {
			t.Errorf("%q (-net/http +httphead):\n%s", head, d)
		}
		if got.Body != http.NoBody {
			t.Errorf("%q: Body %T", head, got.Body)
		}
	}
}

// TestParseRequestDeclines lists heads the fast path leaves to net/http:
// those net/http refuses, reads differently from their bytes, or gives a
// body.
func TestParseRequestDeclines(t *testing.T) {
	for _, head := range []string{
		"",
		"\r\n\r\n",
		"GET / HTTP/1.1\r\n",                                     // no end
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nmore",                  // not the head alone
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",                     // method
		"GET / HTTP/1.0\r\nHost: x\r\n\r\n",                      // version
		"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",                     // request line
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",                     // request line
		"GET  HTTP/1.1\r\nHost: x\r\n\r\n",                       // no target
		"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",              // absolute form
		"GET * HTTP/1.1\r\nHost: x\r\n\r\n",                      // asterisk form
		"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",                  // non-ASCII target
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",                   // url.ParseRequestURI refuses
		"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",           // Host twice
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", // a body
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",   // a body
		"GET / HTTP/1.1\r\nTrailer: x\r\n\r\n",                   // trailer
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",                   // folded
		"GET / HTTP/1.1\r\n A: b\r\n\r\n",                        // leading space
		"GET / HTTP/1.1\r\nA : b\r\n\r\n",                        // space before colon
		"GET / HTTP/1.1\r\n: b\r\n\r\n",                          // no name
		"GET / HTTP/1.1\r\nA b\r\n\r\n",                          // no colon
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",                      // bare CR
		"GET / HTTP/1.1\r\nA: b\nc: d\r\n\r\n",                   // bare LF
		"GET / HTTP/1.1\nHost: x\r\n\r\n",                        // bare LF
		"GET / HTTP/1.1\r\nA: caf\xc3\xa9\r\n\r\n",               // obs-text
		"GET / HTTP/1.1\r\nA: \x00\r\n\r\n",                      // control
		"GET / HTTP/1.1\r\nA: \x7f\r\n\r\n",                      // DEL
		"GET / HTTP/1.1\r\n" + strings.Repeat("n", 65) + ": v\r\n\r\n",
	} {
		if r, ok := ParseRequest(head); ok || r != nil {
			t.Errorf("ParseRequest(%q) = %v, %v; want it declined", head, r, ok)
		}
	}
}

func TestEnd(t *testing.T) {
	for _, c := range []struct {
		b    string
		want int
	}{
		{"", -1},
		{"GET / HTTP/1.1\r\n", -1},
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"GET / HTTP/1.1\r\n\r\n\x81\x80", 18},
		{"GET / HTTP/1.1\n\n\r\n\r\n", 20},
	} {
		if got := End([]byte(c.b)); got != c.want {
			t.Errorf("End(%q) = %d, want %d", c.b, got, c.want)
		}
	}
}

// TestParseRequestCommonKeysAllocate checks that the fields of a
// browser's upgrade request cost no allocation for their names: all are
// known constants or already canonical in the head.
func TestParseRequestCommonKeysAllocate(t *testing.T) {
	for _, k := range []string{"Host", "Upgrade", "Connection", "Origin", "User-Agent",
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol",
		"Accept-Encoding", "Accept-Language", "Cache-Control", "Pragma", "X-Real-Ip", "Sec-Fetch-Site"} {
		if commonKey([]byte(k)) != k {
			t.Errorf("%s is not a common key", k)
		}
		if got, ok := canonicalKey(strings.ToLower(k)); !ok || got != k {
			t.Errorf("canonicalKey(%q) = %q, %v", strings.ToLower(k), got, ok)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { canonicalKey("sec-websocket-version") })
	if allocs != 0 {
		t.Errorf("canonicalKey(sec-websocket-version) allocates %v times", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() { canonicalKey("Sec-WebSocket-Key") })
	if allocs != 0 {
		t.Errorf("canonicalKey(Sec-WebSocket-Key) allocates %v times", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() { canonicalKey("X-Already-Canonical") })
	if allocs != 0 {
		t.Errorf("canonicalKey of a canonical name allocates %v times", allocs)
	}
}

// BenchmarkParseRequest compares the fast path's parse of an upgrade
// request (with the one string of the head it keeps) with net/http's.
func BenchmarkParseRequest(b *testing.B) {
	for _, c := range []struct{ name, head string }{{"upgrade", upgrade}, {"browser", browser}} {
		raw := []byte(c.head)
		b.Run(c.name+"/httphead", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := ParseRequest(string(raw[:End(raw)])); !ok {
					b.Fatal("declined")
				}
			}
		})
		b.Run(c.name+"/net-http", func(b *testing.B) {
			b.ReportAllocs()
			br := bufio.NewReader(nil)
			rd := strings.NewReader("")
			for b.Loop() {
				rd.Reset(c.head)
				br.Reset(rd)
				if _, err := http.ReadRequest(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
