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
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(req); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
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
