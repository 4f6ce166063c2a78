package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/permessagedeflate"
)

// TestDeflateFinalBlock: a client whose compressor ends every message with
// a block that has BFINAL set instead of an empty stored block (RFC 7692
// section 7.2.3.4, compress/flate's Close output as it is) has each
// message delivered, with and without client context takeover, in one
// frame and split into two frames at every byte of its payload.
func TestDeflateFinalBlock(t *testing.T) {
	var cfg Config
	cfg.Deflate = &permessagedeflate.Config{Threshold: 1}
	h := start(t, cfg, echo)
	msg := []byte(strings.Repeat(`{"event":"final block","seq":12345},`, 8))
	for _, noTakeover := range []bool{false, true} {
		offer := "permessage-deflate"
		if noTakeover {
			offer += "; client_no_context_takeover"
		}
		t.Run(offer, func(t *testing.T) {
			c := h.dial(http.Header{"Sec-WebSocket-Extensions": {offer}})
			out := wstest.Deflater{FinalBlock: true, NoContextTakeover: noTakeover}
			in := &wstest.Inflater{}
			// The first message goes in one frame. With context
			// takeover, later payloads are back-references into it.
			for cut := -1; ; cut++ {
				p := out.Deflate(msg)
				if cut > len(p) {
					break
				}
				var frames []byte
				if cut < 0 {
					frames = wstest.AppendFrame(nil, true, 4, 1, p)
				} else {
					frames = wstest.AppendFrame(nil, false, 4, 1, p[:cut])
					frames = wstest.AppendFrame(frames, true, 0, 0, p[cut:])
				}
				if err := c.Write(frames); err != nil {
					t.Fatal(err)
				}
				op, echoed, rsv1, err := c.ReadMessage(wait)
				if err != nil || op != 1 {
					t.Fatalf("split at %d of % x: op %d, %v", cut, p, op, err)
				}
				if rsv1 {
					if echoed, _, err = in.Inflate(echoed); err != nil {
						t.Fatalf("split at %d: inflate the echo: %v", cut, err)
					}
				}
				if !bytes.Equal(echoed, msg) {
					t.Fatalf("split at %d: echo %q", cut, echoed)
				}
			}
		})
	}
}
