package permessagedeflate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/ws/handshake"
)

// parseOffers turns a Sec-WebSocket-Extensions value into extensions, for
// readable tables. It splits on ',' ';' and '=' and trims spaces; that is
// enough for the test inputs, which contain no quoted separators.
func parseOffers(s string) []handshake.Extension {
	var exts []handshake.Extension
	for _, ext := range strings.Split(s, ",") {
		parts := strings.Split(ext, ";")
		e := handshake.Extension{Name: strings.TrimSpace(parts[0])}
		for _, prm := range parts[1:] {
			name, value, hasValue := strings.Cut(prm, "=")
			e.Params = append(e.Params, handshake.Param{
				Name: strings.TrimSpace(name), Value: strings.Trim(strings.TrimSpace(value), `"`), HasValue: hasValue,
			})
		}
		exts = append(exts, e)
	}
	return exts
}

// formatAnswer writes an answer back as a header value.
func formatAnswer(e handshake.Extension) string {
	s := e.Name
	for _, p := range e.Params {
		s += "; " + p.Name
		if p.HasValue {
			s += "=" + p.Value
		}
	}
	return s
}

var defaults = Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		offers string
		cfg    Config
		want   Params
		answer string // "" when declined
	}{
		{"plain", "permessage-deflate", Config{}, defaults, "permessage-deflate"},
		{"not offered", "x-webkit-deflate-frame", Config{}, Params{}, ""},
		{"nothing offered", "", Config{}, Params{}, ""},
		{"case matters", "Permessage-Deflate", Config{}, Params{}, ""},

		// Autobahn case 13 offers.
		{"autobahn server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9", Config{},
			Params{ServerMaxWindowBits: 9, ClientMaxWindowBits: 15}, "permessage-deflate; server_max_window_bits=9"},
		{"autobahn client_no_context_takeover", "permessage-deflate; client_no_context_takeover", Config{},
			Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15},
			"permessage-deflate; client_no_context_takeover"},
		{"autobahn client_max_window_bits bare", "permessage-deflate; client_max_window_bits", Config{},
			defaults, "permessage-deflate"},
		{"autobahn both no_context_takeover", "permessage-deflate; client_no_context_takeover; server_no_context_takeover", Config{},
			Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"autobahn server_max_window_bits=8 bare client", "permessage-deflate; client_max_window_bits; server_max_window_bits=8", Config{},
			Params{ServerMaxWindowBits: 8, ClientMaxWindowBits: 15}, "permessage-deflate; server_max_window_bits=8"},

		// server_no_context_takeover
		{"cfg server_no_context_takeover", "permessage-deflate", Config{ServerNoContextTakeover: true},
			Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15},
			"permessage-deflate; server_no_context_takeover"},
		// client_no_context_takeover asked by cfg without an offer: legal.
		{"cfg client_no_context_takeover", "permessage-deflate", Config{ClientNoContextTakeover: true},
			Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15},
			"permessage-deflate; client_no_context_takeover"},

		// server_max_window_bits: min(offer, cfg), answered when offered.
		{"server bits offered 15", "permessage-deflate; server_max_window_bits=15", Config{},
			defaults, "permessage-deflate; server_max_window_bits=15"},
		{"server bits offer above cfg", "permessage-deflate; server_max_window_bits=12", Config{ServerMaxWindowBits: 10},
			Params{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}, "permessage-deflate; server_max_window_bits=10"},
		{"server bits cfg only", "permessage-deflate", Config{ServerMaxWindowBits: 11},
			Params{ServerMaxWindowBits: 11, ClientMaxWindowBits: 15}, "permessage-deflate; server_max_window_bits=11"},

		// client_max_window_bits: only when offered, never above the offer.
		{"client bits not offered, cfg 10", "permessage-deflate", Config{ClientMaxWindowBits: 10},
			defaults, "permessage-deflate"},
		{"client bits bare, cfg 10", "permessage-deflate; client_max_window_bits", Config{ClientMaxWindowBits: 10},
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=10"},
		{"client bits 12, cfg 10", "permessage-deflate; client_max_window_bits=12", Config{ClientMaxWindowBits: 10},
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=10"},
		{"client bits 9, cfg 10", "permessage-deflate; client_max_window_bits=9", Config{ClientMaxWindowBits: 10},
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 9}, "permessage-deflate; client_max_window_bits=9"},
		{"client bits 15, cfg 15", "permessage-deflate; client_max_window_bits=15", Config{},
			defaults, "permessage-deflate"},
		{"client bits quoted", `permessage-deflate; client_max_window_bits="10"`, Config{},
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=10"},

		{"everything", "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
			Config{ServerMaxWindowBits: 12, ClientMaxWindowBits: 12},
			Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 9},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"},

		// The first acceptable offer wins; invalid ones are skipped.
		{"first invalid, second taken", "permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=10", Config{},
			Params{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}, "permessage-deflate; server_max_window_bits=10"},
		{"first of two valid", "permessage-deflate; client_no_context_takeover, permessage-deflate", Config{},
			Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15},
			"permessage-deflate; client_no_context_takeover"},
		{"other extension first", "foo; bar=1, permessage-deflate; server_max_window_bits=9", Config{},
			Params{ServerMaxWindowBits: 9, ClientMaxWindowBits: 15}, "permessage-deflate; server_max_window_bits=9"},
		{"all invalid", "permessage-deflate; x, permessage-deflate; server_max_window_bits", Config{}, Params{}, ""},

		// An invalid Config declines everything instead of failing later.
		{"invalid config", "permessage-deflate", Config{ServerMaxWindowBits: 16}, Params{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, answer, ok := Negotiate(parseOffers(tt.offers), &tt.cfg)
			if ok != (tt.answer != "") {
				t.Fatalf("ok = %v, want %v (answer %q)", ok, !ok, formatAnswer(answer))
			}
			if diff := cmp.Diff(tt.want, p); diff != "" {
				t.Errorf("Params (-want +got):\n%s", diff)
			}
			if !ok {
				if diff := cmp.Diff(handshake.Extension{}, answer); diff != "" {
					t.Errorf("declined, but answer (-want +got):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(parseOffers(tt.answer)[0], answer); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNegotiateDeclinesInvalid: every offer that section 7 calls invalid
// is declined, both alone and when a valid offer follows it (which must
// then be taken).
func TestNegotiateDeclinesInvalid(t *testing.T) {
	invalid := []string{
		"permessage-deflate; unknown",
		"permessage-deflate; unknown=1",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; client_no_context_takeover; client_no_context_takeover",
		"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
		"permessage-deflate; client_max_window_bits; client_max_window_bits=10",
		"permessage-deflate; client_max_window_bits=10; client_max_window_bits",
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; server_no_context_takeover=",
		"permessage-deflate; client_no_context_takeover=true",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; server_max_window_bits=",
		"permessage-deflate; client_max_window_bits=",
		"permessage-deflate; server_max_window_bits=7",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits=0",
		"permessage-deflate; server_max_window_bits=09",
		"permessage-deflate; server_max_window_bits=010",
		"permessage-deflate; server_max_window_bits=+9",
		"permessage-deflate; server_max_window_bits=-9",
		"permessage-deflate; server_max_window_bits=9.0",
		"permessage-deflate; server_max_window_bits=1a",
		"permessage-deflate; server_max_window_bits=100",
		"permessage-deflate; client_max_window_bits=08",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; client_max_window_bits=16",
		"permessage-deflate; client_max_window_bits=x",
		"permessage-deflate; Server_Max_Window_Bits=10",
	}
	for _, offer := range invalid {
		t.Run(offer, func(t *testing.T) {
			if p, answer, ok := Negotiate(parseOffers(offer), nil); ok {
				t.Errorf("accepted: %+v, answer %q", p, formatAnswer(answer))
			}
			p, answer, ok := Negotiate(parseOffers(offer+", permessage-deflate; server_max_window_bits=11"), nil)
			want := Params{ServerMaxWindowBits: 11, ClientMaxWindowBits: 15}
			if !ok || formatAnswer(answer) != "permessage-deflate; server_max_window_bits=11" {
				t.Errorf("second offer: ok=%v answer %q", ok, formatAnswer(answer))
			}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("second offer Params (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNegotiateEveryWindow accepts every window size from 8 to 15 for both
// parameters, including 8, which zlib's compressor refuses.
func TestNegotiateEveryWindow(t *testing.T) {
	for bits := 8; bits <= 15; bits++ {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			offer := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d", bits, bits)
			p, answer, ok := Negotiate(parseOffers(offer), nil)
			if !ok {
				t.Fatal("declined")
			}
			want := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d", bits)
			if bits < 15 {
				want += fmt.Sprintf("; client_max_window_bits=%d", bits)
			}
			if diff := cmp.Diff(want, formatAnswer(answer)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Params{ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}, p); diff != "" {
				t.Errorf("Params (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{Level: -2}, true},
		{Config{Level: -1}, true},
		{Config{Level: 9, ServerMaxWindowBits: 8, ClientMaxWindowBits: 15, Threshold: 1}, true},
		{Config{Level: 10}, false},
		{Config{Level: -3}, false},
		{Config{Threshold: -1}, false},
		{Config{ServerMaxWindowBits: 7}, false},
		{Config{ServerMaxWindowBits: 16}, false},
		{Config{ClientMaxWindowBits: 1}, false},
		{Config{ClientMaxWindowBits: -15}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.cfg), func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	var nilCfg *Config
	if err := nilCfg.Validate(); err != nil {
		t.Errorf("nil Config: %v", err)
	}
}
