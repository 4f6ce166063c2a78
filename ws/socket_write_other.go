//go:build !linux || unievent_nopoll

package ws

// writeFirstLocked: without a non-blocking writev, the blocking flush
// (flush.go) does all the writing.
func (q *sendQueue) writeFirstLocked() error { return nil }

// claimedWriter, without a non-blocking write, hands each queue of a
// deferred run (runDeferred) to a flushing goroutine of its own.
type claimedWriter struct{}

func newClaimedWriter() claimedWriter { return claimedWriter{} }

func (claimedWriter) done() {}

func (claimedWriter) write(q *sendQueue) { go q.flushAsync() }
