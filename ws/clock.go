package ws

import "time"

// mono is the engine's one representation of time: nanoseconds on the
// monotonic clock since the package started, 8 bytes where a time.Time
// takes 24, for the deadlines every connection keeps. 0 means unset.
type mono int64

var monoEpoch = time.Now()

// monoNow reads the monotonic clock only (time.Now reads the wall clock
// too).
func monoNow() mono { return mono(time.Since(monoEpoch)) }

// time converts m for the APIs that take a time.Time (socket deadlines);
// 0 becomes the zero time.Time, which means no deadline to them.
func (m mono) time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return monoEpoch.Add(time.Duration(m))
}
