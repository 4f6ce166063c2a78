//go:build unix && (race || !linux)

package ws

import (
	"syscall"
	"unsafe"
)

// readNB, writeNB and writevNB through the syscall package: for -race
// builds, whose race detector its calls tell that a write to a descriptor
// happens before a read of it, and outside Linux (see sysnb_linux.go).
func readNB(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}

func writeNB(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}

func writevNB(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
