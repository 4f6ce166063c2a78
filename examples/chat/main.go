// Command chat is a chat room in a web page: one standalone server serves
// the page at / and the room's WebSocket endpoint at /ws.
//
//	go run ./examples/chat [-addr 127.0.0.1:8080]
//
// It prints "listening on ws://HOST:PORT/" once it listens; open
// http://HOST:PORT/ in a few browser windows. On SIGINT or SIGTERM it
// closes every connection with 1001 (going away) and exits once the
// closing handshakes are over.
//
// The page, its script and its style sheet are compiled into the program
// (embed) and served by the server's HTTP handler (Server.SetHTTPHandler),
// which hands upgrade requests for /ws to Server.UpgradeConnection and
// answers upgrade requests for any other path with 404. The handshake
// callback refuses a browser whose Origin is not this server, so that a
// page of another site cannot join the room in its visitor's name
// (cross-site WebSocket hijacking).
//
// A client sends each chat line as a JSON text message
// {"name": "...", "text": "..."}. The server decodes it (encoding/json,
// unknown fields refused), checks it (a text of 1 to 1000 characters, a
// name of at most 32, control characters removed, "anonymous" for no
// name), encodes it again and sends the result to every connection
// (Server.Connections): it never relays a client's bytes. Messages over 4
// KiB close the connection with 1009 (Config.MaxMessageSize), binary ones
// with 1003. Joins and leaves are announced in the same form with an empty
// name, which no user can have; a line the server refuses is answered the
// same way, to its sender only.
//
// The room's state is only touched by callbacks of the server's loop,
// which never run concurrently, so it needs no lock.
package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

//go:embed static
var static embed.FS

const (
	maxMessageSize = 4 << 10
	maxNameRunes   = 32
	maxTextRunes   = 1000
	// sendQueueLimit is how far a reader may fall behind the room: past
	// it the connection is closed (ws.BackpressureClose, the default)
	// rather than buffered for without bound.
	sendQueueLimit = 256 << 10
)

// message is a chat line, as clients send it and as the room sends it to
// everyone. An empty Name marks an announcement from the server.
type message struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("chat: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("chat: -addr: bad port %q", portStr)
	}
	srv, err := newChat(server.Location{Host: host, Port: port}, nil)
	if err != nil {
		log.Fatalf("chat: %v", err)
	}
	if err := srv.Run(); err != nil {
		log.Fatalf("chat: %v", err)
	}
	a, err := srv.Addr()
	if err != nil {
		log.Fatalf("chat: %v", err)
	}
	fmt.Printf("listening on ws://%s/\n", a)
	log.Printf("chat: open http://%s/ in a browser", a)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop(frame.CloseAway)
	}()
	if err := srv.Loop().Run(); err != nil {
		log.Fatalf("chat: %v", err)
	}
}

// newChat returns the chat server for loc, ready to Run, on loop (nil:
// ws.DefaultLoop()).
func newChat(loc server.Location, loop *ws.Loop) (*server.Server, error) {
	cfg := server.Config{Locations: []server.Location{loc}}
	cfg.MaxMessageSize = maxMessageSize
	cfg.SendQueueLimit = sendQueueLimit
	srv, err := server.New(cfg, loop)
	if err != nil {
		return nil, err
	}
	r := &room{srv: srv, names: make(map[uint64]string)}
	srv.SetHTTPHandler(routes(srv))
	srv.OnHandshake(sameOrigin)
	srv.OnConnection(r.join)
	srv.OnDisconnection(r.leave)
	return srv, nil
}

// routes serves the page and sends upgrade requests for /ws to srv.
func routes(srv *server.Server) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	page := http.FileServerFS(files)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			// Answered, so the server does not upgrade it: the room
			// is on /ws only.
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		page.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		// UpgradeConnection answers every request itself: 101, or the
		// refusal (a plain GET gets the handshake's error response).
		srv.UpgradeConnection(w, r)
	})
	return mux
}

// sameOrigin is the handshake callback: it refuses a browser's request
// sent by a page of another origin. Browsers always send Origin (RFC 6455
// section 10.2); other clients do not, and have no page to protect.
func sameOrigin(_ *server.Server, c *server.Conn, req *handshake.Request) {
	if req.Err() != nil {
		return // the default error response goes out
	}
	origin := req.Origin()
	if origin == "" {
		return
	}
	if u, err := url.Parse(origin); err != nil || !strings.EqualFold(u.Host, req.HTTP.Host) {
		c.SendAcceptError(http.StatusForbidden, "cross-origin WebSocket requests are refused", nil)
	}
}

// room is the chat's state. Only callbacks of the server's loop touch it.
type room struct {
	srv   *server.Server
	names map[uint64]string // by connection id: the name it last used
}

func (r *room) join(s *server.Server, c *server.Conn, _ *handshake.Request) {
	r.names[c.ID()] = ""
	c.OnMessage(r.receive)
	r.broadcast(message{Text: fmt.Sprintf("#%d joined (%d online)", c.ID(), s.Len())})
}

func (r *room) leave(s *server.Server, c *server.Conn) {
	who := fmt.Sprintf("#%d", c.ID())
	if name := r.names[c.ID()]; name != "" {
		who = fmt.Sprintf("%s (%s)", name, who)
	}
	delete(r.names, c.ID())
	r.broadcast(message{Text: fmt.Sprintf("%s left (%d online)", who, s.Len())})
}

func (r *room) receive(c *ws.Conn, m *ws.Message) {
	if !m.IsText() {
		c.Close(frame.CloseUnsupportedData, "text messages only")
		return
	}
	msg, err := parseMessage(m.Payload)
	if err != nil {
		c.Send(ws.OpText, encode(message{Text: "not sent: " + err.Error()}))
		return
	}
	r.names[c.ID()] = msg.Name
	r.broadcast(msg)
}

// broadcast sends msg to every connection. A send fails only for a
// connection that is closing already (ws.ErrClosed), or whose reader fell
// too far behind and is being closed for it (ws.ErrBackpressure): the
// others are not held up by it.
func (r *room) broadcast(msg message) {
	b := encode(msg)
	for c := range r.srv.Connections() {
		c.Send(ws.OpText, b)
	}
}

func encode(msg message) []byte {
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err) // two strings always encode
	}
	return b
}

// parseMessage decodes and checks a chat line from a client.
func parseMessage(p []byte) (message, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	var m message
	if err := dec.Decode(&m); err != nil {
		return message{}, errors.New(`expected {"name": "...", "text": "..."}`)
	}
	if _, err := dec.Token(); err != io.EOF {
		return message{}, errors.New("data after the JSON object")
	}
	m.Name = strings.TrimSpace(strings.Map(dropControl(false), m.Name))
	if m.Name == "" {
		m.Name = "anonymous"
	}
	if utf8.RuneCountInString(m.Name) > maxNameRunes {
		return message{}, fmt.Errorf("name longer than %d characters", maxNameRunes)
	}
	m.Text = strings.TrimSpace(strings.Map(dropControl(true), m.Text))
	if m.Text == "" {
		return message{}, errors.New("empty text")
	}
	if utf8.RuneCountInString(m.Text) > maxTextRunes {
		return message{}, fmt.Errorf("text longer than %d characters", maxTextRunes)
	}
	return m, nil
}

// dropControl returns a strings.Map function that removes control
// characters, keeping line breaks and tabs when multiline is set.
func dropControl(multiline bool) func(rune) rune {
	return func(r rune) rune {
		if multiline && (r == '\n' || r == '\t') {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}
}
