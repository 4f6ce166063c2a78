package ws

import "unsafe"

// stringBytes views s as a byte slice without copying; the bytes must not
// be modified (the send queue only reads them while encoding).
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
