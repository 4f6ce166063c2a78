package ws

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func collect(e *Event[func(*[]string)]) []string {
	var out []string
	for f := range e.All() {
		f(&out)
	}
	return out
}

func TestEventAddPrependRemoveSet(t *testing.T) {
	var e Event[func(*[]string)]
	add := func(s string) func(*[]string) { return func(o *[]string) { *o = append(*o, s) } }
	b := e.Add(add("b"))
	e.Add(add("c"))
	e.Prepend(add("a"))
	if d := cmp.Diff([]string{"a", "b", "c"}, collect(&e)); d != "" {
		t.Fatalf("after Add/Prepend (-want +got):\n%s", d)
	}
	if !e.Remove(b) {
		t.Fatal("Remove of a registered listener returned false")
	}
	if e.Remove(b) {
		t.Fatal("second Remove returned true")
	}
	if d := cmp.Diff([]string{"a", "c"}, collect(&e)); d != "" {
		t.Fatalf("after Remove (-want +got):\n%s", d)
	}
	e.Set(add("x"))
	if d := cmp.Diff([]string{"x"}, collect(&e)); d != "" {
		t.Fatalf("after Set (-want +got):\n%s", d)
	}
	e.Set(nil)
	if e.len() != 0 {
		t.Fatalf("Set(nil) left %d listeners", e.len())
	}
}

func TestEventChangeDuringDispatch(t *testing.T) {
	var e Event[func(*[]string)]
	e.Add(func(o *[]string) {
		*o = append(*o, "first")
		e.Add(func(o *[]string) { *o = append(*o, "late") })
	})
	if d := cmp.Diff([]string{"first"}, collect(&e)); d != "" {
		t.Fatalf("a listener added during dispatch ran in it (-want +got):\n%s", d)
	}
	if e.len() != 2 {
		t.Fatalf("Len %d, want 2", e.len())
	}
}
