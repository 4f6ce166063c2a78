package handshake

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseExtensions(t *testing.T) {
	pmd := func(params ...Param) Extension { return Extension{Name: "permessage-deflate", Params: params} }
	flag := func(name string) Param { return Param{Name: name} }
	val := func(name, v string) Param { return Param{Name: name, Value: v, HasValue: true} }
	tests := []struct {
		name   string
		values []string
		want   []Extension
	}{
		{"no header", nil, nil},
		{"empty value", []string{""}, nil},
		{"only empty elements", []string{" , ,\t,"}, nil},
		{"bare", []string{"permessage-deflate"}, []Extension{pmd()}},
		{"flag param", []string{"permessage-deflate; client_max_window_bits"}, []Extension{pmd(flag("client_max_window_bits"))}},
		{"value then second offer", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"},
			[]Extension{pmd(val("server_max_window_bits", "10")), pmd()}},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="10"`}, []Extension{pmd(val("server_max_window_bits", "10"))}},
		{"quoted-pair", []string{`x; a="1\0"`}, []Extension{{Name: "x", Params: []Param{val("a", "10")}}}},
		{"OWS everywhere", []string{" permessage-deflate ;\tclient_max_window_bits ; server_max_window_bits = 10 ,x "},
			[]Extension{pmd(flag("client_max_window_bits"), val("server_max_window_bits", "10")), {Name: "x"}}},
		{"no OWS", []string{"a;b=1;c,d"}, []Extension{{Name: "a", Params: []Param{val("b", "1"), flag("c")}}, {Name: "d"}}},
		{"empty elements", []string{", a , , b ,"}, []Extension{{Name: "a"}, {Name: "b"}}},
		{"two header values", []string{"permessage-deflate; client_no_context_takeover", "x-webkit-deflate-frame"},
			[]Extension{pmd(flag("client_no_context_takeover")), {Name: "x-webkit-deflate-frame"}}},
		{"empty value among values", []string{"a", "", "b"}, []Extension{{Name: "a"}, {Name: "b"}}},
		{"token chars", []string{"!#$%&'*+-.^_`|~09AZaz; p=!#$%&'*+-.^_`|~"},
			[]Extension{{Name: "!#$%&'*+-.^_`|~09AZaz", Params: []Param{val("p", "!#$%&'*+-.^_`|~")}}}},
		{"repeated param kept", []string{"a; b; b=2"}, []Extension{{Name: "a", Params: []Param{flag("b"), val("b", "2")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtensions(tt.values)
			if err != nil {
				t.Fatalf("ParseExtensions(%q): %v", tt.values, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseExtensions(%q) (-want +got):\n%s", tt.values, diff)
			}
		})
	}
}

func TestParseExtensionsErrors(t *testing.T) {
	tests := []struct {
		values []string
		want   string // substring of the reason
	}{
		{[]string{";"}, "expected an extension name at byte 0"},
		{[]string{"permessage-deflate;"}, "expected a parameter name after ';' at end of line"},
		{[]string{"a=1"}, "expected ',' or ';' at byte 1"},
		{[]string{"a; b="}, "expected a value after '=' at end"},
		{[]string{"a; b=, c"}, "expected a value after '='"},
		{[]string{"a; b=;c"}, "expected a value after '='"},
		{[]string{`a; b="1`}, "unterminated quoted-string at byte 5"},
		{[]string{`a; b="1\`}, "unterminated quoted-string"},
		{[]string{`a; b="x y"`}, "quoted value is not a token"},
		{[]string{`a; b=""`}, "quoted value is not a token"},
		{[]string{`a; b="x,y"`}, "quoted value is not a token"},
		{[]string{`a; b="\""`}, "quoted value is not a token"},
		{[]string{"a; b=\"\xc3\xa9\""}, "quoted value is not a token"},
		{[]string{"a; b=\"1\x002\""}, "control character in quoted-string"},
		{[]string{"a; b=\"1\\\x01\""}, "control character in quoted-string"},
		{[]string{"a; b=\"1\x7f\""}, "control character in quoted-string"},
		{[]string{"a b"}, "expected ',' or ';' at byte 2 ('b')"},
		{[]string{"a;=1"}, "expected a parameter name after ';' at byte 2"},
		{[]string{"a; b c"}, "expected ',' or ';'"},
		{[]string{"a; b=1 2"}, "expected ',' or ';'"},
		{[]string{"a; b=1=2"}, "expected ',' or ';'"},
		{[]string{"a;;b"}, "expected a parameter name"},
		{[]string{"a\r\nX: y"}, "expected ',' or ';' at byte 1"},
		{[]string{"a\x00"}, "expected ',' or ';'"},
		{[]string{"\xff"}, "expected an extension name"},
		{[]string{"a/b"}, "expected ',' or ';'"},
		{[]string{`"a"`}, "expected an extension name"},
		{[]string{"a; b=c", "d;"}, "at end of line 2"},
	}
	for _, tt := range tests {
		got, err := ParseExtensions(tt.values)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseExtensions(%q) = %v, %v; want an *Error", tt.values, got, err)
			continue
		}
		if got != nil {
			t.Errorf("ParseExtensions(%q) returned %v with its error", tt.values, got)
		}
		if e.Status != 400 || !strings.Contains(e.Reason, tt.want) {
			t.Errorf("ParseExtensions(%q): status %d, reason %q; want 400 and %q", tt.values, e.Status, e.Reason, tt.want)
		}
	}
}

func TestFormatExtensions(t *testing.T) {
	tests := []struct {
		name string
		in   []Extension
		want string
	}{
		{"none", nil, ""},
		{"bare", []Extension{{Name: "permessage-deflate"}}, "permessage-deflate"},
		{"params", []Extension{{Name: "permessage-deflate", Params: []Param{
			{Name: "client_max_window_bits"},
			{Name: "server_max_window_bits", Value: "10", HasValue: true},
		}}, {Name: "x"}}, "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x"},
		{"Value ignored without HasValue", []Extension{{Name: "a", Params: []Param{{Name: "b", Value: "c"}}}}, "a; b"},
		{"empty value quoted", []Extension{{Name: "a", Params: []Param{{Name: "b", HasValue: true}}}}, `a; b=""`},
		{"non-token value quoted", []Extension{{Name: "a", Params: []Param{{Name: "b", Value: `x "y\`, HasValue: true}}}}, `a; b="x \"y\\"`},
	}
	for _, tt := range tests {
		got := FormatExtensions(tt.in)
		if got != tt.want {
			t.Errorf("%s: FormatExtensions = %q, want %q", tt.name, got, tt.want)
		}
		if len(tt.in) == 1 {
			if s := tt.in[0].String(); s != tt.want {
				t.Errorf("%s: String() = %q, want %q", tt.name, s, tt.want)
			}
		}
	}
}

func TestExtensionsRoundTrip(t *testing.T) {
	for _, v := range []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
		`a; b="c"; d = e , f`,
		"x;y;z=1,x",
	} {
		exts, err := ParseExtensions([]string{v})
		if err != nil {
			t.Fatalf("ParseExtensions(%q): %v", v, err)
		}
		s := FormatExtensions(exts)
		back, err := ParseExtensions([]string{s})
		if err != nil {
			t.Fatalf("ParseExtensions(%q) of formatted %q: %v", s, v, err)
		}
		if diff := cmp.Diff(exts, back); diff != "" {
			t.Errorf("round trip of %q via %q (-first +second):\n%s", v, s, diff)
		}
	}
}

// TestParseExtensionsLinear guards against quadratic behaviour: a long
// header of many offers and parameters parses with a number of allocations
// proportional to what it returns.
func TestParseExtensionsLinear(t *testing.T) {
	const n = 20000
	long := strings.Repeat("a; b=1; c, ", n)
	exts, err := ParseExtensions([]string{long})
	if err != nil {
		t.Fatal(err)
	}
	if len(exts) != n {
		t.Fatalf("got %d offers, want %d", len(exts), n)
	}
	allocs := testing.AllocsPerRun(3, func() { _, _ = ParseExtensions([]string{long}) })
	// One Params slice per offer (two appends: at most two allocations) plus
	// the growth of the offer slice.
	if allocs > 3*n {
		t.Errorf("%v allocations for %d offers", allocs, n)
	}
}

func BenchmarkParseExtensions(b *testing.B) {
	values := []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseExtensions(values); err != nil {
			b.Fatal(err)
		}
	}
}
