package permessagedeflate

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"unievent.dev/ws/handshake"
)

func TestOffer(t *testing.T) {
	tests := []struct {
		cfg  *Config
		want string
	}{
		{nil, "permessage-deflate; client_max_window_bits"},
		{&Config{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=10"},
		{&Config{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 9},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits"},
	}
	for _, tt := range tests {
		if got := Offer(tt.cfg).String(); got != tt.want {
			t.Errorf("Offer(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestCheckAnswer(t *testing.T) {
	tests := []struct {
		name   string
		cfg    *Config
		answer string
		want   Params // ignored when bad
		bad    bool
	}{
		{"bare", nil, "permessage-deflate", Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
		{"server resets unasked", nil, "permessage-deflate; server_no_context_takeover",
			Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
		{"client asked to reset", nil, "permessage-deflate; client_no_context_takeover",
			Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
		{"own reset kept", &Config{ClientNoContextTakeover: true}, "permessage-deflate",
			Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
		{"server window unasked", nil, "permessage-deflate; server_max_window_bits=10",
			Params{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}, false},
		{"server window as asked", &Config{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=9",
			Params{ServerMaxWindowBits: 9, ClientMaxWindowBits: 15}, false},
		{"client window lowered", nil, "permessage-deflate; client_max_window_bits=8",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 8}, false},
		{"client window offered kept", &Config{ClientMaxWindowBits: 11}, "permessage-deflate",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 11}, false},
		{"server window above offer", &Config{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=11", Params{}, true},
		{"server window not answered", &Config{ServerMaxWindowBits: 10}, "permessage-deflate", Params{}, true},
		{"client window above offer", &Config{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=12", Params{}, true},
		{"client window without value", nil, "permessage-deflate; client_max_window_bits", Params{}, true},
		{"window out of range", nil, "permessage-deflate; server_max_window_bits=7", Params{}, true},
		{"window leading zero", nil, "permessage-deflate; server_max_window_bits=09", Params{}, true},
		{"unknown parameter", nil, "permessage-deflate; x_foo", Params{}, true},
		{"repeated", nil, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", Params{}, true},
		{"takeover with value", nil, "permessage-deflate; client_no_context_takeover=1", Params{}, true},
		{"other extension", nil, "x-webkit-deflate-frame", Params{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exts, err := handshake.ParseExtensions([]string{tt.answer})
			if err != nil || len(exts) != 1 {
				t.Fatalf("parse %q: %v", tt.answer, err)
			}
			got, err := CheckAnswer(exts[0], tt.cfg)
			if tt.bad {
				if !errors.Is(err, ErrBadAnswer) {
					t.Fatalf("CheckAnswer(%q) = %+v, %v; want ErrBadAnswer", tt.answer, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("CheckAnswer(%q) (-want +got):\n%s", tt.answer, d)
			}
		})
	}
}

// TestOfferAnsweredByNegotiate checks that what this package answers as a
// server passes what it checks as a client, for every window size.
func TestOfferAnsweredByNegotiate(t *testing.T) {
	for cb := 0; cb <= 15; cb++ {
		for sb := 0; sb <= 15; sb++ {
			if cb > 0 && cb < 8 || sb > 0 && sb < 8 {
				continue
			}
			client := &Config{ClientMaxWindowBits: cb, ServerMaxWindowBits: sb}
			server := &Config{ClientMaxWindowBits: 9, ServerMaxWindowBits: 12}
			sp, answer, ok := Negotiate([]handshake.Extension{Offer(client)}, server)
			if !ok {
				t.Fatalf("offer %v declined", Offer(client))
			}
			cp, err := CheckAnswer(answer, client)
			if err != nil {
				t.Fatalf("answer %v to %v: %v", answer, Offer(client), err)
			}
			if d := cmp.Diff(sp, cp); d != "" {
				t.Errorf("offer %v, answer %v: server and client disagree (-server +client):\n%s", Offer(client), answer, d)
			}
		}
	}
}
