package main

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"unievent.dev/autobahn"
	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

const wait = 10 * time.Second

// testee runs the testee on a loopback port (servertest).
func testee(t *testing.T) *servertest.Running[*server.Server] {
	t.Helper()
	return servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		return autobahn.NewTestee(server.Location{Host: "127.0.0.1"}, loop)
	})
}

// The testee must take every valid permessage-deflate offer, whatever
// window bits it asks for.
func TestAcceptsEveryValidOffer(t *testing.T) {
	r := testee(t)
	for _, tc := range []struct{ offer, answer string }{
		{"permessage-deflate", "permessage-deflate"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate"},
		{"permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8"},
		{"permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9"},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=15",
			"permessage-deflate; server_max_window_bits=15"},
	} {
		c := r.Dial("/", http.Header{"Sec-Websocket-Extensions": {tc.offer}})
		if got := c.Resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.answer {
			t.Errorf("offer %q: answer %q, want %q", tc.offer, got, tc.answer)
		}
		c.Close()
	}
}

// deflate compresses p as one permessage-deflate message (RFC 7692
// section 7.2.1: a sync flush with its 00 00 ff ff tail removed).
func deflate(t *testing.T, p []byte) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func inflate(t *testing.T, p []byte) []byte {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCompressedEcho(t *testing.T) {
	r := testee(t)
	c := r.Dial("/", http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; server_max_window_bits=9"}})
	msg := bytes.Repeat([]byte("Autobahn echo, compressed both ways. "), 2000)
	if err := c.Write(wstest.AppendFrame(nil, true, 4, 1, deflate(t, msg))); err != nil {
		t.Fatal(err)
	}
	op, p, rsv1, err := c.ReadMessage(wait)
	if err != nil {
		t.Fatal(err)
	}
	if op != 1 || !rsv1 {
		t.Fatalf("got opcode %d, rsv1 %v; want a compressed text message", op, rsv1)
	}
	if got := inflate(t, p); !bytes.Equal(got, msg) {
		t.Fatalf("echo inflates to %d bytes, want the %d sent", len(got), len(msg))
	}
}

// Case 9 sends up to 16 MiB in one frame, and 4 MiB in 64-byte fragments.
// The defaults (ws.DefaultConfig().MaxMessageSize and MaxFragments) would
// refuse both messages below; the testee's limits take them.
func TestLargeMessages(t *testing.T) {
	r := testee(t)
	c := r.Dial("/", nil)

	big := make([]byte, 2*ws.DefaultConfig().MaxMessageSize)
	var rng rand.ChaCha8
	rng.Read(big)
	if err := c.WriteMessage(2, big); err != nil {
		t.Fatal(err)
	}
	op, p, _, err := c.ReadMessage(wait)
	if err != nil || op != 2 || !bytes.Equal(p, big) {
		t.Fatalf("%d-byte echo: opcode %d, %d bytes, %v", len(big), op, len(p), err)
	}

	const fragment = 64
	fragmented := big[:(ws.DefaultConfig().MaxFragments+1)*fragment]
	var frames []byte
	for i := 0; i < len(fragmented); i += fragment {
		op := byte(2)
		if i > 0 {
			op = 0
		}
		frames = wstest.AppendFrame(frames, i+fragment == len(fragmented), 0, op, fragmented[i:i+fragment])
	}
	if err := c.Write(frames); err != nil {
		t.Fatal(err)
	}
	op, p, _, err = c.ReadMessage(wait)
	if err != nil || op != 2 || !bytes.Equal(p, fragmented) {
		t.Fatalf("%d fragments: opcode %d, %d bytes, %v", len(fragmented)/fragment, op, len(p), err)
	}
}
