//go:build !linux

package ws

import "net"

// readiness is not implemented here: the connection reads directly and
// holds its read buffer while it waits.
type readiness struct{}

func (*readiness) init(net.Conn) {}
func (*readiness) usable() bool  { return false }
func (*readiness) wait() error   { return nil }
