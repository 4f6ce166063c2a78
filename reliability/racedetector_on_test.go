//go:build race

package reliability

// raceEnabled loosens the memory bounds: under the race detector a
// sync.Pool drops a share of what it is given, so the buffer pool misses
// and allocates where it would reuse.
const raceEnabled = true
