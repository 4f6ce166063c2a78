package bufpool

import "testing"

func TestGetCapacity(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 1000, 4096, 4097, 1 << 22, 1<<22 + 1} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n <= 1<<22 && cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("Get(%d): capacity %d is not a class size", n, cap(b))
		}
		Put(b)
	}
}

func TestGrowKeepsContents(t *testing.T) {
	b := append(Get(10), "hello"...)
	b = Grow(b, 5000)
	if string(b) != "hello" || cap(b)-len(b) < 5000 {
		t.Fatalf("Grow: %q cap %d", b, cap(b))
	}
	Put(b)
}

func TestPutRejectsOddCapacity(t *testing.T) {
	Put(make([]byte, 0, 1000)) // not a class size: must not be handed out by Get(1000)
	for range 100 {
		if b := Get(1000); cap(b) != 1024 {
			t.Fatalf("Get(1000) returned capacity %d", cap(b))
		}
	}
}

func BenchmarkGetPut(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Put(Get(16 << 10))
	}
}
