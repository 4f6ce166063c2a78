package server_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// The examples run each server on a loop of its own, listening on a free
// port of 127.0.0.1, and talk to it with the project's test client. A
// program would use ws.DefaultLoop (server.New without a loop) and call
// srv.Loop().Run() in main, as examples/echo does.

// timeout bounds every read of the examples' clients.
const timeout = 5 * time.Second

// loopback is the location the examples listen on: port 0 picks a free
// port, which Server.Addr reports.
var loopback = server.Location{Host: "127.0.0.1"}

// runLoop runs loop on a goroutine; the function it returns waits until
// the loop's Run has returned.
func runLoop(loop *ws.Loop) (wait func()) {
	done := make(chan struct{})
	go func() {
		if err := loop.Run(); err != nil {
			log.Fatal(err)
		}
		close(done)
	}()
	return func() { <-done }
}

// newServer makes a server with cfg on a loop of its own.
func newServer(cfg server.Config) *server.Server {
	srv, err := server.New(cfg, ws.NewLoop())
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

// serve runs srv and its loop (ExampleNew shows the two steps) and returns
// the server's first address, nil when it has no location; wait waits
// until the loop's Run has returned.
func serve(srv *server.Server) (addr net.Addr, wait func()) {
	if err := srv.Run(); err != nil {
		log.Fatal(err)
	}
	wait = runLoop(srv.Loop())
	addr, _ = srv.Addr()
	return addr, wait
}

// shutdown stops srv, completes the closing handshake of each client and
// waits until the loop has returned.
func shutdown(srv *server.Server, wait func(), clients ...*wstest.Client) {
	srv.Stop()
	for _, c := range clients {
		answerClose(c)
	}
	wait()
}

// echo makes every connection of srv send each message back.
func echo(srv *server.Server) {
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
}

func dial(addr net.Addr, path string, h http.Header) *wstest.Client {
	c, err := wstest.Dial(addr.String(), path, h)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// roundTrip sends a text message and returns the first message that comes
// back.
func roundTrip(c *wstest.Client, text string) string {
	if err := c.WriteMessage(1, []byte(text)); err != nil {
		log.Fatal(err)
	}
	return read(c)
}

// read returns the payload of the next message.
func read(c *wstest.Client) string {
	_, p, _, err := c.ReadMessage(timeout)
	if err != nil {
		log.Fatal(err)
	}
	return string(p)
}

// answerClose completes a closing handshake the server started: it reads
// the server's close frame, sends one back with the same code and waits
// for the server to end the TCP connection. It returns the code.
func answerClose(c *wstest.Client) int {
	defer c.Close()
	code, _, err := c.ExpectClose(timeout)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WriteFrame(true, 8, wstest.ClosePayload(code, "")); err != nil {
		log.Fatal(err)
	}
	if err := c.ExpectEOF(timeout); err != nil {
		log.Fatal(err)
	}
	return code
}

// closeClient starts the closing handshake from the client side and waits
// for the server's answer and the end of the TCP connection.
func closeClient(c *wstest.Client, code int, reason string) {
	defer c.Close()
	if err := c.WriteFrame(true, 8, wstest.ClosePayload(code, reason)); err != nil {
		log.Fatal(err)
	}
	if _, _, err := c.ExpectClose(timeout); err != nil {
		log.Fatal(err)
	}
	if err := c.ExpectEOF(timeout); err != nil {
		log.Fatal(err)
	}
}

// upgradeStatus sends an upgrade request and returns the status and body
// of the answer, for requests the server refuses.
func upgradeStatus(addr net.Addr, path string, h http.Header) (int, string) {
	nc, err := net.DialTimeout("tcp", addr.String(), timeout)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	req, _ := wstest.Request(addr.String(), path, h)
	resp, err := wstest.RoundTrip(nc, req)
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// get fetches a plain HTTP page and returns its status and body.
func get(url string) (int, string) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// A standalone echo server: New with locations, callbacks, Run, then the
// loop's Run serves it until Stop.
func ExampleNew() {
	loop := ws.NewLoop()
	srv, err := server.New(server.Config{Locations: []server.Location{loopback}}, loop)
	if err != nil {
		log.Fatal(err)
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
	if err := srv.Run(); err != nil { // returns at once
		log.Fatal(err)
	}
	wait := runLoop(loop) // a program would call loop.Run() in main

	addr, err := srv.Addr()
	if err != nil {
		log.Fatal(err)
	}
	c := dial(addr, "/", nil)
	fmt.Println("echo:", roundTrip(c, "hello"))

	srv.Stop() // 1001 (going away) to every peer
	fmt.Println("client got close code", answerClose(c))
	wait()
	fmt.Println("loop returned")
	// Output:
	// echo: hello
	// client got close code 1001
	// loop returned
}

// Configure applies a new config to new connections only, and diffs the
// locations: a removed location stops listening while its connections
// carry on under the config they started with.
func ExampleServer_Configure() {
	cfg := server.Config{Locations: []server.Location{loopback}}
	cfg.MaxMessageSize = 16
	srv := newServer(cfg)
	echo(srv)
	first, wait := serve(srv)
	old := dial(first, "/", nil)

	// A second location (with Nagle's algorithm on, for bulk clients) and
	// a larger message limit.
	bulk := server.Location{Host: "127.0.0.1", Nagle: true}
	cfg.Locations = []server.Location{loopback, bulk}
	cfg.MaxMessageSize = 1024
	if err := srv.Configure(cfg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("listeners:", len(srv.Listeners()))

	// Drop the first location.
	cfg.Locations = []server.Location{bulk}
	if err := srv.Configure(cfg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("listeners:", len(srv.Listeners()))

	addr, _ := srv.Addr()
	newer := dial(addr, "/", nil)
	long := strings.Repeat("x", 32)
	fmt.Println("new connection echoes", len(roundTrip(newer, long)), "bytes")

	fmt.Println("old connection still echoes:", roundTrip(old, "still here"))
	if err := old.WriteMessage(1, []byte(long)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("old connection, 32 bytes: closed with", answerClose(old))

	shutdown(srv, wait, newer)
	// Output:
	// listeners: 2
	// listeners: 1
	// new connection echoes 32 bytes
	// old connection still echoes: still here
	// old connection, 32 bytes: closed with 1009
}

// Stop closes every connection with the given code; the close and
// disconnection callbacks run as the closing handshakes finish, and the
// loop's Run returns when nothing is left on it.
func ExampleServer_Stop() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	var events []string // appended to by callbacks, which never overlap
	joined := make(chan struct{}, 2)
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnClose(func(c *ws.Conn, code ws.CloseCode, _ string) {
			events = append(events, fmt.Sprintf("connection %d closed with %d", c.ID(), code))
		})
		joined <- struct{}{}
	})
	srv.OnDisconnection(func(s *server.Server, c *server.Conn) {
		events = append(events, fmt.Sprintf("connection %d disconnected", c.ID()))
	})
	addr, wait := serve(srv)
	a := dial(addr, "/", nil)
	b := dial(addr, "/", nil)
	<-joined // the server has registered a connection once its
	<-joined // connection callback runs, shortly after the 101

	srv.Stop(frame.CloseServiceRestart)
	fmt.Println("clients got", answerClose(a), answerClose(b))
	wait()

	// The loop has returned: reading what its callbacks wrote is safe.
	slices.Sort(events)
	for _, e := range events {
		fmt.Println(e)
	}
	fmt.Println("connections left:", srv.Len())
	// Output:
	// clients got 1012 1012
	// connection 1 closed with 1012
	// connection 1 disconnected
	// connection 2 closed with 1012
	// connection 2 disconnected
	// connections left: 0
}

// StopListening closes the listening sockets and leaves established
// connections alone; StartListening opens them again (a port 0 location
// on a new port).
func ExampleServer_StopListening() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	echo(srv)
	addr, wait := serve(srv)
	c := dial(addr, "/", nil)

	srv.StopListening()
	fmt.Println("listeners:", len(srv.Listeners()))
	_, err := net.DialTimeout("tcp", addr.String(), timeout)
	fmt.Println("new connection refused:", err != nil)
	fmt.Println("established connection echoes:", roundTrip(c, "ping"))

	if err := srv.StartListening(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("listeners:", len(srv.Listeners()))
	addr, _ = srv.Addr()
	d := dial(addr, "/", nil)
	fmt.Println("new connection echoes:", roundTrip(d, "pong"))

	shutdown(srv, wait, c, d)
	// Output:
	// listeners: 0
	// new connection refused: true
	// established connection echoes: ping
	// listeners: 1
	// new connection echoes: pong
}

// Connection finds a connection by its id, from any goroutine; once the
// connection is gone it returns nil.
func ExampleServer_Connection() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	ids := make(chan uint64, 1)
	gone := make(chan bool, 1)
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		ids <- c.ID()
	})
	srv.OnDisconnection(func(s *server.Server, c *server.Conn) {
		gone <- s.Connection(c.ID()) == nil
	})
	addr, wait := serve(srv)
	c := dial(addr, "/", nil)

	id := <-ids
	fmt.Println("connected:", id)
	// Sends are safe from any goroutine, not only from callbacks.
	if err := srv.Connection(id).SendText("pushed from outside the loop"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("client got:", read(c))
	fmt.Println("unknown id gives nil:", srv.Connection(id+100) == nil)

	closeClient(c, 1000, "")
	fmt.Println("after disconnection, Connection(id) is nil:", <-gone)
	shutdown(srv, wait)
	// Output:
	// connected: 1
	// client got: pushed from outside the loop
	// unknown id gives nil: true
	// after disconnection, Connection(id) is nil: true
}

// Connections iterates over every connection, in id order: here each
// message is broadcast to all of them.
func ExampleServer_Connections() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	joined := make(chan struct{}, 3)
	srv.OnConnection(func(s *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(from *ws.Conn, m *ws.Message) {
			text := fmt.Sprintf("%d says %s", from.ID(), m.Payload)
			for peer := range s.Connections() {
				peer.SendText(text)
			}
		})
		joined <- struct{}{}
	})
	addr, wait := serve(srv)
	var clients []*wstest.Client
	for range 3 {
		clients = append(clients, dial(addr, "/", nil))
		<-joined // the connection is registered once its connection callback ran
	}

	if err := clients[1].WriteMessage(1, []byte("hello, everyone")); err != nil {
		log.Fatal(err)
	}
	for i, c := range clients {
		fmt.Printf("client %d got: %s\n", i+1, read(c))
	}

	srv.Stop()
	for _, c := range clients {
		answerClose(c)
	}
	wait()
	// Output:
	// client 1 got: 2 says hello, everyone
	// client 2 got: 2 says hello, everyone
	// client 3 got: 2 says hello, everyone
}

// Listeners returns the listening sockets, one per open location, in the
// order of the locations.
func ExampleServer_Listeners() {
	bulk := server.Location{Host: "127.0.0.1", Nagle: true}
	srv, err := server.New(server.Config{Locations: []server.Location{loopback, bulk}}, ws.NewLoop())
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Run(); err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()

	ls := srv.Listeners()
	fmt.Println("listeners:", len(ls))
	for _, l := range ls {
		a := l.Addr().(*net.TCPAddr)
		fmt.Println(l.Addr().Network(), a.IP, a.Port != 0)
	}
	fmt.Println("first listener is Addr:", ls[0].Addr().String() == must(srv.Addr()).String())
	// Output:
	// listeners: 2
	// tcp 127.0.0.1 true
	// tcp 127.0.0.1 true
	// first listener is Addr: true
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// Addr reports the address of the first listener: the port a location
// with port 0 was given. A server that is not listening has none.
func ExampleServer_Addr() {
	srv, err := server.New(server.Config{Locations: []server.Location{loopback}}, ws.NewLoop())
	if err != nil {
		log.Fatal(err)
	}
	_, err = srv.Addr()
	fmt.Println("before Run:", errors.Is(err, server.ErrNoListeners))

	if err := srv.Run(); err != nil {
		log.Fatal(err)
	}
	addr, err := srv.Addr()
	if err != nil {
		log.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr.String())
	fmt.Println("after Run:", host, port != "0")

	srv.Stop()
	_, err = srv.Addr()
	fmt.Println("after Stop:", errors.Is(err, server.ErrNoListeners))

	// Without locations the server listens on nothing (see
	// ExampleServer_UpgradeConnection).
	mounted, _ := server.New(server.Config{}, ws.NewLoop())
	_, err = mounted.Addr()
	fmt.Println("without locations:", errors.Is(err, server.ErrNoListeners))
	// Output:
	// before Run: true
	// after Run: 127.0.0.1 true
	// after Stop: true
	// without locations: true
}

// A server without locations upgrades the requests a foreign HTTP server
// hands it. The handler decides (here: a token in the query) and calls
// UpgradeConnection; the connection then belongs to the WebSocket server
// and its loop. Mounting the Server itself (mux.Handle("/ws", srv)) does
// the same without the check.
func ExampleServer_UpgradeConnection() {
	srv := newServer(server.Config{})
	echo(srv)
	_, wait := serve(srv) // no locations: listens on nothing

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "a page of the foreign server")
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "s3cret" {
			http.Error(w, "bad token", http.StatusForbidden)
			return
		}
		// The answer (101 or a refusal) is written either way; the
		// error says why there is no connection.
		if err := srv.UpgradeConnection(w, r); err != nil {
			log.Print(err)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: timeout}
	go hs.Serve(ln)

	fmt.Println(get("http://" + ln.Addr().String() + "/"))
	fmt.Println(upgradeStatus(ln.Addr(), "/ws?token=guess", nil))
	c := dial(ln.Addr(), "/ws?token=s3cret", nil)
	fmt.Println("echo:", roundTrip(c, "upgraded by a foreign server"))

	hs.Close() // hijacked connections are not the HTTP server's any more
	fmt.Println("still echoes:", roundTrip(c, "after the HTTP server closed"))
	shutdown(srv, wait, c)
	// Output:
	// 200 a page of the foreign server
	// 403 bad token
	// echo: upgraded by a foreign server
	// still echoes: after the HTTP server closed
}

// A standalone server is an HTTP server too: its handler (HTTPConfig.Handler
// or SetHTTPHandler) answers plain requests and may decide on upgrades;
// a WebSocket request it leaves unanswered is upgraded automatically. HTTP
// returns the underlying *http.Server.
func ExampleServer_HTTP() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	echo(srv)
	srv.SetHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/index.html":
			fmt.Fprintln(w, "hello")
		case "/private/websocket":
			if r.Header.Get("Secret") != "foobar" {
				http.Error(w, "secret required", http.StatusBadRequest)
				return
			}
			srv.UpgradeConnection(w, r)
		}
		// Anything left unanswered is upgraded if it is a WebSocket
		// request.
	}))
	addr, wait := serve(srv)
	fmt.Println("header timeout:", srv.HTTP().ReadHeaderTimeout)

	fmt.Println(get("http://" + addr.String() + "/index.html"))
	fmt.Println(upgradeStatus(addr, "/private/websocket", nil))
	private := dial(addr, "/private/websocket", http.Header{"Secret": {"foobar"}})
	fmt.Println("private:", roundTrip(private, "with the secret"))
	other := dial(addr, "/any/path", nil)
	fmt.Println("any path:", roundTrip(other, "upgraded automatically"))

	shutdown(srv, wait, private, other)
	// Output:
	// header timeout: 10s
	// 200 hello
	// 400 secret required
	// private: with the secret
	// any path: upgraded automatically
}

// The handshake callback sees every upgrade request before it is answered:
// it may refuse it with any 4xx or 5xx status, or accept it with extra
// header fields and a subprotocol of the client's choice.
func ExampleServer_OnHandshake() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	srv.OnHandshake(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		if req.Err() != nil {
			return // the default error response is sent
		}
		if req.HTTP.Header.Get("Authorization") != "Bearer s3cret" {
			c.SendAcceptError(http.StatusForbidden, "authorization required", nil)
			return
		}
		resp := &handshake.Response{Header: http.Header{"X-Session": {"42"}}}
		if slices.Contains(req.Protocols, "chat.v2") {
			resp.Protocol = "chat.v2"
		}
		c.SendAcceptResponse(resp)
	})
	protocols := make(chan string, 1)
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		protocols <- c.Protocol()
	})
	addr, wait := serve(srv)

	fmt.Println(upgradeStatus(addr, "/", nil))
	c := dial(addr, "/", http.Header{
		"Authorization":          {"Bearer s3cret"},
		"Sec-Websocket-Protocol": {"chat.v1, chat.v2"},
	})
	fmt.Println(c.Resp.StatusCode, "X-Session:", c.Resp.Header.Get("X-Session"),
		"protocol:", c.Resp.Header.Get("Sec-WebSocket-Protocol"))
	fmt.Println("server side protocol:", <-protocols)

	shutdown(srv, wait, c)
	// Output:
	// 403 authorization required
	// 101 X-Session: 42 protocol: chat.v2
	// server side protocol: chat.v2
}

// The connection callback runs once a connection is established, before
// any of its messages: the place to set its listeners, greet it, or close
// it when something is wrong (better checked in the handshake callback).
func ExampleServer_OnConnection() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	srv.OnConnection(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		if req.HTTP.URL.Path == "/admin" {
			c.Close(frame.ClosePolicyViolation, "not here")
			return
		}
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
		c.SendText(fmt.Sprintf("welcome, connection %d on %s", c.ID(), req.HTTP.URL.Path))
	})
	addr, wait := serve(srv)

	c := dial(addr, "/room/1", nil)
	fmt.Println(read(c))
	fmt.Println("echo:", roundTrip(c, "hi"))

	admin := dial(addr, "/admin", nil)
	fmt.Println("admin closed with", answerClose(admin))

	shutdown(srv, wait, c)
	// Output:
	// welcome, connection 1 on /room/1
	// echo: hi
	// admin closed with 1008
}

// ConnectionEvent holds any number of connection listeners: Add appends,
// Prepend puts one first, Remove takes one out. OnConnection would replace
// them all.
func ExampleServer_ConnectionEvent() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	ev := srv.ConnectionEvent()
	ev.Add(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		fmt.Printf("log: connection %d on %s\n", c.ID(), req.HTTP.URL.Path)
	})
	metrics := ev.Add(func(*server.Server, *server.Conn, *handshake.Request) {
		fmt.Println("metrics: one more connection")
	})
	ev.Add(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.SendText("hello")
	})
	ev.Prepend(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		fmt.Printf("first: connection %d\n", c.ID())
	})
	ev.Remove(metrics)
	addr, wait := serve(srv)

	c := dial(addr, "/feed", nil)
	fmt.Println("client got:", read(c)) // sent by the last listener

	shutdown(srv, wait, c)
	// Output:
	// first: connection 1
	// log: connection 1 on /feed
	// client got: hello
}

// The disconnection callback runs after the connection's close listeners,
// when the server has forgotten the connection.
func ExampleServer_OnDisconnection() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	done := make(chan struct{})
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnClose(func(c *ws.Conn, code ws.CloseCode, reason string) {
			fmt.Printf("connection %d closed: %d %q\n", c.ID(), code, reason)
		})
	})
	srv.OnDisconnection(func(s *server.Server, c *server.Conn) {
		fmt.Printf("connection %d disconnected; registered: %v, connections: %d\n",
			c.ID(), s.Connection(c.ID()) != nil, s.Len())
		close(done)
	})
	addr, wait := serve(srv)

	c := dial(addr, "/", nil)
	closeClient(c, 1000, "bye")
	<-done

	shutdown(srv, wait)
	// Output:
	// connection 1 closed: 1000 "bye"
	// connection 1 disconnected; registered: false, connections: 0
}

// Several servers can share one loop: the callbacks of both run on it one
// at a time, so state they share needs no lock. Loop.Exec reads that state
// from outside.
func ExampleServer_Loop() {
	loop := ws.NewLoop()
	a, err := server.New(server.Config{Locations: []server.Location{loopback}}, loop)
	if err != nil {
		log.Fatal(err)
	}
	b, err := server.New(server.Config{Locations: []server.Location{loopback}}, loop)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same loop:", a.Loop() == b.Loop())

	total := 0 // touched by callbacks of both servers, which never overlap
	count := func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.OnMessage(func(c *ws.Conn, m *ws.Message) {
			total++
			c.Send(m.Opcode, m.Payload)
		})
	}
	a.OnConnection(count)
	b.OnConnection(count)
	for _, srv := range []*server.Server{a, b} {
		if err := srv.Run(); err != nil {
			log.Fatal(err)
		}
	}
	wait := runLoop(loop)

	ca := dial(must(a.Addr()), "/", nil)
	cb := dial(must(b.Addr()), "/", nil)
	finished := make(chan struct{})
	for _, c := range []*wstest.Client{ca, cb} {
		go func() {
			for range 100 {
				roundTrip(c, "tick")
			}
			finished <- struct{}{}
		}()
	}
	<-finished
	<-finished
	loop.Exec(func() { fmt.Println("messages:", total) })

	a.Stop()
	b.Stop()
	answerClose(ca)
	answerClose(cb)
	wait()
	// Output:
	// same loop: true
	// messages: 200
}

// Config returns the config in force: change one field and hand it back
// to Configure, which keeps everything else (the HTTP handler too).
func ExampleServer_Config() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	srv.SetHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	before, wait := serve(srv)

	cfg := srv.Config()
	cfg.MaxMessageSize = 1 << 20
	if err := srv.Configure(cfg); err != nil {
		log.Fatal(err)
	}
	after, _ := srv.Addr()
	fmt.Println("limit:", srv.Config().MaxMessageSize)
	fmt.Println("same listener:", before.String() == after.String())
	fmt.Println(get("http://" + after.String() + "/"))

	shutdown(srv, wait)
	// Output:
	// limit: 1048576
	// same listener: true
	// 200 hello
}

// A connection's listeners are given its *ws.Conn. The *server.Conn (its
// request, its server) is one closure away in the connection callback, or
// one lookup away by id from a listener written on its own.
func ExampleConn() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	// A listener that is not a closure: the server finds the connection
	// by the id the two share.
	whereAmI := func(wc *ws.Conn, m *ws.Message) {
		c := srv.Connection(wc.ID())
		wc.SendText(string(m.Payload) + " from " + c.Request().HTTP.URL.Path)
	}
	srv.OnConnection(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		if req.HTTP.URL.Path == "/lookup" {
			c.OnMessage(whereAmI)
			return
		}
		// A closure: c is at hand.
		c.OnMessage(func(wc *ws.Conn, m *ws.Message) {
			wc.SendText(string(m.Payload) + " from " + c.Request().HTTP.URL.Path)
		})
	})
	addr, wait := serve(srv)

	a := dial(addr, "/closure", nil)
	fmt.Println(roundTrip(a, "hello"))
	b := dial(addr, "/lookup", nil)
	fmt.Println(roundTrip(b, "hello"))

	shutdown(srv, wait, a, b)
	// Output:
	// hello from /closure
	// hello from /lookup
}

// DefaultConfig is what the zero Config stands for: every limit and
// timeout is on (the connections' own are ws.DefaultConfig's).
func ExampleDefaultConfig() {
	c := server.DefaultConfig()
	fmt.Println("HTTP.MaxHeaderBytes:", c.HTTP.MaxHeaderBytes>>10, "KiB")
	fmt.Println("HTTP.HandshakeTimeout:", c.HTTP.HandshakeTimeout)
	fmt.Println("HTTP.IdleTimeout:", c.HTTP.IdleTimeout)
	fmt.Println("HTTP.WriteTimeout:", c.HTTP.WriteTimeout)
	fmt.Println("MaxConnections:", c.MaxConnections)
	fmt.Println("RetryAfter:", c.RetryAfter, "s")
	fmt.Println("MaxHeaderFields:", c.MaxHeaderFields)
	fmt.Println("MaxMessageSize:", c.MaxMessageSize>>20, "MiB")
	// Output:
	// HTTP.MaxHeaderBytes: 8 KiB
	// HTTP.HandshakeTimeout: 10s
	// HTTP.IdleTimeout: 1m0s
	// HTTP.WriteTimeout: 30s
	// MaxConnections: 100000
	// RetryAfter: 5 s
	// MaxHeaderFields: 100
	// MaxMessageSize: 4 MiB
}

// Topics: each connection subscribes to the room its path names, and every
// message is published to that room, reaching each of its connections
// (the sender too) and no other. The message is encoded once for all of
// them.
func ExampleConn_Subscribe() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	srv.OnConnection(func(s *server.Server, c *server.Conn, req *handshake.Request) {
		room := strings.TrimPrefix(req.HTTP.URL.Path, "/")
		if err := c.Subscribe(room); err != nil {
			c.Close(frame.CloseInternalError, "")
			return
		}
		c.SendText("joined " + room)
		c.OnMessage(func(_ *ws.Conn, m *ws.Message) { s.Publish(room, m.Opcode, m.Payload) })
	})
	addr, wait := serve(srv)
	alice, bob, carol := dial(addr, "/lobby", nil), dial(addr, "/lobby", nil), dial(addr, "/games", nil)
	for _, c := range []*wstest.Client{alice, bob, carol} {
		fmt.Println(read(c))
	}
	fmt.Println("lobby has", srv.Subscribers("lobby"), "subscribers")

	fmt.Println("alice got:", roundTrip(alice, "hello lobby"))
	fmt.Println("bob got:", read(bob))
	fmt.Println("carol got:", roundTrip(carol, "hello games"))
	shutdown(srv, wait, alice, bob, carol)
	// Output:
	// joined lobby
	// joined lobby
	// joined games
	// lobby has 2 subscribers
	// alice got: hello lobby
	// bob got: hello lobby
	// carol got: hello games
}

// Publish is safe from any goroutine: here a ticker outside the loop
// publishes prices to every subscriber of "prices". A topic nobody holds
// takes the message as a no-op, counted in TopicStats.
func ExampleServer_Publish() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.Subscribe("prices")
		c.SendText("subscribed")
	})
	addr, wait := serve(srv)
	client := dial(addr, "/", nil)
	fmt.Println(read(client))

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, price := range []string{"101.5", "101.7"} {
			if err := srv.Publish("prices", ws.OpText, []byte(price)); err != nil {
				log.Fatal(i, err)
			}
		}
		srv.Publish("nobody-listens", ws.OpText, []byte("lost"))
	}()
	<-done
	fmt.Println(read(client), read(client))
	st := srv.TopicStats()
	fmt.Printf("published %d, delivered %d, to no subscriber %d\n", st.Published, st.Delivered, st.Unheld)
	shutdown(srv, wait, client)
	// Output:
	// subscribed
	// 101.5 101.7
	// published 2, delivered 2, to no subscriber 1
}

// Metrics is a snapshot of the server's counters, the connections' traffic
// summed: publish it with unievent.dev/metrics (expvar) or scrape it with
// unievent.dev/metrics/prometheus.
func ExampleServer_Metrics() {
	srv := newServer(server.Config{Locations: []server.Location{loopback}})
	echo(srv)
	gone := make(chan bool, 1)
	srv.OnDisconnection(func(*server.Server, *server.Conn) { gone <- true })
	addr, wait := serve(srv)
	a, b := dial(addr, "/", nil), dial(addr, "/", nil)
	roundTrip(a, "hello")
	roundTrip(b, "hi")
	closeClient(a, 1000, "")
	<-gone

	m := srv.Metrics()
	fmt.Println("open:", m.Open, "accepted:", m.Accepted)
	fmt.Println("messages in:", m.MessagesIn, "out:", m.MessagesOut)
	fmt.Println("closed with 1000:", m.Closes[1000])
	for _, t := range m.Transports {
		if t.Accepted > 0 {
			fmt.Printf("%s, TLS %v: %d open\n", t.Transport, t.TLS, t.Open)
		}
	}
	shutdown(srv, wait, b)
	// Output:
	// open: 1 accepted: 2
	// messages in: 2 out: 2
	// closed with 1000: 1
	// http/1.1, TLS false: 1 open
}
