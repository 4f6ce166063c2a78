package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/permessagedeflate"
)

func TestDeflateEcho(t *testing.T) {
	cases := []struct {
		offer      string
		answer     string
		noTakeover bool
		window     int
	}{
		{"permessage-deflate", "permessage-deflate", false, 15},
		{"permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover", true, 15},
		{"permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9", false, 9},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate", false, 15},
		{"x-unknown, permessage-deflate; bogus, permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
			"permessage-deflate; server_no_context_takeover; server_max_window_bits=10", true, 10},
	}
	var cfg Config
	cfg.Deflate = &permessagedeflate.Config{Level: 1, Threshold: 1}
	h := start(t, cfg, echo)
	for _, tc := range cases {
		t.Run(tc.offer, func(t *testing.T) {
			c := dialAt(t, h.addr, "/", http.Header{"Sec-WebSocket-Extensions": {tc.offer}})
			defer c.Close()
			if got := c.Resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.answer {
				t.Fatalf("answer %q, want %q", got, tc.answer)
			}
			in := &wstest.Inflater{NoContextTakeover: tc.noTakeover}
			for i, n := range []int{16, 1024, 20000, 70000, 1024} {
				msg := []byte(strings.Repeat(fmt.Sprintf(`{"n":%d,"v":"hello world"},`, i), n/26+1)[:n])
				// The client compresses too (no context takeover on
				// its side: a fresh compressor each time).
				frame := wstest.AppendFrame(nil, true, 4, 1, wstest.Deflate(msg))
				if err := c.Write(frame); err != nil {
					t.Fatal(err)
				}
				op, p, rsv1, err := c.ReadMessage(wait)
				if err != nil || op != 1 || !rsv1 {
					t.Fatalf("message %d: op %d rsv1 %v %v", i, op, rsv1, err)
				}
				out, dist, err := in.Inflate(p)
				if err != nil {
					t.Fatalf("message %d: inflate: %v", i, err)
				}
				if !bytes.Equal(out, msg) {
					t.Fatalf("message %d: echo differs", i)
				}
				if dist > 1<<tc.window {
					t.Fatalf("message %d: back-reference of %d bytes beyond the %d-bit window", i, dist, tc.window)
				}
			}
		})
	}
}

func TestDeflateBadInput(t *testing.T) {
	var cfg Config
	cfg.Deflate = &permessagedeflate.Config{}
	cfg.MaxMessageSize = 1 << 16
	h := start(t, cfg, echo)
	offer := http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate"}}
	cases := []struct {
		name  string
		frame []byte
		code  int
	}{
		{"corrupt data", wstest.AppendFrame(nil, true, 4, 2, []byte{0xff, 0xff, 0xff, 0xff}), 1007},
		{"bomb", wstest.AppendFrame(nil, true, 4, 2, wstest.Deflate(make([]byte, 1<<20))), 1009},
		{"rsv1 on continuation", append(wstest.AppendFrame(nil, false, 4, 2, wstest.Deflate([]byte("ab"))), wstest.AppendFrame(nil, true, 4, 0, nil)...), 1002},
		{"rsv1 on ping", wstest.AppendFrame(nil, true, 4, 9, nil), 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(offer)
			c.Write(tc.frame)
			if code, _, err := c.ExpectClose(wait); err != nil || code != tc.code {
				t.Fatalf("close %d %v, want %d", code, err, tc.code)
			}
		})
	}
	// Without the extension, RSV1 is a protocol error.
	c := h.dial(nil)
	c.Write(wstest.AppendFrame(nil, true, 4, 1, wstest.Deflate([]byte("x"))))
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1002 {
		t.Fatalf("RSV1 without the extension: close %d %v", code, err)
	}
}
