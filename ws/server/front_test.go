package server

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
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
