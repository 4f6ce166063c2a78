//go:build !race

package permessagedeflate

const raceEnabled = false
