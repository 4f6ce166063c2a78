package handshake_test

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"unievent.dev/ws/handshake"
)

// clientHandshake is modelled on the sample request of RFC 6455 section 1.2.
const clientHandshake = "GET /chat HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Version: 13\r\n\r\n"

func ExampleValidate() {
	r, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(clientHandshake)))
	req, err := handshake.Validate(r)
	fmt.Println(err, req.Key, req.Protocols)

	r.Header.Set("Sec-WebSocket-Version", "8")
	_, err = handshake.Validate(r)
	var e *handshake.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Reason, e.Header.Get("Sec-WebSocket-Version"))
	}
	// Output:
	// <nil> dGhlIHNhbXBsZSBub25jZQ== [chat superchat]
	// 426 unsupported Sec-WebSocket-Version "8": this server speaks version 13 13
}

func ExampleAcceptKey() {
	fmt.Println(handshake.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
	// Output: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}

func ExampleAppendResponse() {
	r, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(clientHandshake)))
	req, err := handshake.Validate(r)
	if err != nil {
		// A server writes err.(*handshake.Error).AppendResponse(nil) instead.
		return
	}
	resp := &handshake.Response{Protocol: handshake.SelectProtocol(req.Protocols, []string{"superchat", "chat"})}
	out, err := handshake.AppendResponse(nil, req, resp)
	fmt.Print(strings.ReplaceAll(string(out), "\r\n", "\n"), err)
	// Output:
	// HTTP/1.1 101 Switching Protocols
	// Upgrade: websocket
	// Connection: Upgrade
	// Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
	// Sec-WebSocket-Protocol: superchat
	//
	// <nil>
}

func ExampleParseExtensions() {
	exts, err := handshake.ParseExtensions([]string{
		`permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits="10"`,
	})
	for _, e := range exts {
		fmt.Printf("%s %+v\n", e.Name, e.Params)
	}
	fmt.Println(handshake.FormatExtensions(exts), err)

	_, err = handshake.ParseExtensions([]string{"permessage-deflate; server_max_window_bits="})
	fmt.Println(err)
	// Output:
	// permessage-deflate [{Name:client_max_window_bits Value: HasValue:false}]
	// permessage-deflate [{Name:server_max_window_bits Value:10 HasValue:true}]
	// permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10 <nil>
	// handshake: malformed Sec-WebSocket-Extensions header: expected a value after '=' at end of line
}
