package server

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// The defaults of the zero fields of HTTPConfig and Config
// (DefaultConfig).
const (
	defaultMaxHeaderBytes    = 8 << 10
	defaultHandshakeTimeout  = 10 * time.Second
	defaultHTTPIdleTimeout   = 60 * time.Second
	defaultHTTPWriteTimeout  = 30 * time.Second
	defaultMaxConnections    = 100_000
	defaultRetryAfterSeconds = 5
	defaultMaxHeaderFields   = 100
)

// HTTPConfig holds the parameters of the HTTP server that runs on the
// locations (the http server parameters of the Perl module
// UniEvent::WebSocket::Server). The zero value takes the defaults
// (DefaultConfig); a negative duration turns that timeout off.
type HTTPConfig struct {
	// MaxHeaderBytes bounds a request head: the request line, the header
	// fields and the blank line ending them. The server reads the first
	// request of every connection itself (TLS or not, with a Handler or
	// not), and a head larger than MaxHeaderBytes gets 431, exactly.
	// Later requests on a kept-alive plain HTTP connection are read by
	// net/http, which reads up to 4 KiB past the limit before it answers
	// 431. 0 means the default. A server mounted on a foreign
	// http.Server (ServeHTTP, UpgradeConnection) is given requests that
	// server has read: its own MaxHeaderBytes applies, with net/http's
	// 4 KiB of slack.
	MaxHeaderBytes int
	// HandshakeTimeout bounds the TLS handshake and the reading of the
	// request line and headers (slow or silent clients); 0 means
	// the default.
	HandshakeTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// plain HTTP connection; 0 means the default.
	IdleTimeout time.Duration
	// WriteTimeout bounds the writing of a plain HTTP response and of the
	// handshake response; 0 means the default.
	WriteTimeout time.Duration
	// Handler serves plain (non-WebSocket) requests, and may answer or
	// upgrade (Server.UpgradeConnection) WebSocket requests too; an
	// upgrade request it leaves unanswered is upgraded automatically. A
	// plain request it writes nothing for gets net/http's 200 with an
	// empty body. nil answers plain requests with 426 Upgrade Required.
	// Configure keeps the handler in force when this is nil.
	Handler http.Handler
	// HTTP2 holds the HTTP/2 parameters of the TLS locations, which speak
	// HTTP/2 only in a process started with GODEBUG=http2xconnect=1 (see
	// the package doc); nil takes net/http's defaults. Its
	// MaxConcurrentStreams bounds the streams one HTTP/2 connection has
	// open at a time, its WebSockets and plain requests together
	// (net/http's default is 250): well-behaved clients (browsers, Go's)
	// wait for a free stream or open another connection, and a stream
	// opened past the advertised limit is reset by net/http
	// (RST_STREAM PROTOCOL_ERROR) before the server sees it.
	// MaxReceiveBufferPerStream (1 MiB by default) is how much a client
	// may send on a stream before the server reads it. Config.MaxConnections
	// still bounds the WebSockets of all connections together. A server
	// mounted on a foreign http.Server is bound by that server's HTTP2.
	HTTP2 *http.HTTP2Config
}

// Config is a server's configuration: the connection parameters of
// ws.Config (limits, timeouts, permessage-deflate) for every new
// connection, the locations to listen on and the HTTP parameters.
type Config struct {
	ws.Config

	// Locations to listen on. With none, the server listens on nothing
	// and upgrades what UpgradeConnection or ServeHTTP is given.
	Locations []Location
	// HTTP holds the parameters of the HTTP server on the locations.
	HTTP HTTPConfig
	// Protocols are the subprotocols the server speaks, most preferred
	// first. The server's order wins: the first of Protocols that the
	// client offered is chosen, wherever the client listed it (a handshake
	// callback may choose another offered one with SendAcceptResponse).
	Protocols []string
	// MaxConnections bounds the open WebSocket connections; an upgrade
	// beyond it gets 503 with Retry-After. 0 means the default,
	// negative means no limit.
	MaxConnections int
	// RetryAfter is the Retry-After the 503 above carries, in seconds; 0
	// means the default.
	RetryAfter int
	// MaxHeaderFields bounds the header fields of an upgrade request
	// (Host included); a request with more gets 431. A connection keeps
	// its request, parsed, for Conn.Request: at about 130 bytes a field,
	// 8 KiB of the smallest fields would otherwise cost some 120 KiB per
	// connection. 0 means the default, negative means no limit.
	MaxHeaderFields int
}

// DefaultConfig returns the Config that the zero Config stands for: no
// location, and every limit and timeout that has a default set to it,
// ws.DefaultConfig's included (ExampleDefaultConfig prints them). A server
// made with DefaultConfig behaves as one made with Config{}.
func DefaultConfig() Config {
	return Config{
		Config: ws.DefaultConfig(),
		HTTP: HTTPConfig{
			MaxHeaderBytes:   defaultMaxHeaderBytes,
			HandshakeTimeout: defaultHandshakeTimeout,
			IdleTimeout:      defaultHTTPIdleTimeout,
			WriteTimeout:     defaultHTTPWriteTimeout,
		},
		MaxConnections:  defaultMaxConnections,
		RetryAfter:      defaultRetryAfterSeconds,
		MaxHeaderFields: defaultMaxHeaderFields,
	}
}

// frontEndChanged reports whether o needs another HTTP server than h. The
// handler is not part of it: it is looked up on every request.
func (h HTTPConfig) frontEndChanged(o HTTPConfig) bool {
	return h.MaxHeaderBytes != o.MaxHeaderBytes || h.HandshakeTimeout != o.HandshakeTimeout ||
		h.IdleTimeout != o.IdleTimeout || h.WriteTimeout != o.WriteTimeout ||
		!reflect.DeepEqual(h.HTTP2, o.HTTP2) // a CountError func is never equal

}

func orDuration(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// validate reports a config that cannot work, so that New and Configure
// fail instead of a later panic.
func (c *Config) validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.HTTP.MaxHeaderBytes < 0 {
		return errors.New("server: HTTP.MaxHeaderBytes is negative")
	}
	if c.RetryAfter < 0 {
		return errors.New("server: RetryAfter is negative")
	}
	seen := make(map[Location]bool)
	for i, l := range c.Locations {
		if err := l.validate(); errors.Is(err, ErrNoReusePort) {
			return fmt.Errorf("%w (location %d, %s)", err, i, l.address())
		} else if err != nil {
			return fmt.Errorf("server: location %d (%s): %w", i, l.address(), err)
		}
		// Port 0 asks for a free port: each such location gets its own.
		if seen[l] && l.Port != 0 {
			return fmt.Errorf("server: location %d (%s) is listed twice", i, l.address())
		}
		seen[l] = true
	}
	for _, p := range c.Protocols {
		if !handshake.IsToken(p) {
			return fmt.Errorf("server: subprotocol %q is not a token", p)
		}
	}
	return nil
}

// descriptorsFor is the descriptor table Run reserves for max connections
// (0: no limit): two each, and some for listeners and the rest of the
// program.
func descriptorsFor(max int) int {
	if max <= 0 {
		return 1 << 20 // Reserve bounds it by RLIMIT_NOFILE
	}
	return 2*max + 256
}

func (c *Config) maxConnections() int {
	switch {
	case c.MaxConnections == 0:
		return defaultMaxConnections
	case c.MaxConnections < 0:
		return 0
	}
	return c.MaxConnections
}

func (c *Config) maxHeaderFields() int {
	switch {
	case c.MaxHeaderFields == 0:
		return defaultMaxHeaderFields
	case c.MaxHeaderFields < 0:
		return 0
	}
	return c.MaxHeaderFields
}

func (c *Config) retryAfter() int {
	if c.RetryAfter == 0 {
		return defaultRetryAfterSeconds
	}
	return c.RetryAfter
}
