package server

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// ErrNotInHandshake is returned by SendAcceptResponse and SendAcceptError
// outside the handshake callback, or when it already answered.
var ErrNotInHandshake = errors.New("server: the handshake has been answered")

// Conn is a server's connection: a ws.Conn (send, close, listeners, stats)
// with its id, its upgrade request and its server. It has every method of
// the embedded ws.Conn (go doc unievent.dev/ws.Conn lists them) besides
// its own. Inside the handshake callback the connection is not established
// yet: SendAcceptResponse and SendAcceptError answer the handshake; ID,
// Request, Server, LocalAddr and RemoteAddr work; listeners set there
// stay and serve the connection once it is established; a send or a close
// returns ws.ErrNotEstablished.
//
// The listeners of a connection (OnMessage, OnClose, ...) are given its
// *ws.Conn, the one embedded here. To reach the *Conn from there (for
// Request or Server), capture it in the listener's closure in the
// connection callback, or look it up with Server.Connection(wc.ID()):
// the ids are the same, and the lookup finds the connection until its
// close listeners have run.
type Conn struct {
	*ws.Conn
	server *Server

	mu   sync.Mutex
	req  *handshake.Request
	head string  // the request head, when req is to be parsed from it
	ans  *answer // the handshake callback's answer, until it is sent

	// The small fields share one word: an idle connection's size counts.
	deciding  bool  // inside the handshake callback
	answered  bool  // guarded by mu
	subState  uint8 // guarded by server.topics.mu (topic.go), as are subs
	policy    ws.Backpressure
	sendLimit int32 // its ws.Config.SendQueueLimit (clamped to int32), for Publish

	subs    []subscription
	refused atomic.Uint64 // published messages its full queue refused
}

// answer is what the handshake callback answered: an accept with its
// response, or a refusal.
type answer struct {
	accept    *handshake.Response
	refStatus int
	refBody   string
	refHeader http.Header
}

// ID returns the connection's unique id (see Server.Connection).
func (c *Conn) ID() uint64 { return c.Conn.ID() }

// Request returns the upgrade request the connection was opened with. An
// established connection keeps the request head's bytes, not the parsed
// request (it saves about a kilobyte per connection): the first call after
// the connection callbacks parses it again, and later calls return that
// same request.
func (c *Conn) Request() *handshake.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.req == nil && c.head != "" {
		r, err := parseHead(c.head)
		if err != nil {
			// Unreachable: the same bytes parsed before the upgrade.
			c.req = &handshake.Request{}
			return c.req
		}
		r.RemoteAddr = c.RemoteAddr().String()
		c.req, _ = handshake.Validate(r)
		c.head = ""
	}
	return c.req
}

// Server returns the server the connection belongs to.
func (c *Conn) Server() *Server { return c.server }

// The transports a connection runs on (Conn.Transport), named as their
// TLS ALPN protocol IDs are.
const (
	TransportHTTP1 = "http/1.1" // an HTTP/1.1 upgrade (RFC 6455), over TLS or not
	TransportHTTP2 = "h2"       // an HTTP/2 extended CONNECT stream (RFC 8441)
)

// Transport returns what the connection runs on: TransportHTTP2 for a
// WebSocket on an HTTP/2 stream, TransportHTTP1 for one upgraded from
// HTTP/1.1. It is known from the handshake callback on and costs nothing
// (no request is parsed for it).
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.req != nil && c.req.HTTP != nil && c.req.HTTP.ProtoMajor == 2 {
		return TransportHTTP2
	}
	return TransportHTTP1
}

// SendAcceptResponse accepts the upgrade from the handshake callback, with
// the extra header fields and the subprotocol (one the client offered) in
// resp; resp may be nil. The server fills in Sec-WebSocket-Extensions
// itself (resp.Extensions is ignored). The response is written when the
// callback returns.
//
// The answer is checked here: a subprotocol the client did not offer, a
// header name that is not a token, a value with CR, LF or another control
// character, a field the handshake sets itself (Upgrade, Connection,
// Sec-WebSocket-*, Content-Length, Transfer-Encoding), or an invalid
// request (req.Err() != nil) return an error wrapping
// handshake.ErrInvalidResponse, and the handshake stays unanswered: the
// callback may answer again. Outside the callback, or once answered, it
// returns ErrNotInHandshake.
func (c *Conn) SendAcceptResponse(resp *handshake.Response) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.deciding || c.answered {
		return ErrNotInHandshake
	}
	if resp == nil {
		resp = &handshake.Response{}
	}
	r := *resp
	r.Extensions = nil
	var err error
	if c.req.HTTP != nil && c.req.HTTP.ProtoMajor == 2 {
		_, err = handshake.AcceptHeader(c.req, &r)
	} else {
		_, err = handshake.AppendResponse(nil, c.req, &r)
	}
	if err != nil {
		return fmt.Errorf("server: SendAcceptResponse: %w", err)
	}
	r.Header = r.Header.Clone()
	c.answered = true
	c.ans = &answer{accept: &r}
	return nil
}

// SendAcceptError refuses the upgrade from the handshake callback with an
// HTTP status (400 to 599), a text body and extra header fields. The
// response is written when the callback returns. A header that could not
// be written (a name that is not a token, a value with CR, LF or another
// control character, a Connection, Content-Length or Transfer-Encoding
// field) returns an error wrapping handshake.ErrInvalidResponse, and the
// handshake stays unanswered.
func (c *Conn) SendAcceptError(status int, body string, header http.Header) error {
	if status < 400 || status > 599 {
		return errors.New("server: SendAcceptError needs a status from 400 to 599")
	}
	if _, err := handshake.AppendErrorResponse(nil, status, body, header); err != nil {
		return fmt.Errorf("server: SendAcceptError: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.deciding || c.answered {
		return ErrNotInHandshake
	}
	c.answered = true
	c.ans = &answer{refStatus: status, refBody: body, refHeader: header.Clone()}
	return nil
}
