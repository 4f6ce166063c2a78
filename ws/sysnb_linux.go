//go:build !race

package ws

import (
	"syscall"
	"unsafe"
)

// readNB and writevNB are read(2) and writev(2) on a non-blocking socket,
// made without telling the Go scheduler (RawSyscall): such a call never
// sleeps, so there is nothing to hand the processor over for. Made with
// entersyscall, as syscall.Read does, the scheduler's monitor counted each
// write to a loopback socket (which runs the receiver's TCP input before
// it returns, tens of microseconds) as a blocked system call, and woke
// another thread to take the processor over meanwhile.
//
// Only for descriptors in non-blocking mode: every one the engine reads
// or writes is (Go's runtime poller and rawSocket set it). With -race the
// syscall package's calls are used instead (sysnb_syscall.go): they tell the
// race detector that a write to a descriptor happens before a read of
// it, as a test that talks to the engine over a socket relies on.
func readNB(fd uintptr, p []byte) (int, syscall.Errno) { return rawIO(syscall.SYS_READ, fd, p) }

func writeNB(fd uintptr, p []byte) (int, syscall.Errno) { return rawIO(syscall.SYS_WRITE, fd, p) }

// rawIO is read(2) or write(2) (trap) of p on fd.
func rawIO(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	var base unsafe.Pointer
	if len(p) > 0 {
		base = unsafe.Pointer(&p[0])
	}
	r, _, e := syscall.RawSyscall(trap, fd, uintptr(base), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

func writevNB(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
