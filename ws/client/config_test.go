package client

import "testing"

// DefaultConfig stands for the zero Config.
func TestDefaultConfigIsTheZeroConfig(t *testing.T) {
	var zero Config
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("DefaultConfig does not validate: %v", err)
	}
	if d.handshakeTimeout() != zero.handshakeTimeout() || d.maxHandshakeSize() != zero.maxHandshakeSize() {
		t.Errorf("DefaultConfig: %v and %d, the zero Config: %v and %d", d.handshakeTimeout(), d.maxHandshakeSize(), zero.handshakeTimeout(), zero.maxHandshakeSize())
	}
}
