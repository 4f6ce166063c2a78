// Package nats carries the topics of unievent.dev servers across nodes on
// NATS (https://nats.io, the client github.com/nats-io/nats.go): it is a
// server.Broker, so that a Server.Publish on one node reaches the
// subscribers of the topic on every node connected to the same NATS
// server (or cluster) with the same subject prefix. It is a module of its
// own, unievent.dev/broker/nats, so that the core stays standard-library
// only and a program that runs on one machine never downloads NATS.
//
//	b, err := nats.Connect("nats://127.0.0.1:4222", srv, nats.Options{})
//	...
//	defer b.Close()
//
// # Topics and subjects
//
// A topic is the subject Prefix + "." + EscapeTopic(topic): one token in
// which the bytes NATS reserves (".", "*", ">", whitespace and control
// bytes), every byte outside printable ASCII and the escape character
// "%" are written %XX, so that every topic name the server takes (1 to
// server.MaxTopicLength arbitrary bytes) is a valid literal subject and
// UnescapeTopic gets it back. A message is one NATS message: a byte with
// the WebSocket opcode (1 text, 2 binary) followed by the payload; a
// service that is not a node can publish to a topic by sending that to
// the subject (and a message in another form is counted as Invalid and
// dropped).
//
// The broker holds one NATS subscription per topic that at least one
// local connection holds: the first subscriber subscribes, the last one's
// leaving unsubscribes, so the traffic a node receives is that of its own
// topics, and a topic published to on one node crosses NATS once per
// other node that holds it, whatever its number of subscribers there.
// The subscriptions follow the server's topics from a goroutine of the
// broker (the server's topic lock never waits on the network); Flush waits
// until they are in place.
//
// # Delivery semantics
//
// At most once across nodes: NATS core has no acknowledgements or
// redelivery; a message in flight when a node or the NATS server fails is
// lost for the other nodes (local subscribers always get it: Publish
// delivers locally before it hands the message over). A node never gets
// its own messages back (the NATS connection has NoEcho), so none is
// delivered twice. Order: the messages one goroutine publishes to a topic
// reach every subscriber, on every node, in that order; messages of
// different publishers, or of one publisher on different topics, have no
// order between them across nodes.
//
// # Outages
//
// When the connection to NATS is lost, local delivery goes on unchanged.
// The client reconnects by itself, forever, with exponential backoff
// (Options.ReconnectWait doubling up to MaxReconnectWait, one second by
// default, with jitter), and re-establishes every subscription when it is
// back. Publishes made while disconnected wait in nats.go's reconnect
// buffer (Options.ReconnectBufSize bytes, 1 MiB by default) and are sent
// after reconnecting; past that size they are dropped and counted
// (Stats.Dropped). Messages other nodes publish during the outage are
// not received. A message NATS drops because this node's inbox is full
// (Options.InboxSize) is counted as Lost.
//
// Stats gives the connection state, reconnections and the counters, for
// logs and metrics.
package nats
