//go:build !linux

package fdtable

func reserve(int) int { return 0 }

// Size returns 0: only Linux is known to need the table sized ahead.
func Size() int { return 0 }
