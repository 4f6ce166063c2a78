package ws

import (
	"iter"
	"reflect"
	"sync/atomic"
)

// Event is a list of listeners of one kind, the Go form of the "_event"
// objects of the Perl module UniEvent::WebSocket::Server: Add and Prepend
// register listeners, Remove unregisters one, Set replaces them all (its
// "_callback" form).
//
// Every method is safe to call from any goroutine, also from inside a
// listener of the same event. Listeners run on the loop that owns the event,
// in order; a change made while the event is being dispatched takes effect
// from the next dispatch.
type Event[F any] struct {
	// list is copied on write: a writer swaps in a new slice with a
	// compare-and-swap (update), readers load it. No mutex: a connection
	// has six events, and an idle connection's size counts.
	list atomic.Pointer[[]*Listener[F]]
}

// Listener is the handle Add and Prepend return; pass it to Remove.
type Listener[F any] struct {
	f F
}

// Add appends f to the listeners and returns its handle.
func (e *Event[F]) Add(f F) *Listener[F] {
	l := &Listener[F]{f: f}
	e.update(func(old []*Listener[F]) []*Listener[F] {
		return append(append(make([]*Listener[F], 0, len(old)+1), old...), l)
	})
	return l
}

// Prepend puts f before every other listener and returns its handle.
func (e *Event[F]) Prepend(f F) *Listener[F] {
	l := &Listener[F]{f: f}
	e.update(func(old []*Listener[F]) []*Listener[F] {
		return append(append(make([]*Listener[F], 0, len(old)+1), l), old...)
	})
	return l
}

// Remove unregisters the listener l; it reports whether l was registered.
func (e *Event[F]) Remove(l *Listener[F]) bool {
	found := false
	e.update(func(old []*Listener[F]) []*Listener[F] {
		found = false // change may run again, on a newer list
		out := make([]*Listener[F], 0, len(old))
		for _, x := range old {
			if x == l {
				found = true
				continue
			}
			out = append(out, x)
		}
		return out
	})
	return found
}

// Set replaces every listener with f alone; a nil f removes them all.
func (e *Event[F]) Set(f F) {
	v := reflect.ValueOf(&f).Elem()
	isNil := v.Kind() == reflect.Func && v.IsNil()
	e.update(func([]*Listener[F]) []*Listener[F] {
		if isNil {
			return nil
		}
		return []*Listener[F]{{f: f}}
	})
}

// len returns the number of listeners.
func (e *Event[F]) len() int {
	if p := e.list.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// All iterates over the listeners registered when it is called, in order.
func (e *Event[F]) All() iter.Seq[F] {
	ls := e.snapshot()
	return func(yield func(F) bool) {
		for _, l := range ls {
			if !yield(l.f) {
				return
			}
		}
	}
}

// snapshot returns the current listeners without allocating; the slice is
// never modified afterwards.
func (e *Event[F]) snapshot() []*Listener[F] {
	if p := e.list.Load(); p != nil {
		return *p
	}
	return nil
}

// update replaces the listeners with change's result; when another writer
// got there first, change runs again on the newer list.
func (e *Event[F]) update(change func([]*Listener[F]) []*Listener[F]) {
	for {
		p := e.list.Load()
		var old []*Listener[F]
		if p != nil {
			old = *p
		}
		next := change(old)
		if e.list.CompareAndSwap(p, &next) {
			return
		}
	}
}
