package fuzz

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"unievent.dev/internal/httphead"
)

// FuzzRequestHead is a differential test of the server's own request-head
// parser (internal/httphead, ws/server's fast path) against
// http.ReadRequest: the bytes are what a client sent first. Where the
// fast path takes them (a head ends in them, httphead.ParseRequest parses
// it), http.ReadRequest must read the same bytes as the same head and
// return an equal request: every exported field, Body http.NoBody, no
// context of its own; and a head httphead parses again from its own
// request's fields would say the same. Where httphead declines, the
// server reads with net/http itself, so there is nothing to compare.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		hsValidUpgrade + "\r\n",
		hsValidUpgrade + "\r\n\x81\x85abcd",
		"GET /chat?room=1&x=%41 HTTP/1.1\r\nhost: a.example:80\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://a.example\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\nX: 1\r\nx: 2\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\nUser-Agent: \t Mozilla/5.0 (X11)  \t\r\nA_b-C: \r\n\r\n",
		"GET http://example.com/ HTTP/1.1\r\nHost: other\r\n\r\n",
		"GET // HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nFolded: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nSec-Websocket-Key-With-A-Very-Long-Name-Beyond-Sixty-Four-Bytes-Of-Text: y\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		end := httphead.End(data)
		if end < 0 {
			return
		}
		head := string(data[:end])
		got, ok := httphead.ParseRequest(head)
		if !ok {
			if got != nil {
				t.Fatalf("ParseRequest declined %q but returned a request", head)
			}
			return
		}
		rd := bytes.NewReader(data)
		br := bufio.NewReader(rd)
		want, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("ParseRequest took %q, http.ReadRequest refused it: %v", head, err)
		}
		if used := len(data) - rd.Len() - br.Buffered(); used != end {
			t.Fatalf("%q: http.ReadRequest read a head of %d bytes, httphead %d", data, used, end)
		}
		opts := cmp.Options{
			cmpopts.IgnoreUnexported(http.Request{}),
			// Body is compared below: http.NoBody's type is unexported.
			cmpopts.IgnoreFields(http.Request{}, "Body"),
		}
		if d := cmp.Diff(want, got, opts); d != "" {
			t.Fatalf("%q: request differs from http.ReadRequest's (-want +got):\n%s", head, d)
		}
		if got.Body != http.NoBody || want.Body != http.NoBody {
			t.Fatalf("%q: Body %T, net/http's %T", head, got.Body, want.Body)
		}
		if got.Context() != context.Background() {
			t.Fatalf("%q: the request has a context of its own", head)
		}
		if b, err := io.ReadAll(got.Body); err != nil || len(b) != 0 {
			t.Fatalf("%q: body %q, %v", head, b, err)
		}
		// The header values are pieces of head: appending to one must not
		// overwrite another.
		for k, vs := range got.Header {
			_ = append(vs, "appended")
			if !cmp.Equal(want.Header[k], got.Header[k]) {
				t.Fatalf("%q: appending to %s changed the header: %q", head, k, got.Header)
			}
		}
		// A well-formed head as net/http would write the request parses
		// the same: the fast path is stable over its own output.
		var sb strings.Builder
		sb.WriteString("GET " + got.RequestURI + " HTTP/1.1\r\n")
		if got.Host != "" && got.URL.Host == "" {
			sb.WriteString("Host: " + got.Host + "\r\n")
		}
		for k, vs := range got.Header {
			for _, v := range vs {
				sb.WriteString(k + ": " + v + "\r\n")
			}
		}
		sb.WriteString("\r\n")
		again, ok := httphead.ParseRequest(sb.String())
		if !ok {
			t.Fatalf("ParseRequest declined the head written back from %q: %q", head, sb.String())
		}
		if d := cmp.Diff(got.Header, again.Header); d != "" {
			t.Fatalf("%q written back as %q: header differs (-first +again):\n%s", head, sb.String(), d)
		}
	})
}
