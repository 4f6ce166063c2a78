package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// The defaults of Config's zero fields (DefaultConfig), and the bound on
// a refusal's body.
const (
	defaultHandshakeTimeout = 10 * time.Second
	defaultMaxHandshakeSize = 16 << 10
	// MaxErrorBodySize is how much of a refusal's body HandshakeError
	// keeps.
	MaxErrorBodySize = 4 << 10
)

// DefaultConfig returns the Config that the zero Config stands for: the
// connection's limits and timeouts of ws.DefaultConfig, and the opening
// handshake's (ExampleDefaultConfig prints them). A connection dialed with
// it behaves as one dialed with a nil or zero Config.
func DefaultConfig() Config {
	return Config{Config: ws.DefaultConfig(), HandshakeTimeout: defaultHandshakeTimeout, MaxHandshakeSize: defaultMaxHandshakeSize}
}

// Config is a client connection's configuration: the connection parameters
// of ws.Config (limits, timeouts, permessage-deflate) and those of the
// opening handshake. The zero value takes the defaults.
//
// ws.Config.Deflate, when non-nil, offers permessage-deflate (RFC 7692) as
// permessagedeflate.Offer makes it from the client's side:
// ClientMaxWindowBits is the window we compress with at most (offered as
// client_max_window_bits, without a value when 0 so that the server may
// pick one), ClientNoContextTakeover says we reset our compressor after
// every message, ServerNoContextTakeover and ServerMaxWindowBits ask the
// same of the server. The server's answer is checked strictly
// (permessagedeflate.CheckAnswer); Level and Threshold apply to what we
// compress.
type Config struct {
	ws.Config

	// Header holds extra request header fields (Authorization, Cookie,
	// User-Agent, ...). The fields the handshake itself sets (Host,
	// Upgrade, Connection and Sec-WebSocket-*) may not be given here.
	Header http.Header
	// Origin, when set, is sent as the Origin header (RFC 6455 section
	// 4.1 item 8, as a browser would).
	Origin string
	// Protocols are the subprotocols offered, most preferred first. The
	// server's choice must be one of them; none may be chosen when none is
	// offered.
	Protocols []string
	// HandshakeTimeout bounds the whole opening: dial, TLS and the HTTP
	// exchange; 0 means the default (DefaultConfig), negative means no bound
	// but the context's.
	HandshakeTimeout time.Duration
	// MaxHandshakeSize bounds the server's response head; 0 means
	// the default (DefaultConfig).
	MaxHandshakeSize int
	// TLSConfig is used for wss:// URLs; nil means the zero tls.Config.
	// When its ServerName is empty the URL's host name is used (SNI and
	// certificate verification); its NextProtos are replaced by
	// "http/1.1", the only protocol a WebSocket handshake runs on here
	// (with HTTP2 set, by "h2" too).
	TLSConfig *tls.Config
	// Proxy returns the HTTP proxy to open a tunnel through (CONNECT), nil
	// for none, as http.Transport.Proxy does: it is given a request for
	// the URL with the scheme http for ws:// and https for wss://. nil
	// means http.ProxyFromEnvironment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY;
	// never for localhost and loopback addresses); a function returning
	// nil, nil turns proxies off. http:// and https:// proxies are
	// supported; a user in the proxy URL is sent as Basic
	// Proxy-Authorization. TLSConfig also verifies an https:// proxy.
	Proxy func(*http.Request) (*url.URL, error)
	// HTTP2 says whether a wss:// connection may be a stream of an
	// HTTP/2 connection (RFC 8441) instead of an HTTP/1.1 upgrade:
	// HTTP2Off (the default), HTTP2Prefer (HTTP/2 when the server serves
	// WebSockets there, else HTTP/1.1) or HTTP2Only (else an error
	// wrapping ErrNoHTTP2); see HTTP2Mode. A Go server serves them only
	// with GODEBUG=http2xconnect=1 in its environment (unievent.dev's
	// ws/server among them). Each connection opened over HTTP/2 has an
	// HTTP/2 connection of its own (net/http's client), and its
	// ws.Conn.NetConn is the stream, not the TLS connection under it.
	HTTP2 HTTP2Mode
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.HTTP2 > HTTP2Only {
		return fmt.Errorf("client: unknown HTTP2 mode %d", c.HTTP2)
	}
	if c.MaxHandshakeSize < 0 {
		return errors.New("client: MaxHandshakeSize must not be negative")
	}
	for _, p := range c.Protocols {
		if !handshake.IsToken(p) {
			return fmt.Errorf("client: subprotocol %q is not a token", p)
		}
	}
	for name, vs := range c.Header {
		if !handshake.IsToken(name) {
			return fmt.Errorf("client: header name %q is not a token", name)
		}
		if reservedHeader(name) {
			return fmt.Errorf("client: header %s is set by the handshake", name)
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				return fmt.Errorf("client: header %s has an invalid value %q", name, v)
			}
		}
	}
	if !validFieldValue(c.Origin) {
		return fmt.Errorf("client: invalid Origin %q", c.Origin)
	}
	return nil
}

func (c *Config) handshakeTimeout() time.Duration {
	switch {
	case c.HandshakeTimeout == 0:
		return defaultHandshakeTimeout
	case c.HandshakeTimeout < 0:
		return 0
	}
	return c.HandshakeTimeout
}

func (c *Config) maxHandshakeSize() int {
	if c.MaxHandshakeSize == 0 {
		return defaultMaxHandshakeSize
	}
	return c.MaxHandshakeSize
}

// reservedHeader reports the fields the handshake writes itself.
func reservedHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Upgrade", "Connection", "Content-Length", "Transfer-Encoding":
		return true
	}
	k := http.CanonicalHeaderKey(name)
	return len(k) >= len("Sec-Websocket-") && k[:len("Sec-Websocket-")] == "Sec-Websocket-"
}

// validFieldValue refuses what would break the request: control
// characters other than horizontal tab (CR and LF above all).
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
