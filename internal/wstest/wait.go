package wstest

import (
	"testing"
	"time"
)

// WaitTimeout is how long WaitFor waits before it fails the test: far
// beyond what any condition needs on a loaded machine, so that it only
// bounds a test that would otherwise hang.
const WaitTimeout = 10 * time.Second

// pollInterval is how often a condition is checked again.
const pollInterval = time.Millisecond

// WaitFor waits until cond returns true, checking it every millisecond,
// and fails the test (tb.Fatalf, naming what) if that takes longer than
// WaitTimeout. Tests use it to order events on a condition they can
// observe instead of sleeping.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if !Poll(WaitTimeout, cond) {
		tb.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
	}
}

// Poll reports whether cond returns true within timeout, checking it every
// millisecond (and once more at the deadline).
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(pollInterval, time.Until(deadline)))
	}
}
