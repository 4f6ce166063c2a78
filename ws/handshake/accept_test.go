package handshake

import (
	"encoding/base64"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{sampleKey, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, // RFC 6455 section 1.3
		{"", "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w="},
		// Longer than the stack buffer: must still hash the whole key.
		{"a longer key than any client should send, to leave the stack buffer", "3JAGk289mLKr7TradlF3mt3LAyY="},
	}
	for _, tt := range tests {
		if got := AcceptKey(tt.key); got != tt.want {
			t.Errorf("AcceptKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for range 8 {
		k, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(raw) != 16 || !validKey(k) {
			t.Fatalf("NewKey() = %q: decodes to %d bytes, %v", k, len(raw), err)
		}
		if seen[k] {
			t.Fatalf("NewKey() repeated %q", k)
		}
		seen[k] = true
	}
}

func BenchmarkAcceptKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		AcceptKey(sampleKey)
	}
}
