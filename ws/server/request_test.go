package server

import (
	"net/http"
	"testing"

	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
)

// An established connection keeps its request head as bytes; Request
// parses it again, once, and gives what the callbacks saw.
func TestRequestAfterTheUpgrade(t *testing.T) {
	type seen struct {
		path, origin, custom, remote string
		protocols                    []string
		same                         bool
	}
	during := make(chan seen, 1)
	after := make(chan seen, 1)
	h := start(t, Config{Protocols: []string{"chat"}}, func(s *Server) {
		s.OnConnection(func(s *Server, c *Conn, req *handshake.Request) {
			during <- seen{path: req.HTTP.URL.RequestURI(), origin: req.Origin(), custom: req.HTTP.Header.Get("X-Custom"),
				remote: req.HTTP.RemoteAddr, protocols: req.Protocols, same: c.Request() == req}
			c.OnMessage(func(*ws.Conn, *ws.Message) {
				r := c.Request()
				after <- seen{path: r.HTTP.URL.RequestURI(), origin: r.Origin(), custom: r.HTTP.Header.Get("X-Custom"),
					remote: r.HTTP.RemoteAddr, protocols: r.Protocols, same: c.Request() == r && r.Err() == nil}
			})
		})
	})
	hdr := http.Header{"Origin": {"http://example.test"}, "X-Custom": {"value"}, "Sec-WebSocket-Protocol": {"x, chat"}}
	cl := h.Dial("/room/7?user=ann", hdr)
	defer cl.Close()
	if err := cl.WriteMessage(1, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	d, a := <-during, <-after
	if !d.same || !a.same {
		t.Errorf("Request() is not stable: during %v, after %v", d.same, a.same)
	}
	d.same, a.same = false, false
	if d.path != "/room/7?user=ann" || d.origin != "http://example.test" || d.custom != "value" || d.remote == "" || len(d.protocols) != 2 {
		t.Errorf("during the callback: %+v", d)
	}
	if a.path != d.path || a.origin != d.origin || a.custom != d.custom || a.remote != d.remote || len(a.protocols) != 2 || a.protocols[1] != "chat" {
		t.Errorf("after: %+v, want %+v", a, d)
	}
}
