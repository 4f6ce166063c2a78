package httptoken

import "testing"

func TestTcharIsTheTokenAlphabet(t *testing.T) {
	const delimiters = "\"(),/:;<=>?@[\\]{}"
	for c := 0; c < 256; c++ {
		want := c > ' ' && c < 0x7f
		for i := 0; i < len(delimiters); i++ {
			if byte(c) == delimiters[i] {
				want = false
			}
		}
		if got := IsTchar(byte(c)); got != want {
			t.Errorf("IsTchar(%#x) = %v, want %v", c, got, want)
		}
	}
}

func TestTrimOWS(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		" \t ":          "",
		"\t a b \t":     "a b",
		"x":             "x",
		" websocket\t ": "websocket",
	} {
		if got := TrimOWS(in); got != want {
			t.Errorf("TrimOWS(%q) = %q, want %q", in, got, want)
		}
	}
}
