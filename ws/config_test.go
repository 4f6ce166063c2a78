package ws

import (
	"testing"

	"unievent.dev/ws/permessagedeflate"
)

// DefaultConfig stands for the zero Config: connections made with either
// get the same settings.
func TestDefaultConfigIsTheZeroConfig(t *testing.T) {
	zero, def := Config{}, DefaultConfig()
	if got, want := *def.makeSettings(), *zero.makeSettings(); got != want {
		t.Fatalf("DefaultConfig's settings %+v, the zero Config's %+v", got, want)
	}
	if err := def.Validate(); err != nil {
		t.Fatalf("DefaultConfig does not validate: %v", err)
	}
}

// Config.Validate refuses every setting that cannot work.
func TestConfigValidateRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative MaxFrameSize", Config{MaxFrameSize: -1}},
		{"negative MaxMessageSize", Config{MaxMessageSize: -1}},
		{"negative MaxFragments", Config{MaxFragments: -1}},
		{"negative SendQueueLimit", Config{SendQueueLimit: -1}},
		{"negative ReadBufferSize", Config{ReadBufferSize: -1}},
		{"ReadBufferSize below 512", Config{ReadBufferSize: 511}},
		{"unknown SendQueuePolicy", Config{SendQueuePolicy: BackpressureRefuse + 1}},
		{"deflate level 10", Config{Deflate: &permessagedeflate.Config{Level: 10}}},
		{"deflate window bits 7", Config{Deflate: &permessagedeflate.Config{ServerMaxWindowBits: 7}}},
	} {
		if err := tc.cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if err := (&Config{ReadBufferSize: 512, IdleTimeout: -1}).Validate(); err != nil {
		t.Errorf("a valid config refused: %v", err)
	}
}
