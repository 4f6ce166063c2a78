//go:build race

package nats

// raceEnabled: the race detector's own memory is in the RSS, and never
// given back.
const raceEnabled = true
