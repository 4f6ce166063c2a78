package ws

import "time"

// mono is a point in time as nanoseconds on the monotonic clock since the
// package started: 8 bytes where a time.Time takes 24, for the timers every
// connection keeps. 0 means unset.
type mono int64

var monoEpoch = time.Now()

func monoOf(t time.Time) mono { return mono(t.Sub(monoEpoch)) }

// monoNow reads the monotonic clock only (time.Now reads the wall clock
// too).
func monoNow() mono { return mono(time.Since(monoEpoch)) }

func (m mono) time() time.Time { return monoEpoch.Add(time.Duration(m)) }

func (m mono) add(d time.Duration) time.Time { return m.time().Add(d) }
