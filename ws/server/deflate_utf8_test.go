package server

import (
	"net/http"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/permessagedeflate"
)

// A compressed text message is validated as UTF-8 as it is inflated (the
// ws package comment): invalid UTF-8 in it, also across fragments, closes
// with 1007. Found by the interop suite (interop/node,
// invalid-utf8-fragmented-1007 with Node's ws compressing).
func TestDeflateInvalidUTF8(t *testing.T) {
	var cfg Config
	cfg.Deflate = &permessagedeflate.Config{}
	h := start(t, cfg, echo)
	offer := http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate"}}
	text := append(append([]byte("ok κόσμε "), 0xe6, 0x97, 'A'), " and more text after it"...)
	z := wstest.Deflate(text)
	half := len(z) / 2
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"one frame", wstest.AppendFrame(nil, true, 4, 1, z)},
		{"two fragments", append(wstest.AppendFrame(nil, false, 4, 1, z[:half]), wstest.AppendFrame(nil, true, 0, 0, z[half:])...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(offer)
			defer c.Close()
			if err := c.Write(tc.raw); err != nil {
				t.Fatal(err)
			}
			if code, _, err := c.ExpectClose(wait); err != nil || code != 1007 {
				t.Fatalf("close %d %v, want 1007", code, err)
			}
		})
	}
}

// Fail-fast inside a compressed message: the first fragment inflates to
// invalid UTF-8, and the connection closes with 1007 before the message
// is over (the last fragment never comes).
func TestDeflateInvalidUTF8FailsFast(t *testing.T) {
	var cfg Config
	cfg.Deflate = &permessagedeflate.Config{}
	h := start(t, cfg, echo)
	c := h.dial(http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate"}})
	defer c.Close()
	text := append([]byte("valid start "), 0xff, 0xfe)
	text = append(text, make([]byte, 4096)...) // enough that the bad bytes inflate from the first half
	z := wstest.Deflate(text)
	if err := c.Write(wstest.AppendFrame(nil, false, 4, 1, z[:len(z)-2])); err != nil {
		t.Fatal(err)
	}
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1007 {
		t.Fatalf("close %d %v, want 1007 before the message ends", code, err)
	}
}
