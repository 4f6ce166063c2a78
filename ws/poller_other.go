//go:build !linux || unievent_nopoll

package ws

// poller: there is none outside Linux (or with the build tag
// unievent_nopoll); every connection keeps its I/O goroutine.
type poller struct{}

const pollable = false

const handoffWait = 0

func (l *Loop) poll(*Conn) bool { return false }

func (p *poller) touch(*Conn) {}

// writeFirst: the blocking flush does all the writing here.
func (w *writer) writeFirst() error { return nil }
