package fdtable

import (
	"math"
	"syscall"
	"testing"
)

func TestReserveGrowsTheTable(t *testing.T) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	before := Size()
	if before == 0 {
		t.Fatal("FDSize not found in /proc/self/status")
	}
	want := min(int(l.Cur), 4*before)
	if want <= before {
		t.Skipf("RLIMIT_NOFILE %d leaves no room above the table's %d slots", l.Cur, before)
	}
	if got := Reserve(want); got < want {
		t.Errorf("Reserve(%d) = %d slots (before %d), want at least %d", want, got, before, want)
	}
	if got := Size(); got < want {
		t.Errorf("the table has %d slots after Reserve(%d)", got, want)
	}
	// Nothing was left open at the top.
	if _, err := fcntl(want-1, syscall.F_GETFD, 0); err == nil {
		t.Errorf("descriptor %d is open after Reserve", want-1)
	}
}

func TestReserveIsBoundedByTheLimit(t *testing.T) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	got := Reserve(math.MaxInt)
	if got == 0 || uint64(got) > 2*max(l.Cur, 1024) {
		t.Errorf("Reserve past the limit %d: %d slots", l.Cur, got)
	}
	if Reserve(0) != Size() || Reserve(-1) != Size() {
		t.Error("Reserve of nothing changed or misreported the table")
	}
}
