package fuzz

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"unievent.dev/internal/deflatetest"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
)

// inflateLimit keeps FuzzInflate fast; a payload that inflates further is
// a bomb as far as the target is concerned.
const inflateLimit = 4096

// inflateSeedMessage establishes context-takeover history before the
// fuzzed payload, so back-references into an earlier message are reached.
var inflateSeedMessage = []byte(`{"type":"hello","text":"Hello, Hello, permessage-deflate"}`)

// seededDecompressor returns the decompressor of a connection whose client
// window has the given bits; with context takeover it has inflated
// inflateSeedMessage first, and history is what that message leaves in
// the window (what an independent inflater must be given).
func seededDecompressor(t *testing.T, takeover bool, bits int) (d *permessagedeflate.Decompressor, history []byte) {
	t.Helper()
	d = permessagedeflate.NewDecompressor(permessagedeflate.Params{ClientNoContextTakeover: !takeover, ClientMaxWindowBits: bits})
	if !takeover {
		return d, nil
	}
	c := permessagedeflate.NewCompressor(nil, permessagedeflate.Params{ServerMaxWindowBits: bits})
	seed, err := c.Compress(nil, inflateSeedMessage)
	c.Release()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decompress(nil, seed, inflateLimit); err != nil {
		t.Fatalf("seed message: %v", err)
	}
	return d, inflateSeedMessage[max(0, len(inflateSeedMessage)-1<<bits):]
}

// FuzzInflate feeds arbitrary payloads to Decompress: it never panics,
// never returns more than the limit, fails only with ErrMessageTooBig or
// ErrCorrupt, and when it succeeds the independent inflater, given the same
// history, produces the same bytes.
func FuzzInflate(f *testing.F) {
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, false, uint8(7))
	f.Add([]byte{0xf2, 0x00, 0x11, 0x00, 0x00}, true, uint8(7))
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, true, uint8(1))
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, false, uint8(0))
	f.Add([]byte{0x00}, true, uint8(3))
	f.Fuzz(func(t *testing.T, payload []byte, takeover bool, bitsSel uint8) {
		bits := 8 + int(bitsSel%8)
		d, history := seededDecompressor(t, takeover, bits)
		defer d.Release()
		out, err := d.Decompress([]byte("keep"), payload, inflateLimit)
		if !bytes.HasPrefix(out, []byte("keep")) {
			t.Fatalf("dst prefix overwritten: %q", out)
		}
		out = out[len("keep"):]
		if len(out) > inflateLimit {
			t.Fatalf("%d bytes out, limit %d", len(out), inflateLimit)
		}
		if err != nil {
			if !errors.Is(err, permessagedeflate.ErrMessageTooBig) && !errors.Is(err, permessagedeflate.ErrCorrupt) {
				t.Fatalf("untyped error %v", err)
			}
			if len(out) != 0 {
				t.Fatalf("%d bytes returned with error %v", len(out), err)
			}
			return
		}
		want, _, ierr := deflatetest.InflateMessage(payload, history)
		if ierr != nil {
			t.Fatalf("Decompress accepted what the independent inflater rejects (%v); output %q", ierr, out)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("Decompress returned %q, independent inflater %q", out, want)
		}
	})
}

// extensionsFromString builds offers from a header-like string: ','
// between offers, ';' between parameters, the first '=' before a value.
// It is deliberately rougher than the real parser, to reach odd names and
// values.
func extensionsFromString(s string) []handshake.Extension {
	var exts []handshake.Extension
	for _, ext := range strings.Split(s, ",") {
		parts := strings.Split(ext, ";")
		e := handshake.Extension{Name: strings.TrimSpace(parts[0])}
		for _, prm := range parts[1:] {
			name, value, hasValue := strings.Cut(prm, "=")
			e.Params = append(e.Params, handshake.Param{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value), HasValue: hasValue})
		}
		exts = append(exts, e)
	}
	return exts
}

// refOffer is the oracle's reading of one offer, written apart from the
// package's parser: a valid permessage-deflate offer has only the four
// parameters of RFC 7692 section 7.1, each at most once, the two
// no_context_takeover ones without a value, server_max_window_bits with
// one and client_max_window_bits with or without, values being 8..15
// written without leading zeros.
type refOffer struct {
	valid            bool
	serverNoTakeover bool
	clientNoTakeover bool
	serverBits       int // 0 when absent
	clientBitsGiven  bool
	clientBits       int // 0 when absent or without a value
}

func readOffer(e handshake.Extension) refOffer {
	if e.Name != "permessage-deflate" {
		return refOffer{}
	}
	o := refOffer{valid: true}
	count := map[string]int{}
	windowValue := func(v string) int {
		n, err := strconv.Atoi(v)
		if err != nil || strconv.Itoa(n) != v || n < 8 || n > 15 {
			return -1
		}
		return n
	}
	for _, p := range e.Params {
		count[p.Name]++
		switch p.Name {
		case "server_no_context_takeover":
			o.serverNoTakeover = true
			o.valid = o.valid && !p.HasValue
		case "client_no_context_takeover":
			o.clientNoTakeover = true
			o.valid = o.valid && !p.HasValue
		case "server_max_window_bits":
			o.serverBits = windowValue(p.Value)
			o.valid = o.valid && p.HasValue && o.serverBits > 0
		case "client_max_window_bits":
			o.clientBitsGiven = true
			if p.HasValue {
				o.clientBits = windowValue(p.Value)
				o.valid = o.valid && o.clientBits > 0
			}
		default:
			o.valid = false
		}
		if count[p.Name] > 1 {
			o.valid = false
		}
	}
	return o
}

// FuzzNegotiate checks Negotiate against an independent reading of the
// offers: it accepts exactly when some offer is valid, takes the first
// valid one, and answers only legal parameters, each once, within what
// the offer and the Config allow, consistent with the returned Params.
func FuzzNegotiate(f *testing.F) {
	f.Add("permessage-deflate", uint8(0), uint8(0))
	f.Add("permessage-deflate; server_max_window_bits=9", uint8(0), uint8(0))
	f.Add("permessage-deflate; client_no_context_takeover", uint8(0x0a), uint8(1))
	f.Add("permessage-deflate; client_max_window_bits", uint8(0xa0), uint8(2))
	f.Add("permessage-deflate; client_max_window_bits=10; server_no_context_takeover, permessage-deflate", uint8(0x99), uint8(3))
	f.Add("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=08, permessage-deflate; server_max_window_bits=15", uint8(0x5c), uint8(0))
	f.Fuzz(func(t *testing.T, header string, bitsSel, flags uint8) {
		windowFrom := func(v uint8) int { // 0 or 8..15
			if v%9 == 0 {
				return 0
			}
			return 7 + int(v%9)
		}
		cfg := &permessagedeflate.Config{
			ServerNoContextTakeover: flags&1 != 0,
			ClientNoContextTakeover: flags&2 != 0,
			ServerMaxWindowBits:     windowFrom(bitsSel & 0x0f),
			ClientMaxWindowBits:     windowFrom(bitsSel >> 4),
		}
		cfgServer, cfgClient := max(cfg.ServerMaxWindowBits, 8), max(cfg.ClientMaxWindowBits, 8)
		if cfg.ServerMaxWindowBits == 0 {
			cfgServer = 15
		}
		if cfg.ClientMaxWindowBits == 0 {
			cfgClient = 15
		}
		offers := extensionsFromString(header)
		p, answer, ok := permessagedeflate.Negotiate(offers, cfg)

		var chosen refOffer
		for _, e := range offers {
			if o := readOffer(e); o.valid {
				chosen = o
				break
			}
		}
		if ok != chosen.valid {
			t.Fatalf("ok = %v, but the oracle finds a valid offer: %v", ok, chosen.valid)
		}
		if !ok {
			return
		}
		if answer.Name != "permessage-deflate" {
			t.Fatalf("answer named %q", answer.Name)
		}
		seen := map[string]handshake.Param{}
		for _, prm := range answer.Params {
			if _, dup := seen[prm.Name]; dup {
				t.Fatalf("parameter %s answered twice", prm.Name)
			}
			seen[prm.Name] = prm
			switch prm.Name {
			case "server_no_context_takeover", "client_no_context_takeover":
				if prm.HasValue {
					t.Fatalf("%s answered with a value", prm.Name)
				}
			case "server_max_window_bits", "client_max_window_bits":
				if !prm.HasValue || readOffer(handshake.Extension{Name: "permessage-deflate",
					Params: []handshake.Param{prm}}).valid == false {
					t.Fatalf("%s answered with invalid value %q", prm.Name, prm.Value)
				}
			default:
				t.Fatalf("unknown parameter %q answered", prm.Name)
			}
		}
		value := func(name string) (int, bool) {
			prm, present := seen[name]
			if !present {
				return 0, false
			}
			n, _ := strconv.Atoi(prm.Value)
			return n, true
		}

		_, snct := seen["server_no_context_takeover"]
		if snct != p.ServerNoContextTakeover || chosen.serverNoTakeover && !snct || cfg.ServerNoContextTakeover && !snct {
			t.Fatalf("server_no_context_takeover answered %v, Params %v, offered %v", snct, p.ServerNoContextTakeover, chosen.serverNoTakeover)
		}
		_, cnct := seen["client_no_context_takeover"]
		if cnct != p.ClientNoContextTakeover || chosen.clientNoTakeover && !cnct || cfg.ClientNoContextTakeover && !cnct {
			t.Fatalf("client_no_context_takeover answered %v, Params %v, offered %v", cnct, p.ClientNoContextTakeover, chosen.clientNoTakeover)
		}

		sbits, sPresent := value("server_max_window_bits")
		if chosen.serverBits != 0 && (!sPresent || sbits > chosen.serverBits) {
			t.Fatalf("server_max_window_bits=%d offered, answered %d (present %v)", chosen.serverBits, sbits, sPresent)
		}
		if !sPresent {
			sbits = 15
		}
		if sbits != p.ServerMaxWindowBits || sbits > cfgServer {
			t.Fatalf("server window %d answered, Params %d, Config %d", sbits, p.ServerMaxWindowBits, cfgServer)
		}

		cbits, cPresent := value("client_max_window_bits")
		if cPresent && !chosen.clientBitsGiven {
			t.Fatal("client_max_window_bits answered but not offered")
		}
		if cPresent && chosen.clientBits != 0 && cbits > chosen.clientBits {
			t.Fatalf("client_max_window_bits=%d answered above the offered %d", cbits, chosen.clientBits)
		}
		if !cPresent {
			cbits = 15
		}
		if cbits != p.ClientMaxWindowBits || chosen.clientBitsGiven && cbits > cfgClient {
			t.Fatalf("client window %d answered, Params %d, Config %d", cbits, p.ClientMaxWindowBits, cfgClient)
		}
	})
}

// FuzzDeflateRoundTrip sends fuzz-chosen message sequences through a
// Compressor and a Decompressor at a fuzz-chosen window, level and context
// takeover. Every message comes back; the independent inflater reads each
// payload (as one stream with context takeover, alone without) and finds
// no distance beyond the window.
func FuzzDeflateRoundTrip(f *testing.F) {
	f.Add([]byte("Hello, Hello, Hello"), []byte{5, 7, 0, 7}, uint8(1), uint8(1), uint8(0))
	f.Add(bytes.Repeat([]byte("abcdefgh12345678"), 64), []byte{200, 255, 3}, uint8(0), uint8(6), uint8(0x31))
	f.Add([]byte(`{"id":1,"user":"alice","text":"hi"},{"id":2,"user":"bob","text":"hi"}`), []byte{40, 40}, uint8(7), uint8(9), uint8(0x11))
	f.Fuzz(func(t *testing.T, data, sizes []byte, bitsSel, levelSel, flags uint8) {
		bits := 8 + int(bitsSel%8)
		levels := []int{-2, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		level := levels[int(levelSel)%len(levels)]
		takeover := flags&1 == 0
		unit := 1
		if flags&2 != 0 {
			unit = 64 // longer messages than the fuzzer tends to write
		}
		repeat := 1 + int(flags>>4) // repeat each message's bytes to reach past small windows
		p := permessagedeflate.Params{
			ServerNoContextTakeover: !takeover, ServerMaxWindowBits: bits,
			ClientNoContextTakeover: !takeover, ClientMaxWindowBits: bits,
		}
		c := permessagedeflate.NewCompressor(&permessagedeflate.Config{Level: level}, p)
		defer c.Release()
		d := permessagedeflate.NewDecompressor(p)
		defer d.Release()
		var stream []byte
		for i := 0; i <= len(sizes); i++ {
			n := len(data)
			if i < len(sizes) {
				n = min(len(data), int(sizes[i])*unit)
			}
			msg := bytes.Repeat(data[:n], repeat)
			data = data[n:]
			payload, err := c.Compress(nil, msg)
			if err != nil {
				t.Fatalf("message %d: Compress: %v", i, err)
			}
			out, err := d.Decompress(nil, payload, len(msg))
			if err != nil {
				t.Fatalf("message %d: Decompress: %v", i, err)
			}
			if !bytes.Equal(out, msg) {
				t.Fatalf("message %d: got %q, sent %q", i, out, msg)
			}
			var history []byte
			if takeover {
				history = stream
			}
			got, maxDist, err := deflatetest.Inflate(append(payload, 0x00, 0x00, 0xff, 0xff), history)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("message %d: independent inflater: %v, got %q", i, err, got)
			}
			if maxDist > 1<<bits {
				t.Fatalf("message %d: distance %d beyond the %d-bit window", i, maxDist, bits)
			}
			stream = append(stream, msg...)
		}
	})
}
