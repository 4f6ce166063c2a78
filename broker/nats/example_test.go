package nats_test

import (
	"log"

	"unievent.dev/broker/nats"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// Two or more servers like this one, behind a load balancer and on the
// same NATS server, share their topics: a line a client sends is
// published to its room and reaches the room's clients on every node.
func Example() {
	srv, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1", Port: 8080}}})
	if err != nil {
		log.Fatal(err)
	}
	srv.OnConnection(func(s *server.Server, c *server.Conn, req *handshake.Request) {
		room := req.HTTP.URL.Query().Get("room")
		if err := c.Subscribe(room); err != nil {
			c.Close(ws.CloseCode(1008), "bad room")
			return
		}
		c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
			s.Publish(room, m.Opcode, m.Payload) // this node's subscribers, then NATS
		})
	})
	b, err := nats.Connect("nats://127.0.0.1:4222", srv, nats.Options{Name: "node-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if err := srv.Run(); err != nil {
		log.Fatal(err)
	}
	ws.DefaultLoop().Run()
	st := b.Stats()
	log.Printf("connected %v, %d reconnects, %d published, %d received, %d dropped",
		st.Connected, st.Reconnects, st.Published, st.Received, st.Dropped)
}
