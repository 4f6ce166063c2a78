package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/internal/wstest"
)

func TestEchoSizes(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 200000} {
		for _, op := range []byte{1, 2} {
			p := bytes.Repeat([]byte("a"), n)
			if err := c.WriteMessage(op, p); err != nil {
				t.Fatal(err)
			}
			gotOp, got, _, err := c.ReadMessage(wait)
			if err != nil {
				t.Fatalf("size %d: %v", n, err)
			}
			if gotOp != op || !bytes.Equal(got, p) {
				t.Fatalf("size %d op %d: got op %d, %d bytes", n, op, gotOp, len(got))
			}
		}
	}
}

func TestFragmentedWithInterleavedPing(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	var b []byte
	b = wstest.AppendFrame(b, false, 0, 1, []byte("Hello, "))
	b = wstest.AppendFrame(b, true, 0, 9, []byte("ping!"))
	b = wstest.AppendFrame(b, false, 0, 0, []byte("wor"))
	b = wstest.AppendFrame(b, true, 0, 0, []byte("ld"))
	if err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		op, p, _, err := c.ReadMessage(wait)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(rune('0'+op))+":"+string(p))
	}
	want := []string{":ping!", "1:Hello, world"}
	want[0] = string(rune('0'+10)) + want[0]
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
}

func TestPipelinedBehindHandshake(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	c.Close()
	// Handshake and two frames in one write.
	req, _ := wstest.Request(h.addr, "/", nil)
	nc := c.Conn
	_ = nc
	raw := append([]byte(nil), req...)
	raw = wstest.AppendFrame(raw, true, 0, 1, []byte("first"))
	raw = wstest.AppendFrame(raw, true, 0, 2, []byte("second"))
	cl := dialRaw(t, h.addr, raw)
	for _, want := range []string{"first", "second"} {
		_, p, _, err := cl.ReadMessage(wait)
		if err != nil {
			t.Fatal(err)
		}
		if string(p) != want {
			t.Fatalf("got %q, want %q", p, want)
		}
	}
}

func TestCloseHandshakeEchoesCode(t *testing.T) {
	h := start(t, Config{}, echo)
	c := h.dial(nil)
	if err := c.WriteFrame(true, 8, wstest.ClosePayload(4000, "bye")); err != nil {
		t.Fatal(err)
	}
	code, _, err := c.ExpectClose(wait)
	if err != nil || code != 4000 {
		t.Fatalf("close code %d, %v; want 4000", code, err)
	}
	if err := c.ExpectEOF(wait); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputCloseCodes(t *testing.T) {
	big := strings.Repeat("x", 2000)
	cases := []struct {
		name  string
		cfg   Config
		write []byte
		code  int
	}{
		{"reserved opcode", Config{}, wstest.AppendFrame(nil, true, 0, 3, nil), 1002},
		{"rsv2", Config{}, wstest.AppendFrame(nil, true, 2, 1, nil), 1002},
		{"continuation without start", Config{}, wstest.AppendFrame(nil, true, 0, 0, []byte("x")), 1002},
		{"invalid utf8", Config{}, wstest.AppendFrame(nil, true, 0, 1, []byte{0xce, 0xba, 0xff}), 1007},
		{"invalid utf8 mid-fragment", Config{}, wstest.AppendFrame(nil, false, 0, 1, []byte{0xed, 0xa0, 0x80}), 1007},
		{"close code 1005", Config{}, wstest.AppendFrame(nil, true, 0, 8, wstest.ClosePayload(1005, "")), 1002},
		{"close payload of 1 byte", Config{}, wstest.AppendFrame(nil, true, 0, 8, []byte{3}), 1002},
		{"too big", func() Config { var c Config; c.MaxMessageSize = 1000; return c }(), wstest.AppendFrame(nil, true, 0, 2, []byte(big)), 1009},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, tc.cfg, echo)
			c := h.dial(nil)
			if err := c.Write(tc.write); err != nil {
				t.Fatal(err)
			}
			code, _, err := c.ExpectClose(wait)
			if err != nil || code != tc.code {
				t.Fatalf("close code %d, %v; want %d", code, err, tc.code)
			}
		})
	}
}
