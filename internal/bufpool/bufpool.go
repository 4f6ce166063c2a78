// Package bufpool keeps byte slices in size classes (powers of two from
// 512 B to 4 MiB) so that connections borrow read, reassembly and write
// buffers only while they use them and idle connections hold none.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 9  // 512 B
	maxShift = 22 // 4 MiB
)

var pools [maxShift - minShift + 1]sync.Pool

// class returns the index of the smallest class holding n bytes, or -1
// when n is above the largest class.
func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	s := bits.Len(uint(n - 1))
	if s > maxShift {
		return -1
	}
	return s - minShift
}

// Get returns a slice of length 0 and capacity at least n.
func Get(n int) []byte {
	c := class(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		b := *p
		*p = nil
		boxes.Put(p)
		return b[:0]
	}
	return make([]byte, 0, 1<<(c+minShift))
}

// Put gives b back for reuse. b must not be used afterwards. Slices whose
// capacity is not exactly a class size (grown by append, or too large) are
// left to the garbage collector.
func Put(b []byte) {
	c := cap(b)
	if c < 1<<minShift || c > 1<<maxShift || c&(c-1) != 0 {
		return
	}
	p, _ := boxes.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = b[:0]
	pools[bits.Len(uint(c))-1-minShift].Put(p)
}

// Grow returns b with room for n more bytes, moving its contents to a
// larger pooled slice (and returning the old one) when needed.
func Grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := Get(max(len(b)+n, 2*cap(b)))
	nb = append(nb, b...)
	Put(b)
	return nb
}

// boxes recycles the *[]byte headers sync.Pool needs, so that Get and Put
// allocate nothing in steady state.
var boxes = sync.Pool{New: func() any { return new([]byte) }}
