package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/internal/engine"
)

// wsEngine makes and starts the connections (package ws lends it to the
// packages of this module that open them).
var wsEngine = engine.Registered.(*engine.Funcs[ws.Conn, ws.Loop, ws.Config, ws.PreparedMessage])

// nextID numbers the client connections of the process (ws.Conn.ID).
var nextID atomic.Uint64

// Dial opens a WebSocket connection to rawURL (ws://host[:port]/path?query
// or wss://...), on loop (nil means ws.DefaultLoop()), and returns it
// established. cfg may be nil (the defaults). It returns a
// *HandshakeError when the server's answer does not establish the
// connection, and another error when dialing, TLS, the context or
// Config.HandshakeTimeout end it first.
//
// The connection starts reading on its loop's next turn (Dial posts that
// to the loop): listeners set before the loop runs, or in the callback
// Dial was called from, see every message, including what the server sent
// right behind its 101. From another goroutine while the loop runs, use
// Connect, whose callback sets them before the connection reads. Dial
// blocks: a server on a loop that is not running answers nobody, so a
// client of a server on its own loop connects with Connect (or Dial from
// another goroutine once the loop runs).
func Dial(ctx context.Context, rawURL string, cfg *Config, loop *ws.Loop) (*ws.Conn, error) {
	c, err := open(ctx, rawURL, cfg, loop)
	if err != nil {
		return nil, err
	}
	c.Loop().Post(func() { wsEngine.Start(c) })
	return c, nil
}

// Connect is Dial in the background, the reference's connect with its
// connect_callback: it returns at once, and done runs on the loop with the
// established connection, or nil and the error Dial would return. The
// connection starts reading when done returns, so listeners set in done
// see every message. The attempt is an active handle of the loop: its Run
// does not return before done has run. A panic in done is logged (log/slog)
// and closes the connection with 1011, as one in any listener does.
func Connect(ctx context.Context, rawURL string, cfg *Config, loop *ws.Loop, done func(*ws.Conn, error)) {
	if loop == nil {
		loop = ws.DefaultLoop()
	}
	wsEngine.Ref(loop)
	go func() {
		defer wsEngine.Unref(loop)
		c, err := open(ctx, rawURL, cfg, loop)
		ok := true
		if done != nil {
			loop.Exec(func() { ok = safeCall(func() { done(c, err) }) })
		}
		if c == nil {
			return
		}
		wsEngine.Start(c)
		if !ok {
			c.Close(frame.CloseInternalError, "internal error")
		}
	}()
}

// safeCall runs the user's callback; a panic is logged and reported as
// false.
func safeCall(f func()) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("client: panic in a connect callback", "panic", p, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	f()
	return true
}

// target is a parsed WebSocket URL (RFC 6455 section 3).
type target struct {
	secure   bool
	addr     string // host:port to dial
	hostname string // for SNI
	host     string // the Host header: the URL's authority
	uri      string // the request target
}

func parseURL(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	var t target
	port := ""
	switch strings.ToLower(u.Scheme) {
	case "ws":
		port = "80"
	case "wss":
		t.secure, port = true, "443"
	default:
		return target{}, fmt.Errorf("%w: scheme %q, want ws or wss", ErrBadURL, u.Scheme)
	}
	switch {
	case u.Opaque != "":
		return target{}, fmt.Errorf("%w: %q is not hierarchical", ErrBadURL, raw)
	case u.User != nil:
		return target{}, fmt.Errorf("%w: user information in the URL", ErrBadURL)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return target{}, fmt.Errorf("%w: a fragment has no meaning in a WebSocket URL", ErrBadURL)
	case u.Hostname() == "":
		return target{}, fmt.Errorf("%w: no host in %q", ErrBadURL, raw)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	t.hostname = u.Hostname()
	t.addr = net.JoinHostPort(t.hostname, port)
	t.host = u.Host
	t.uri = u.RequestURI()
	return t, nil
}

// open dials, runs the opening handshake and makes the established
// connection, not yet started.
func open(ctx context.Context, rawURL string, cfg *Config, loop *ws.Loop) (*ws.Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := checkHTTP2(cfg, t); err != nil {
		return nil, err
	}
	if loop == nil {
		loop = ws.DefaultLoop()
	}
	if d := cfg.handshakeTimeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	proxy, err := proxyFor(cfg, t)
	if err != nil {
		return nil, err
	}
	addr := t.addr
	if proxy != nil {
		addr = proxyAddr(proxy)
	}
	var dialer net.Dialer
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	// Until the handshake is over, the end of ctx interrupts whatever
	// read or write is under way.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	nc, res, err := shake(ctx, raw, t, cfg, proxy)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = raw.SetDeadline(time.Time{})
	}
	if err == errFallBack {
		// HTTP/2 without extended CONNECT: HTTP/1.1 on a new connection.
		raw.Close()
		h1 := *cfg
		h1.HTTP2 = HTTP2Off
		return open(ctx, rawURL, &h1, loop)
	}
	if err != nil {
		raw.Close()
		if ctx.Err() != nil {
			if _, refused := err.(*HandshakeError); !refused {
				err = fmt.Errorf("client: handshake with %s: %w", t.addr, context.Cause(ctx))
			}
		}
		return nil, err
	}
	wsCfg := cfg.Config
	c := wsEngine.Pending(&wsCfg, loop, engine.Pending{
		ID:     nextID.Add(1),
		Role:   frame.RoleClient,
		Local:  nc.LocalAddr(),
		Remote: nc.RemoteAddr(),
	}, nil)
	wsEngine.Establish(c, nc, res)
	return c, nil
}

// shake opens the tunnel through proxy when there is one, runs TLS for
// wss:// and the HTTP exchange on raw.
func shake(ctx context.Context, raw net.Conn, t target, cfg *Config, proxy *url.URL) (net.Conn, engine.Options, error) {
	nc := raw
	if proxy != nil {
		var err error
		if nc, err = tunnel(ctx, raw, t, proxy, cfg); err != nil {
			return nil, engine.Options{}, err
		}
	}
	if t.secure {
		tcfg := tlsConfig(cfg.TLSConfig, t.hostname)
		tcfg.NextProtos = alpn(cfg.HTTP2)
		tc := tls.Client(nc, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, engine.Options{}, fmt.Errorf("client: TLS handshake with %s: %w", t.addr, err)
		}
		var (
			res    engine.Options
			h2, ok bool
			err    error
		)
		if nc, res, h2, ok, err = afterTLS(tc, t, cfg); !ok || h2 {
			return nc, res, err
		}
	}
	key, err := handshake.NewKey()
	if err != nil {
		return nil, engine.Options{}, fmt.Errorf("client: handshake key: %w", err)
	}
	if _, err := nc.Write(appendRequest(nil, t, cfg, key)); err != nil {
		return nil, engine.Options{}, fmt.Errorf("client: send the handshake to %s: %w", t.addr, err)
	}
	res, err := readResponse(nc, key, cfg)
	return nc, res, err
}

// tlsConfig is the TLS configuration of a wss:// connection to hostname.
func tlsConfig(base *tls.Config, hostname string) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = hostname
	}
	c.NextProtos = []string{"http/1.1"}
	return c
}
