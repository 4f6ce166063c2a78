package wstest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"time"

	"unievent.dev/ws/handshake"
)

// Upgrade writes an upgrade request for path on nc and reads the answer:
// a Client when it is 101 (the accept key checked), otherwise the
// response, whose body is left to read, and a nil Client.
func Upgrade(nc net.Conn, path string, h http.Header) (*Client, *http.Response, error) {
	req, key := Request(nc.RemoteAddr().String(), path, h)
	defer nc.SetDeadline(time.Time{})
	resp, br, err := roundTrip(nc, req)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, resp, nil
	}
	if err := handshake.CheckResponse(resp, key); err != nil {
		return nil, resp, fmt.Errorf("%w (status %d)", err, resp.StatusCode)
	}
	return &Client{Conn: nc, Resp: resp, br: br}, resp, nil
}

// RoundTrip writes raw, an HTTP request as the test wrote it (malformed
// if it likes), on nc and reads the response; its body is left to read.
// nc's deadline is set WaitTimeout ahead and stays so, which bounds the
// reading of the body too.
func RoundTrip(nc net.Conn, raw []byte) (*http.Response, error) {
	resp, _, err := roundTrip(nc, raw)
	return resp, err
}

func roundTrip(nc net.Conn, raw []byte) (*http.Response, *bufio.Reader, error) {
	nc.SetDeadline(time.Now().Add(WaitTimeout))
	if _, err := nc.Write(raw); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, err
	}
	return resp, br, nil
}
