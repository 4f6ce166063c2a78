package fdtable

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

func reserve(n int) int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < uint64(n) {
		n = int(l.Cur)
	}
	if size := Size(); n <= 0 || size >= n {
		return size
	}
	// F_DUPFD takes the lowest free descriptor at or above its argument:
	// never one in use, and the table grows to hold it. Descriptor 0 may
	// be closed; any open one serves as the source.
	src := -1
	for fd := 0; fd < 3 && src < 0; fd++ {
		if _, err := fcntl(fd, syscall.F_GETFD, 0); err == nil {
			src = fd
		}
	}
	if src < 0 {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return Size()
		}
		defer syscall.Close(fd)
		src = fd
	}
	if fd, err := fcntl(src, syscall.F_DUPFD_CLOEXEC, n-1); err == nil {
		syscall.Close(fd)
	}
	return Size()
}

func fcntl(fd, cmd, arg int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// Size returns the slots of the process's descriptor table (FDSize in
// /proc/self/status), or 0 when it cannot tell.
func Size() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
