//go:build !linux

package server

import (
	"errors"
	"net"
)

const reusePortSupported = false

func setReusePort(uintptr) error { return ErrNoReusePort }

// setBacklog: outside Linux the backlog of an open socket cannot be changed
// portably, so a Backlog other than 0 is refused rather than ignored.
func setBacklog(net.Listener, int) error {
	return errors.New("server: Location.Backlog is only supported on Linux")
}
