//go:build !linux || unievent_nopoll

package ws

// Outside Linux (or with the build tag unievent_nopoll) there is no
// poller: every connection keeps its I/O goroutine (goroutineDriver).

const pollable = false

const handoffWait = 0

type pollState struct{}

type pollerSet struct{}

func (c *Conn) driver() driver { return goroutineDriver{} }

func (l *Loop) poll(*Conn) bool { return false }
