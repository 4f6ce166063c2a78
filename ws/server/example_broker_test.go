package server_test

import (
	"fmt"
	"log"

	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

// printBroker is a Broker that prints what the server tells it; a real
// one (unievent.dev/broker/nats) carries it to the other nodes and hands
// what they publish to PublishLocal.
type printBroker struct{}

func (printBroker) Subscribe(topic string)   { fmt.Println("first subscriber of", topic) }
func (printBroker) Unsubscribe(topic string) { fmt.Println("last subscriber of", topic, "left") }
func (printBroker) Publish(topic string, _ ws.Opcode, payload []byte) {
	fmt.Printf("to the other nodes: %s %q\n", topic, payload)
}

// A server with a broker hands it every Publish, held here or not;
// PublishLocal, where a broker's incoming messages go, does not.
func ExampleServer_SetBroker() {
	srv, err := server.New(server.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv.SetBroker(printBroker{})
	srv.Publish("news", ws.OpText, []byte("from this node"))
	srv.PublishLocal("news", ws.OpText, []byte("from another node"))
	// Output:
	// to the other nodes: news "from this node"
}
