package server

import (
	"net"
	"syscall"
)

const reusePortSupported = true

// SO_REUSEPORT's value on Linux (every architecture Go supports there).
const soReusePort = 0xf

func setReusePort(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
}

// setBacklog calls listen(2) again on the listening socket: Linux takes
// the new backlog (Go's net package always passes somaxconn).
func setBacklog(ln net.Listener, backlog int) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	return lerr
}
