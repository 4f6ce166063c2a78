//go:build !linux || unievent_nopoll

package ws

// writeFirstLocked: without a non-blocking writev, the blocking flush
// (flush.go) does all the writing.
func (q *sendQueue) writeFirstLocked() error { return nil }
