//go:build race

package deflatetest

const raceEnabled = true
