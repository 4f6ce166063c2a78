package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// ErrProxyRefused is wrapped by the HandshakeError of a proxy that did not
// open the tunnel: its status (407 Proxy Authentication Required, 403,
// 502, ...), header and body are the HandshakeError's.
var ErrProxyRefused = errors.New("client: the proxy refused to open a tunnel")

// proxyFor returns the proxy to reach t through, nil for none: what
// Config.Proxy (http.ProxyFromEnvironment when nil) says for the request
// the URL stands for, http:// for ws:// and https:// for wss://, so that
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY apply as for plain requests.
func proxyFor(cfg *Config, t target) (*url.URL, error) {
	f := cfg.Proxy
	if f == nil {
		f = http.ProxyFromEnvironment
	}
	scheme := "http"
	if t.secure {
		scheme = "https"
	}
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: scheme, Host: t.host, Path: "/"}, Header: http.Header{}, Host: t.host}
	u, err := f(req)
	if err != nil {
		return nil, fmt.Errorf("client: proxy for %s: %w", t.host, err)
	}
	if u == nil {
		return nil, nil
	}
	switch u.Scheme {
	case "http", "https":
	default:
		return nil, fmt.Errorf("client: proxy %s: only http and https proxies are supported", u.Redacted())
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("client: proxy %q has no host", u.Redacted())
	}
	return u, nil
}

// proxyAddr is the host:port to dial for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// tunnel asks the proxy on nc to open a tunnel to t with CONNECT (RFC 9110
// section 9.3.6, https://www.rfc-editor.org/rfc/rfc9110#section-9.3.6),
// with Basic authentication when the proxy URL carries a user (RFC 7617).
// It returns the connection the WebSocket handshake runs on.
func tunnel(ctx context.Context, nc net.Conn, t target, proxy *url.URL, cfg *Config) (net.Conn, error) {
	if proxy.Scheme == "https" {
		tc := tls.Client(nc, tlsConfig(cfg.TLSConfig, proxy.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("client: TLS handshake with the proxy %s: %w", proxy.Host, err)
		}
		nc = tc
	}
	var b []byte
	b = append(b, "CONNECT "...)
	b = append(b, t.addr...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.addr...)
	b = append(b, "\r\n"...)
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + pw))
		b = appendField(b, "Proxy-Authorization", "Basic "+cred)
	}
	b = append(b, "\r\n"...)
	if _, err := nc.Write(b); err != nil {
		return nil, fmt.Errorf("client: CONNECT to the proxy %s: %w", proxy.Host, err)
	}
	head, rest, err := readHead(nc, cfg.maxHandshakeSize())
	if err == ErrResponseTooLarge {
		return nil, &HandshakeError{Err: fmt.Errorf("%w: %w", ErrProxyRefused, ErrResponseTooLarge)}
	}
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(head), bytes.NewReader(rest), nc))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, &HandshakeError{Err: fmt.Errorf("%w: %w: %v", ErrProxyRefused, ErrMalformedResponse, err)}
	}
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBodySize))
		return nil, &HandshakeError{StatusCode: resp.StatusCode, Header: resp.Header, Body: body,
			Err: fmt.Errorf("%w: %s", ErrProxyRefused, resp.Status)}
	}
	if len(rest) > 0 {
		// Nothing may come through the tunnel before our request.
		return nil, &HandshakeError{StatusCode: resp.StatusCode, Header: resp.Header,
			Err: fmt.Errorf("%w: the proxy sent %d bytes past its answer", ErrMalformedResponse, len(rest))}
	}
	return nc, nil
}
