package frame

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOpcode(t *testing.T) {
	type props struct {
		Control, Data bool
		Name          string
	}
	tests := []struct {
		op   Opcode
		want props
	}{
		{OpContinuation, props{false, true, "continuation"}},
		{OpText, props{false, true, "text"}},
		{OpBinary, props{false, true, "binary"}},
		{3, props{false, true, "opcode(3)"}},
		{7, props{false, true, "opcode(7)"}},
		{OpClose, props{true, false, "close"}},
		{OpPing, props{true, false, "ping"}},
		{OpPong, props{true, false, "pong"}},
		{0xB, props{true, false, "opcode(11)"}},
		{0xF, props{true, false, "opcode(15)"}},
		{0x10, props{false, false, "opcode(16)"}},
	}
	for _, tt := range tests {
		got := props{tt.op.IsControl(), tt.op.IsData(), tt.op.String()}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("opcode %d (-want +got):\n%s", uint8(tt.op), diff)
		}
	}
}

func TestOpcodeValues(t *testing.T) {
	// RFC 6455 section 5.2 fixes these numbers on the wire.
	got := []Opcode{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong}
	want := []Opcode{0, 1, 2, 8, 9, 10}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("opcode values (-want +got):\n%s", diff)
	}
}
