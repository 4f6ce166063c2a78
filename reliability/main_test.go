// Package reliability holds the reliability and security tests of issue 8:
// hostile and broken peers, limits, faults, graceful stop, churn and race
// stress, each against a real server on 127.0.0.1. By default every test
// runs at a CI-sized scale; -reliability.full runs the full scale whose
// figures SECURITY.md quotes:
//
//	go test ./reliability -run . -v -reliability.full
//
// TestScale (Linux) is not run by default: -reliability.scale runs it,
// holding up to 19,000 connections (-reliability.scale.conns picks the
// counts) for the scale figures of docs/performance.md:
//
//	go test ./reliability -run TestScale -v -reliability.scale
//
// Tests that report figures log them with t.Logf (go test -v shows them).
package reliability

import "flag"

var full = flag.Bool("reliability.full", false, "run every test at the full scale of issue 8 (minutes, for the figures in SECURITY.md)")

// scale returns ci by default and fullScale under -reliability.full.
func scale[T any](ci, fullScale T) T {
	if *full {
		return fullScale
	}
	return ci
}
