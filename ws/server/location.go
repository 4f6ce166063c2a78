package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Location is one address the server listens on (an entry of the
// "locations" of the Perl module UniEvent::WebSocket::Server).
type Location struct {
	// Host is the address to bind: an IP (an IPv6 one with or without
	// brackets: "::1", "[::1]"), a host name, or "*" or "" for every
	// interface (IPv4 and IPv6).
	Host string
	// Port is the TCP port; 0 picks a free one (see Server.Addr), a
	// different one for each location that asks.
	Port int
	// ReusePort sets SO_REUSEPORT, so that several servers (one per loop,
	// or one per process) can listen on the same port and the kernel
	// spreads connections among them. Where the platform has no
	// SO_REUSEPORT, listening fails with ErrNoReusePort.
	ReusePort bool
	// Backlog is the listen backlog (the queue of connections not yet
	// accepted); 0 keeps the system default (net.core.somaxconn on Linux).
	Backlog int
	// TLS makes the location serve wss: its handshakes run under this
	// config (its NextProtos are the server's). HTTP/2 is offered beside
	// HTTP/1.1, with WebSockets on extended CONNECT streams (RFC 8441),
	// only in a process started with GODEBUG=http2xconnect=1 (see the
	// package doc); otherwise the location speaks HTTP/1.1 only.
	TLS *tls.Config
	// Nagle turns Nagle's algorithm on (TCP_NODELAY off) for accepted
	// connections: fewer, fuller packets at the cost of latency. The zero
	// value, false, leaves TCP_NODELAY on, as Go sets it on every TCP
	// connection (tcp_nodelay => 1 in the Perl module
	// UniEvent::WebSocket::Server).
	Nagle bool
}

// ErrNoReusePort is returned where SO_REUSEPORT does not exist.
var ErrNoReusePort = errors.New("server: SO_REUSEPORT is not available on this platform")

func (l Location) address() string {
	host := l.Host
	if host == "*" {
		host = ""
	}
	// An IPv6 address may come bracketed, as in a URL ("[::1]").
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return net.JoinHostPort(host, strconv.Itoa(l.Port))
}

// sameSocket reports whether o listens on the same socket as l, with the
// same socket options: only what applies to accepted connections (TLS,
// Nagle) may differ.
func (l Location) sameSocket(o Location) bool {
	return l.Port != 0 && l.address() == o.address() && l.ReusePort == o.ReusePort && l.Backlog == o.Backlog
}

func (l Location) validate() error {
	if l.Port < 0 || l.Port > 65535 {
		return fmt.Errorf("port %d out of range", l.Port)
	}
	if l.Backlog < 0 {
		return fmt.Errorf("backlog %d is negative", l.Backlog)
	}
	if l.ReusePort && !reusePortSupported {
		return ErrNoReusePort
	}
	return nil
}

// listen opens the location's listening socket with its socket options.
func (l Location) listen() (net.Listener, error) {
	// No TCP keepalive: the WebSocket ping (ws.Config.PingInterval and
	// PongTimeout) finds dead peers, and Go's default would cost several
	// setsockopt calls per accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	if l.ReusePort {
		lc.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
				return err
			}
			return serr
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", l.address())
	if err != nil {
		return nil, err
	}
	if l.Backlog > 0 {
		if err := setBacklog(ln, l.Backlog); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}
