package ws_test

import (
	"fmt"
	"sync"

	"unievent.dev/ws"
)

// A loop runs callbacks one at a time. Functions posted before Run wait for
// it; Exec runs a function on the loop from another goroutine and waits for
// it; Run returns once the last active handle is unregistered.
func ExampleLoop() {
	loop := ws.NewLoop()
	loop.Post(func() { fmt.Println("posted before Run, runs first") })

	// An active handle keeps Run from returning, as a running server or an
	// open connection does.
	loop.Ref()

	go func() {
		// Callbacks of one loop never overlap, so the counter needs no
		// lock even though four goroutines update it.
		counter := 0
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 1000 {
					loop.Exec(func() { counter++ })
				}
			}()
		}
		wg.Wait()
		loop.Exec(func() { fmt.Println("counter:", counter) })

		loop.Post(func() {
			fmt.Println("last callback: unregistering the handle")
			loop.Unref()
		})
	}()

	if err := loop.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("Run returned: no active handle left")
	// Output:
	// posted before Run, runs first
	// counter: 4000
	// last callback: unregistering the handle
	// Run returned: no active handle left
}

// An Event holds listeners of one kind. Add and Prepend register listeners
// and return handles for Remove; Set replaces them all, the form behind the
// OnX methods. The zero Event is ready to use.
func ExampleEvent() {
	var ev ws.Event[func(string)]
	say := func(who string) func(string) {
		return func(msg string) { fmt.Printf("%s got %q\n", who, msg) }
	}
	ev.Add(say("logger"))
	metrics := ev.Add(say("metrics"))
	ev.Prepend(say("auth"))
	ev.Remove(metrics)
	for f := range ev.All() {
		f("first")
	}

	ev.Set(say("only"))
	for f := range ev.All() {
		f("second")
	}

	ev.Set(nil)
	n := 0
	for range ev.All() {
		n++
	}
	fmt.Println("listeners after Set(nil):", n)
	// Output:
	// auth got "first"
	// logger got "first"
	// only got "second"
	// listeners after Set(nil): 0
}
