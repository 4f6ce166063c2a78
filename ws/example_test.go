package ws_test

import (
	"context"
	"fmt"
	"log"
	"sync"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/server"
)

// A loop runs callbacks one at a time: functions posted from several
// goroutines update a counter without a lock. Nothing runs before Run;
// with no active handle (no running server, no open connection) Run runs
// what was posted and returns. A running server keeps it going (see
// package unievent.dev/ws/server).
func ExampleLoop() {
	loop := ws.NewLoop()
	counter := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				loop.Post(func() { counter++ })
			}
		}()
	}
	wg.Wait()
	loop.Post(func() { fmt.Println("counter:", counter) })

	if err := loop.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("Run returned: no active handle left")
	// Output:
	// counter: 4000
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

// DefaultConfig is what the zero Config stands for: every limit and
// timeout is on.
func ExampleDefaultConfig() {
	c := ws.DefaultConfig()
	fmt.Println("MaxMessageSize:", c.MaxMessageSize>>20, "MiB")
	fmt.Println("MaxFrameSize:", c.MaxFrameSize>>20, "MiB")
	fmt.Println("MaxFragments:", c.MaxFragments)
	fmt.Println("SendQueueLimit:", c.SendQueueLimit>>20, "MiB")
	fmt.Println("CloseTimeout:", c.CloseTimeout)
	fmt.Println("IdleTimeout:", c.IdleTimeout)
	fmt.Println("PingInterval:", c.PingInterval)
	fmt.Println("PongTimeout:", c.PongTimeout)
	fmt.Println("WriteTimeout:", c.WriteTimeout)
	fmt.Println("MessageTimeout:", c.MessageTimeout, "(off)")
	fmt.Println("ReadBufferSize:", c.ReadBufferSize>>10, "KiB")
	// Output:
	// MaxMessageSize: 4 MiB
	// MaxFrameSize: 4 MiB
	// MaxFragments: 65536
	// SendQueueLimit: 8 MiB
	// CloseTimeout: 5s
	// IdleTimeout: 2m0s
	// PingInterval: 30s
	// PongTimeout: 20s
	// WriteTimeout: 30s
	// MessageTimeout: 0s (off)
	// ReadBufferSize: 32 KiB
}

// A prepared message is encoded once and shared by every connection it is
// sent to: here a server sends one to each of its connections.
func ExamplePreparedMessage() {
	serverLoop, clientLoop := ws.NewLoop(), ws.NewLoop()
	srv, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, serverLoop)
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Run(); err != nil {
		log.Fatal(err)
	}
	go serverLoop.Run()
	addr, _ := srv.Addr()

	got := make(chan string, 2)
	for range 2 {
		c, err := client.Dial(context.Background(), "ws://"+addr.String()+"/", nil, clientLoop)
		if err != nil {
			log.Fatal(err)
		}
		c.OnMessage(func(c *ws.Conn, m *ws.Message) {
			got <- string(m.Payload)
			c.Close(frame.CloseNormal, "")
		})
	}
	clientDone := make(chan error)
	go func() { clientDone <- clientLoop.Run() }()

	pm, err := ws.NewPreparedMessage(ws.OpText, []byte(`{"price":101.25}`))
	if err != nil {
		log.Fatal(err)
	}
	serverLoop.Exec(func() {
		for c := range srv.Connections() {
			if err := c.SendPrepared(pm); err != nil {
				log.Print(err)
			}
		}
	})
	fmt.Println(<-got)
	fmt.Println(<-got)
	<-clientDone
	srv.Stop()
	// Output:
	// {"price":101.25}
	// {"price":101.25}
}
