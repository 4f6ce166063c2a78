package ws

import "testing"

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
