// Package chat is the chat of examples/chat: a chat with rooms in a web
// page, one standalone server serving the page at / and the rooms'
// WebSocket endpoint at /ws. It is a package so that other programs can
// run the same chat with more beside it (the Prometheus module's
// examples/chat serves /metrics).
//
// A page opened as http://HOST:PORT/?room=NAME joins room NAME (1 to 32
// letters, digits, '-' or '_'; "lobby" without one), and shows it.
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
// name), encodes it again and publishes the result to the sender's room
// (a topic per room: Conn.Subscribe, Server.Publish, the message encoded
// once for the whole room): it never relays a client's bytes. Messages over 4
// KiB close the connection with 1009 (Config.MaxMessageSize), binary ones
// with 1003. Joins and leaves are announced in the same form with an empty
// name, which no user can have; a line the server refuses is answered the
// same way, to its sender only.
//
// The room's state is only touched by callbacks of the server's loop,
// which never run concurrently, so it needs no lock.
//
// /debug/vars serves the standard library's expvar JSON (what the program
// published there: the command publishes the server's Metrics with
// unievent.dev/metrics) to clients on this machine only: the process's
// command line and memory statistics are for its operators.
package chat

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"expvar"
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
	// defaultRoom is the room of a page opened without ?room=NAME.
	defaultRoom = "lobby"
	maxRoomName = 32
)

// message is a chat line, as clients send it and as the room sends it to
// everyone. An empty Name marks an announcement from the server.
type message struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// Serve runs the chat on addr (host:port) until SIGINT or SIGTERM, which
// close every connection with 1001 (going away); it returns once the
// closing handshakes are over. setup, when not nil, runs on the server
// before it starts (to publish its metrics, to add routes with
// SetHTTPHandler around the chat's own). Serve prints "listening on
// ws://HOST:PORT/" once it listens.
func Serve(addr string, setup func(*server.Server) error) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-addr: bad port %q", portStr)
	}
	srv, err := New(server.Location{Host: host, Port: port}, nil)
	if err != nil {
		return err
	}
	if setup != nil {
		if err := setup(srv); err != nil {
			return err
		}
	}
	if err := srv.Run(); err != nil {
		return err
	}
	a, err := srv.Addr()
	if err != nil {
		return err
	}
	fmt.Printf("listening on ws://%s/\n", a)
	log.Printf("chat: open http://%s/ in a browser", a)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		<-sig
		srv.Stop(frame.CloseAway)
	}()
	return srv.Loop().Run()
}

// New returns the chat server for loc, ready to Run, on loop (nil:
// ws.DefaultLoop()).
func New(loc server.Location, loop *ws.Loop) (*server.Server, error) {
	cfg := server.Config{Locations: []server.Location{loc}}
	cfg.MaxMessageSize = maxMessageSize
	cfg.SendQueueLimit = sendQueueLimit
	srv, err := server.New(cfg, loop)
	if err != nil {
		return nil, err
	}
	r := &rooms{srv: srv, names: make(map[uint64]string), of: make(map[uint64]string)}
	srv.SetHTTPHandler(routes(srv))
	srv.OnHandshake(admit)
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
	mux.HandleFunc("GET /debug/vars", func(w http.ResponseWriter, r *http.Request) {
		if !fromLoopback(r) {
			http.NotFound(w, r)
			return
		}
		expvar.Handler().ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		// UpgradeConnection answers every request itself: 101, or the
		// refusal (a plain GET gets the handshake's error response).
		srv.UpgradeConnection(w, r)
	})
	return mux
}

// fromLoopback reports whether r came from this machine's loopback.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// admit is the handshake callback: it refuses a room name that is not
// one (400), and a browser's request sent by a page of another origin
// (403). Browsers always send Origin (RFC 6455 section 10.2,
// https://www.rfc-editor.org/rfc/rfc6455#section-10.2); other clients do
// not, and have no page to protect.
func admit(_ *server.Server, c *server.Conn, req *handshake.Request) {
	if req.Err() != nil {
		return // the default error response goes out
	}
	if _, ok := roomOf(req); !ok {
		c.SendAcceptError(http.StatusBadRequest, fmt.Sprintf("a room name has 1 to %d letters, digits, '-' or '_'", maxRoomName), nil)
		return
	}
	origin := req.Origin()
	if origin == "" {
		return
	}
	if u, err := url.Parse(origin); err != nil || !strings.EqualFold(u.Host, req.HTTP.Host) {
		c.SendAcceptError(http.StatusForbidden, "cross-origin WebSocket requests are refused", nil)
	}
}

// roomOf returns the room a request asks for in its query (?room=NAME),
// defaultRoom when it names none, and whether the name is valid.
func roomOf(req *handshake.Request) (string, bool) {
	name := defaultRoom
	if req.HTTP != nil && req.HTTP.URL != nil {
		if q := req.HTTP.URL.Query(); q.Has("room") {
			name = q.Get("room")
		}
	}
	if name == "" || len(name) > maxRoomName {
		return "", false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", false
		}
	}
	return name, true
}

// rooms is the chat's state: each room is a topic of the server
// ("room:" and its name), which every connection in it subscribes to.
// Only callbacks of the server's loop touch the maps.
type rooms struct {
	srv   *server.Server
	names map[uint64]string // by connection id: the name it last used
	of    map[uint64]string // by connection id: its room's topic
}

func (r *rooms) join(s *server.Server, c *server.Conn, req *handshake.Request) {
	name, _ := roomOf(req) // admit refused the invalid ones
	topic := "room:" + name
	if err := c.Subscribe(topic); err != nil {
		c.Close(frame.CloseInternalError, "could not join the room")
		return
	}
	r.names[c.ID()] = ""
	r.of[c.ID()] = topic
	c.OnMessage(r.receive)
	r.broadcast(topic, message{Text: fmt.Sprintf("#%d joined (%d online)", c.ID(), s.Subscribers(topic))})
}

// leave runs once the connection has left its topic.
func (r *rooms) leave(s *server.Server, c *server.Conn) {
	topic, ok := r.of[c.ID()]
	if !ok {
		return
	}
	who := fmt.Sprintf("#%d", c.ID())
	if name := r.names[c.ID()]; name != "" {
		who = fmt.Sprintf("%s (%s)", name, who)
	}
	delete(r.names, c.ID())
	delete(r.of, c.ID())
	r.broadcast(topic, message{Text: fmt.Sprintf("%s left (%d online)", who, s.Subscribers(topic))})
}

func (r *rooms) receive(c *ws.Conn, m *ws.Message) {
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
	r.broadcast(r.of[c.ID()], msg)
}

// broadcast publishes msg to the room's topic: it is encoded once for
// every connection in the room. A connection whose reader fell too far
// behind is closed for it (1008, its SendQueuePolicy); the others are not
// held up by it.
func (r *rooms) broadcast(topic string, msg message) {
	r.srv.Publish(topic, ws.OpText, encode(msg))
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
