package server

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
)

// MaxTopicLength is the longest topic name, in bytes, that Subscribe
// takes: a name is a key, not a payload.
const MaxTopicLength = 256

// The errors of the topic API, wrapping ws.ErrInvalid.
var (
	errTopicName = fmt.Errorf("%w: a topic name has 1 to %d bytes", ws.ErrInvalid, MaxTopicLength)
	errTooLarge  = fmt.Errorf("%w: the message is over a subscriber's send queue limit", ws.ErrInvalid)
)

// topics owns a server's subscriptions: which connections hold which
// topic, both ways, and the publish counters. mu guards the topics, and
// every Conn's subs and subState; Publish holds it for reading while it
// queues one prepared message on every subscriber, which never blocks
// (sends only queue), so Subscribe and Unsubscribe wait at most that long.
//
// A subscription is two entries that point at each other by index: a
// member in its topic's subs and a subscription in its Conn's subs. So
// Publish walks a dense slice of connections, and Unsubscribe and a
// closing connection's leaving remove an entry by swapping the last one
// into its place, without searching the topic.
type topics struct {
	mu     sync.RWMutex
	byName map[string]*topic
	broker Broker // told of the first and last subscriber of a topic

	published, unheld, delivered, skipped, dropped atomic.Uint64
}

// topic is one topic's subscribers.
type topic struct {
	name string
	subs []member
}

// member is a subscriber in a topic's subs: k is the subscription's index
// in c.subs.
type member struct {
	c *Conn
	k int
}

// subscription is a topic in a Conn's subs: i is the member's index in
// t.subs.
type subscription struct {
	t *topic
	i int
}

// What a connection may do with topics (Conn.subState).
const (
	subPending uint8 = iota // the opening handshake is being decided
	subOpen                 // registered: may subscribe
	subLeft                 // closed: left its topics, may not subscribe
)

// open lets a registered connection subscribe.
func (ts *topics) open(c *Conn) {
	ts.mu.Lock()
	if c.subState == subPending {
		c.subState = subOpen
	}
	ts.mu.Unlock()
}

// leave removes a closed connection from every topic it holds; it may not
// subscribe again.
func (ts *topics) leave(c *Conn) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	c.subState = subLeft
	for len(c.subs) > 0 {
		ts.removeLocked(c, len(c.subs)-1)
	}
	c.subs = nil
}

// removeLocked drops subscription k of c, moving the last entries of the
// topic's and the connection's slices into the holes.
func (ts *topics) removeLocked(c *Conn, k int) {
	s := c.subs[k]
	t := s.t
	last := len(t.subs) - 1
	if s.i != last {
		moved := t.subs[last]
		t.subs[s.i] = moved
		moved.c.subs[moved.k].i = s.i
	}
	t.subs[last] = member{}
	t.subs = t.subs[:last]
	if last == 0 {
		delete(ts.byName, t.name)
		if ts.broker != nil {
			ts.broker.Unsubscribe(t.name)
		}
	}
	lastK := len(c.subs) - 1
	if k != lastK {
		moved := c.subs[lastK]
		c.subs[k] = moved
		moved.t.subs[moved.i].k = k
	}
	c.subs[lastK] = subscription{}
	c.subs = c.subs[:lastK]
}

// findLocked returns the index of c's subscription to name, -1 when
// there is none. It walks c's topics: a connection holds few.
func (c *Conn) findLocked(name string) int {
	for k, s := range c.subs {
		if s.t.name == name {
			return k
		}
	}
	return -1
}

// Subscribe adds the connection to topic, so that every Server.Publish to
// it reaches the connection; subscribing again to a topic it holds does
// nothing. The name has 1 to MaxTopicLength bytes (else an error wrapping
// ws.ErrInvalid). Inside the handshake callback it returns
// ws.ErrNotEstablished, once the connection is closed ws.ErrClosed; a
// closed connection leaves its topics by itself, before the
// disconnection listeners run. Subscribe costs O(topics the connection
// holds).
func (c *Conn) Subscribe(topicName string) error {
	if len(topicName) == 0 || len(topicName) > MaxTopicLength {
		return errTopicName
	}
	ts := &c.server.topics
	ts.mu.Lock()
	defer ts.mu.Unlock()
	switch c.subState {
	case subPending:
		return ws.ErrNotEstablished
	case subLeft:
		return ws.ErrClosed
	}
	if c.findLocked(topicName) >= 0 {
		return nil
	}
	t := ts.byName[topicName]
	if t == nil {
		if ts.byName == nil {
			ts.byName = make(map[string]*topic)
		}
		t = &topic{name: topicName}
		ts.byName[topicName] = t
		if ts.broker != nil {
			ts.broker.Subscribe(topicName)
		}
	}
	t.subs = append(t.subs, member{c: c, k: len(c.subs)})
	c.subs = append(c.subs, subscription{t: t, i: len(t.subs) - 1})
	return nil
}

// Unsubscribe removes the connection from topic and reports whether it
// held it.
func (c *Conn) Unsubscribe(topicName string) bool {
	ts := &c.server.topics
	ts.mu.Lock()
	defer ts.mu.Unlock()
	k := c.findLocked(topicName)
	if k < 0 {
		return false
	}
	ts.removeLocked(c, k)
	return true
}

// Topics returns the names of the topics the connection holds, sorted.
func (c *Conn) Topics() []string {
	ts := &c.server.topics
	ts.mu.RLock()
	names := make([]string, len(c.subs))
	for k, s := range c.subs {
		names[k] = s.t.name
	}
	ts.mu.RUnlock()
	slices.Sort(names)
	return names
}

// Subscribers returns the number of connections that hold topic.
func (s *Server) Subscribers(topicName string) int {
	s.topics.mu.RLock()
	defer s.topics.mu.RUnlock()
	if t := s.topics.byName[topicName]; t != nil {
		return len(t.subs)
	}
	return 0
}

// TopicStats counts what Publish did, over the server's life.
type TopicStats struct {
	// Published counts the calls to Publish that queued their message
	// (to every subscriber that took it).
	Published uint64
	// Unheld counts the publishes to a topic nobody held: nothing was
	// sent.
	Unheld uint64
	// Delivered counts the messages queued on subscribers.
	Delivered uint64
	// Skipped counts the messages subscribers under ws.BackpressureRefuse
	// did not get because their send queue was full; Dropped the
	// subscribers under ws.BackpressureClose closed (1008) for it.
	Skipped, Dropped uint64
}

// TopicStats returns the server's publish counters.
func (s *Server) TopicStats() TopicStats {
	ts := &s.topics
	return TopicStats{
		Published: ts.published.Load(),
		Unheld:    ts.unheld.Load(),
		Delivered: ts.delivered.Load(),
		Skipped:   ts.skipped.Load(),
		Dropped:   ts.dropped.Load(),
	}
}

// Refused returns the number of published messages the connection did
// not take because its send queue was full (under ws.BackpressureClose at
// most one: it is closing then).
func (c *Conn) Refused() uint64 { return c.refused.Load() }

// Publish sends payload as one message of the given opcode (ws.OpText,
// valid UTF-8, or ws.OpBinary) to every connection that holds topic. It
// is safe to call from any goroutine, never blocks on a subscriber and
// returns once the message is queued on each (the sends of one goroutine
// reach every subscriber in the order of its Publish calls). The message
// is encoded, and with permessage-deflate compressed, once for all
// subscribers (ws.PreparedMessage). payload is copied. The writes wait
// for the callbacks running on the server's loop, if any, to return: what
// a listener publishes, message after message, goes out to each
// subscriber in one write once it has returned, and so does what other
// goroutines publish meanwhile.
//
// A subscriber whose send queue is full does not get the message, and its
// ws.Config.SendQueuePolicy applies: BackpressureClose closes it with
// 1008, BackpressureRefuse skips the message for it; TopicStats counts
// them as Dropped and Skipped, Conn.Refused per connection. A publish to a topic nobody holds sends nothing and
// counts as Unheld. An invalid opcode or text, or a message whose frame
// is larger than some subscriber's SendQueueLimit (it could never be
// queued there), is an error wrapping ws.ErrInvalid and nothing is sent.
//
// With a Broker (SetBroker), Publish then hands the message to it for the
// subscribers on other nodes, whether a connection here holds the topic
// or not; PublishLocal does not.
func (s *Server) Publish(topicName string, op ws.Opcode, payload []byte) error {
	b, err := s.topics.publish(topicName, op, payload)
	if b != nil && err == nil && len(topicName) > 0 && len(topicName) <= MaxTopicLength {
		b.Publish(topicName, op, payload)
	}
	return err
}

// publish delivers to the local subscribers of topicName (Publish and
// PublishLocal) and returns the broker in place.
func (ts *topics) publish(topicName string, op ws.Opcode, payload []byte) (Broker, error) {
	pm, err := ws.NewPreparedMessage(op, payload)
	if err != nil {
		return nil, err
	}
	size := frame.HeaderLen(int64(len(payload)), false) + len(payload)
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	t := ts.byName[topicName]
	if t == nil {
		ts.unheld.Add(1)
		return ts.broker, nil
	}
	for _, m := range t.subs {
		if size > int(m.c.sendLimit) {
			return nil, errTooLarge
		}
	}
	var delivered uint64
	d := wsEngine.NewDeferred()
	for _, m := range t.subs {
		switch wsEngine.SendDeferred(m.c.Conn, pm, d) {
		case nil:
			delivered++
		case ws.ErrBackpressure:
			m.c.refused.Add(1)
			if m.c.policy == ws.BackpressureRefuse {
				ts.skipped.Add(1)
			} else {
				ts.dropped.Add(1)
			}
		}
	}
	wsEngine.FlushDeferred(d)
	ts.published.Add(1)
	ts.delivered.Add(delivered)
	return ts.broker, nil
}
