package server

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/handshake"
)

func TestFrontMalformedRequest(t *testing.T) {
	h := start(t, Config{}, echo)
	resp, err := wstest.RoundTrip(h.DialTCP(), []byte("NOT A REQUEST\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

// A plain request read by the fast path is replayed to net/http, and the
// kept-alive connection goes on serving later requests there.
func TestFrontReplaysPlainRequests(t *testing.T) {
	h := start(t, Config{}, echo)
	nc := h.DialTCP()
	nc.SetDeadline(time.Now().Add(wait))
	// Two requests in one write: the second is in the fast path's buffer.
	io.WriteString(nc, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(nc)
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("status %d, want 426", resp.StatusCode)
		}
	}
	io.WriteString(nc, "GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("third request: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "WebSocket endpoint") {
		t.Fatalf("body %q", body)
	}
}

// TestFrontFastAndSlowPathsAgree sends the same heads whole in one write
// (the fast path parses them with httphead when it can) and split over
// two writes (always http.ReadRequest): the answers' statuses and the
// requests the connection callback sees are the same.
func TestFrontFastAndSlowPathsAgree(t *testing.T) {
	seen := make(chan *http.Request, 1)
	h := start(t, Config{}, func(s *Server) {
		s.OnConnection(func(_ *Server, c *Conn, req *handshake.Request) {
			r := req.HTTP
			seen <- r
			c.Close(1000, "")
		})
	})
	upgrade, _ := wstest.Request(h.addr, "/p?q=1", http.Header{"Origin": {"http://o"}, "Pragma": {"no-cache"}, "X-Two": {"a", "b"}})
	for _, c := range []struct {
		name, head string
		status     int
	}{
		{"upgrade", string(upgrade), http.StatusSwitchingProtocols},
		{"folded", strings.Replace(string(upgrade), "\r\nOrigin: http://o", "\r\nOrigin: http://o\r\n x", 1), http.StatusSwitchingProtocols},
		{"two hosts", strings.Replace(string(upgrade), "\r\n\r\n", "\r\nHost: y\r\n\r\n", 1), http.StatusBadRequest},
		{"bad key", strings.Replace(string(upgrade), "Sec-WebSocket-Key: ", "Sec-WebSocket-Key: x", 1), http.StatusBadRequest},
		{"no version", strings.Replace(string(upgrade), "Sec-WebSocket-Version: 13\r\n", "", 1), http.StatusUpgradeRequired},
		{"post", strings.Replace(string(upgrade), "GET ", "POST ", 1), http.StatusMethodNotAllowed},
		{"bare LF", strings.ReplaceAll(string(upgrade), "\r\n", "\n"), http.StatusSwitchingProtocols},
	} {
		var reqs [2]*http.Request
		for i, split := range []bool{false, true} {
			nc := h.DialTCP()
			nc.SetDeadline(time.Now().Add(wait))
			if split {
				io.WriteString(nc, c.head[:10])
				// Most likely the server's first read gets these only; if
				// not, both sends take the fast path and still agree.
				time.Sleep(20 * time.Millisecond)
			}
			rest := c.head
			if split {
				rest = c.head[10:]
			}
			resp, err := wstest.RoundTrip(nc, []byte(rest))
			nc.Close()
			if err != nil {
				t.Fatalf("%s (split %v): %v", c.name, split, err)
			}
			if resp.StatusCode != c.status {
				t.Errorf("%s (split %v): status %d, want %d", c.name, split, resp.StatusCode, c.status)
			}
			if resp.StatusCode == http.StatusSwitchingProtocols {
				reqs[i] = <-seen
			}
		}
		if reqs[0] == nil {
			continue
		}
		opts := cmp.Options{cmpopts.IgnoreUnexported(http.Request{}), cmpopts.IgnoreFields(http.Request{}, "Body", "RemoteAddr")}
		if d := cmp.Diff(reqs[1], reqs[0], opts); d != "" {
			t.Errorf("%s: the request read whole differs from the one read split (-split +whole):\n%s", c.name, d)
		}
	}
}
