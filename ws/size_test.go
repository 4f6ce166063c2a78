package ws

import (
	"testing"
	"unsafe"
)

// A connection stays in the 640-byte size class on 64-bit platforms:
// every idle connection pays for each field (the bench's idle row counts
// it). Rarely used state is made on demand (readerExtra, pinLists,
// compressQueue, maskKeys), what only a read in progress needs (the
// socket read, the message handed to the listeners) is the reading
// goroutine's (readScratch), small fields share words, and an Event has
// no mutex of its own.
func TestConnSizeClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the class is for 64-bit platforms")
	}
	if n := unsafe.Sizeof(Conn{}); n > 640 {
		t.Errorf("ws.Conn is %d bytes, over the 640-byte size class", n)
	}
}
