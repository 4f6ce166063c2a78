package clientbench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"unievent.dev/ws/handshake"
)

// discardServer accepts one WebSocket connection on a loopback port,
// answers its upgrade request with a 101 and reads everything that
// follows into io.Discard; read gets the number of bytes once the client
// hangs up. The cleanup closes the listener.
func discardServer(tb testing.TB) (url string, read <-chan int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	n := make(chan int64, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			n <- -1
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			n <- -1
			return
		}
		fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			handshake.AcceptKey(req.Header.Get("Sec-WebSocket-Key")))
		k, _ := io.Copy(io.Discard, br)
		n <- k
	}()
	return "ws://" + ln.Addr().String() + "/", n
}
