//go:build race

package frame

// raceEnabled lets the quadratic stream tests thin out their split points:
// the race detector instruments every word the unmasking loop touches.
const raceEnabled = true
