package nats

import (
	"errors"
	"strings"
	"testing"
)

func TestEscapeTopic(t *testing.T) {
	for _, tc := range []struct{ topic, token string }{
		{"lobby", "lobby"},
		{"room-1_A~b", "room-1_A~b"},
		{"a.b", "a%2Eb"},
		{"a..b", "a%2E%2Eb"},
		{"*", "%2A"},
		{">", "%3E"},
		{"news.>", "news%2E%3E"},
		{"100%", "100%25"},
		{"%2E", "%252E"},
		{"two words", "two%20words"},
		{"tab\tnl\ncr\r", "tab%09nl%0Acr%0D"},
		{"\x00\x7f", "%00%7F"},
		{"café", "caf%C3%A9"},
		{"\xff", "%FF"},
		{"$SYS", "$SYS"},
	} {
		if got := EscapeTopic(tc.topic); got != tc.token {
			t.Errorf("EscapeTopic(%q) = %q, want %q", tc.topic, got, tc.token)
		}
		if got, err := UnescapeTopic(tc.token); err != nil || got != tc.topic {
			t.Errorf("UnescapeTopic(%q) = %q, %v, want %q", tc.token, got, err, tc.topic)
		}
	}
}

// A token EscapeTopic never makes is refused, so that every topic has
// exactly one subject.
func TestUnescapeTopicRefuses(t *testing.T) {
	for _, token := range []string{
		"a.b", // a reserved byte left as it is
		"a b", // whitespace
		"*", ">", "caf\xc3\xa9",
		"%",     // a truncated escape
		"%2",    // a truncated escape
		"ab%",   // a truncated escape
		"%2e",   // lower-case hex
		"%GG",   // not hex
		"%41",   // an escaped byte EscapeTopic keeps ("A")
		"%2E%4", // a truncated second escape
	} {
		if got, err := UnescapeTopic(token); !errors.Is(err, ErrSubject) {
			t.Errorf("UnescapeTopic(%q) = %q, %v, want ErrSubject", token, got, err)
		}
	}
}

// Every byte string escapes to one valid subject token and back.
func FuzzEscapeTopic(f *testing.F) {
	for _, s := range []string{"lobby", "a.b.*.>", "100%", " \t\r\n", "\xff\x00", "%2E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		token := EscapeTopic(topic)
		if strings.ContainsAny(token, ".*> \t\r\n") {
			t.Fatalf("EscapeTopic(%q) = %q holds a reserved byte", topic, token)
		}
		for i := 0; i < len(token); i++ {
			if token[i] <= ' ' || token[i] >= 0x7f {
				t.Fatalf("EscapeTopic(%q) = %q holds byte %#x", topic, token, token[i])
			}
		}
		back, err := UnescapeTopic(token)
		if err != nil || back != topic {
			t.Fatalf("UnescapeTopic(EscapeTopic(%q)) = %q, %v", topic, back, err)
		}
		// And the other way: a token that unescapes escapes back to itself.
		if tp, err := UnescapeTopic(topic); err == nil && EscapeTopic(tp) != topic {
			t.Fatalf("EscapeTopic(UnescapeTopic(%q)) = %q", topic, EscapeTopic(tp))
		}
	})
}

func TestValidPrefix(t *testing.T) {
	for p, want := range map[string]bool{
		"unievent": true, "app.chat": true, "$app": true,
		"": false, ".a": false, "a.": false, "a..b": false, "a.*": false,
		"a.>": false, "a b": false, "caf\xc3\xa9": false,
	} {
		if got := validPrefix(p); got != want {
			t.Errorf("validPrefix(%q) = %v, want %v", p, got, want)
		}
	}
}
