package server

import "unievent.dev/ws"

// Broker carries a server's topics to other servers (nodes), through a
// message broker such as NATS (the module unievent.dev/broker/nats): it
// is told which topics the server's connections hold and is handed every
// local Publish; what it receives from the other nodes it hands back with
// Server.PublishLocal, which delivers to this server's subscribers only.
// A Broker must never hand a node its own messages back (with NATS, the
// connection's NoEcho option), or they would be delivered twice there.
//
// The server calls Subscribe when a topic gains its first subscriber on
// this server and Unsubscribe when it loses its last, in the order the
// topic changes, with the server's topic lock held: they must neither
// block nor call the server's topic methods (Conn.Subscribe, Publish,
// Subscribers...). A broker that talks to the network records the change
// and applies it from a goroutine of its own.
//
// Publish is called by Server.Publish, after the local subscribers got the
// message, from the goroutine that published (the calls of one goroutine
// come in its order), for every valid publish, to a topic held here or
// not: other nodes may hold it. payload is the caller's; a Broker that
// keeps it past the call copies it. A message the broker cannot carry is
// its own failure to count (Publish has delivered locally and does not
// fail for it).
type Broker interface {
	Subscribe(topic string)
	Unsubscribe(topic string)
	Publish(topic string, op ws.Opcode, payload []byte)
}

// SetBroker makes b the server's broker (nil: none, every publish stays
// in this process, the default). The topics already held are handed over:
// the broker in place before is told Unsubscribe for each, b Subscribe.
func (s *Server) SetBroker(b Broker) {
	ts := &s.topics
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.broker != nil {
		for name := range ts.byName {
			ts.broker.Unsubscribe(name)
		}
	}
	ts.broker = b
	if b != nil {
		for name := range ts.byName {
			b.Subscribe(name)
		}
	}
}

// Broker returns the server's broker, nil when it has none.
func (s *Server) Broker() Broker {
	s.topics.mu.RLock()
	defer s.topics.mu.RUnlock()
	return s.topics.broker
}

// PublishLocal is Publish without the broker: it delivers to this
// server's subscribers of topic and nothing else, with Publish's
// outcomes and counters. It is the entry point of a Broker's incoming
// messages, and of a publish meant for one node only.
func (s *Server) PublishLocal(topicName string, op ws.Opcode, payload []byte) error {
	_, err := s.topics.publish(topicName, op, payload)
	return err
}
