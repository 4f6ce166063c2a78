//go:build unix && !linux && !race

package ws

import "syscall"

// readNB is read(2) on a non-blocking socket; only Linux makes it without
// the scheduler (sysnb_linux.go).
func readNB(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}
