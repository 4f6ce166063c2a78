package ws

import (
	"testing"
	"unsafe"
)

// A connection stays in the 768-byte size class on 64-bit platforms:
// every idle connection pays for each field (the bench's idle row counts
// it). Rarely used state is made on demand (readerExtra, pinLists,
// compressQueue, maskKeys), small fields share words, and an Event has no
// mutex of its own.
func TestConnSizeClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the class is for 64-bit platforms")
	}
	if n := unsafe.Sizeof(Conn{}); n > 768 {
		t.Errorf("ws.Conn is %d bytes, over the 768-byte size class", n)
	}
}
