package ws

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoopRunReturnsWithoutHandles(t *testing.T) {
	l := NewLoop()
	ran := false
	l.Post(func() { ran = true })
	if ran {
		t.Fatal("a posted function ran before Run")
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("Run returned without running what was posted")
	}
}

func TestLoopCallbacksNeverOverlap(t *testing.T) {
	l := NewLoop()
	l.ref()
	var inside, overlaps, count atomic.Int32
	body := func() {
		if inside.Add(1) != 1 {
			overlaps.Add(1)
		}
		time.Sleep(time.Microsecond) // a callback that takes a while, so that an overlap would show
		count.Add(1)
		inside.Add(-1)
	}
	done := make(chan error)
	go func() { done <- l.Run() }()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if i%2 == 0 {
					l.Exec(body)
				} else {
					l.Post(body)
				}
			}
		}()
	}
	wg.Wait()
	l.Exec(func() {}) // everything posted before has run once this returns
	l.unref()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d callbacks overlapped", n)
	}
	if n := count.Load(); n != 1600 {
		t.Fatalf("%d callbacks ran, want 1600", n)
	}
}

func TestLoopPostFromCallbackRunsAfterIt(t *testing.T) {
	l := NewLoop()
	var order []int
	l.Post(func() {
		l.Post(func() { order = append(order, 2) })
		order = append(order, 1)
	})
	l.Run()
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Fatalf("order %v, want [1 2]", order)
	}
}

func TestLoopStop(t *testing.T) {
	l := NewLoop()
	l.ref()
	defer l.unref()
	done := make(chan error)
	go func() { done <- l.Run() }()
	l.Exec(func() { l.Stop() })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Stop")
	}
	// A stopped loop holds events back until it runs again.
	ran := make(chan struct{})
	go l.Exec(func() { close(ran) })
	select {
	case <-ran:
		t.Fatal("callback ran while the loop was stopped")
	case <-time.After(50 * time.Millisecond):
	}
	go l.Run()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("callback did not run after Run")
	}
	l.Stop()
}

func TestLoopRunTwice(t *testing.T) {
	l := NewLoop()
	l.ref()
	go l.Run()
	l.Exec(func() {}) // Run has started
	if err := l.Run(); err != ErrLoopRunning {
		t.Fatalf("second Run: %v, want ErrLoopRunning", err)
	}
	l.unref()
}

func TestLoopPanicInPostedFunction(t *testing.T) {
	l := NewLoop()
	after := false
	l.Post(func() { panic("boom") })
	l.Post(func() { after = true })
	l.Run()
	if !after {
		t.Fatal("a panic stopped the functions posted after it")
	}
}

func BenchmarkLoopExec(b *testing.B) {
	l := NewLoop()
	l.ref()
	go l.Run()
	f := func() {}
	b.ReportAllocs()
	for b.Loop() {
		l.Exec(f)
	}
	l.unref()
}
