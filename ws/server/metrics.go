package server

import (
	"net/http"
	"slices"
	"sync/atomic"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
)

// numTransports is the number of (transport, TLS or not) pairs the
// server counts: HTTP/1.1 and HTTP/2, each plain or over TLS.
const numTransports = 4

// transportIndex is the index of the pair r arrived on among the server's
// counts: r.TLS is set by net/http for a TLS connection, and by the
// server for the requests it reads itself (front.go) or hands to net/http
// replayed (connContext).
func transportIndex(r *http.Request) int {
	i := 0
	if r.ProtoMajor == 2 {
		i = 2
	}
	if r.TLS != nil {
		i++
	}
	return i
}

// transportOfIndex returns the Transport name and TLS of index i.
func transportOfIndex(i int) (string, bool) {
	if i >= 2 {
		return TransportHTTP2, i == 3
	}
	return TransportHTTP1, i == 1
}

// TLS reports whether the connection runs over TLS (wss://), whatever its
// Transport. It is known from the handshake callback on and parses
// nothing.
func (c *Conn) TLS() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	// With only the request head kept (c.req nil), the connection is a
	// plain one: the fast path keeps the head for those only (front.go).
	return c.req != nil && c.req.HTTP != nil && c.req.HTTP.TLS != nil
}

// transportIndexOf is transportIndex for an established connection.
func (c *Conn) transportIndexOf() int {
	i := 0
	if c.Transport() == TransportHTTP2 {
		i = 2
	}
	if c.TLS() {
		i++
	}
	return i
}

// The close codes Metrics.Closes counts one by one: the codes RFC 6455 and
// the IANA registry define, 1000 to 1015 but for the reserved 1004. Every
// other code counts in ClosesOther, so that the number of distinct keys
// stays bounded whatever peers send.
const (
	firstNamedClose = frame.CloseNormal
	lastNamedClose  = frame.CloseTLSHandshake
	closeBuckets    = int(lastNamedClose-firstNamedClose) + 2 // the named range, and other
)

// closeBucket returns the bucket code counts in.
func closeBucket(code ws.CloseCode) int {
	if code < firstNamedClose || code > lastNamedClose || code == 1004 {
		return closeBuckets - 1
	}
	return int(code - firstNamedClose)
}

// The statuses Metrics.UpgradesRefused counts: a refusal is 400 to 599
// (SendAcceptError takes no other, and neither does the server answer
// one).
const (
	firstRefusal = 400
	refusals     = 200
)

// counters owns the server's own counters, those the connections'
// ws.Stats and the topics' TopicStats do not count already: upgrades, and
// what the connections that ended had counted. Nothing here is touched
// per message: a message is counted once, by its connection's ws.Stats.
//
// refused is written by any upgrade, without a lock. The rest is guarded
// by Server.mu, and changes with Server.conns (registration and the end
// of a connection), so that a snapshot taken under it counts every
// connection once, open or ended.
type counters struct {
	refused [refusals]atomic.Uint64 // by status - firstRefusal

	accepted, ended [numTransports]uint64
	closes          [closeBuckets]uint64
	endedStats      ws.Stats // the traffic of the connections that ended, summed
	// The refusals of the ended connections' send queues, by policy.
	endedBPCloses, endedBPRefused uint64
}

// refuse answers an upgrade with an error status through a, and counts it.
func (s *Server) refuse(a answerer, status int, body string, header http.Header) {
	s.countRefused(status)
	a.refuse(status, body, header)
}

// countRefused counts an upgrade answered with status.
func (s *Server) countRefused(status int) {
	if i := status - firstRefusal; i >= 0 && i < refusals {
		s.m.refused[i].Add(1)
	}
}

// registeredLocked counts a connection that has been registered, s.mu is
// held.
func (s *Server) registeredLocked(transport int) { s.m.accepted[transport]++ }

// endedLocked counts a registered connection that ended with code, as it
// leaves s.conns; s.mu is held.
func (s *Server) endedLocked(c *Conn, code ws.CloseCode) {
	m := &s.m
	m.ended[c.transportIndexOf()]++
	m.closes[closeBucket(code)]++
	st := c.Stats()
	m.endedStats.MessagesIn += st.MessagesIn
	m.endedStats.MessagesOut += st.MessagesOut
	m.endedStats.BytesIn += st.BytesIn
	m.endedStats.BytesOut += st.BytesOut
	m.endedStats.Refused += st.Refused
	if c.policy == ws.BackpressureRefuse {
		m.endedBPRefused += st.Refused
	} else {
		m.endedBPCloses += st.Refused
	}
}

// Metrics is a snapshot of a server's counters (Server.Metrics). The
// counters (every uint64 field) only grow, over the server's life, Stop
// and Run again included; Open, the transports' Open and SendQueueBytes
// are the state at the snapshot.
type Metrics struct {
	// Open is the number of connections open (Server.Len); Accepted
	// counts the connections established.
	Open     int    `json:"open"`
	Accepted uint64 `json:"accepted"`
	// Transports splits Open and Accepted by transport (Conn.Transport)
	// and TLS (Conn.TLS): HTTP/1.1 plain and over TLS, then HTTP/2 plain
	// (h2c) and over TLS, each there, counted or not.
	Transports []TransportMetrics `json:"transports"`
	// UpgradesRefused counts the upgrade requests (those that reached
	// UpgradeConnection, mounted or on the locations) answered with an
	// error, by HTTP status: the handshake callback's refusals, invalid
	// requests (400, 426 for a version other than 13, ...), the
	// connection limit's 503 and a server not running's 503. Only the
	// statuses that occurred are there. A plain request answered 426 is
	// not an upgrade and is not counted.
	UpgradesRefused map[int]uint64 `json:"upgrades_refused"`
	// The traffic of every connection, open or ended: their ws.Stats
	// summed (bytes on the wire, whole data messages).
	MessagesIn  uint64 `json:"messages_in"`
	MessagesOut uint64 `json:"messages_out"`
	BytesIn     uint64 `json:"bytes_in"`
	BytesOut    uint64 `json:"bytes_out"`
	// Closes counts the connections that ended, by the close code their
	// close listeners got (the peer's when it started the closing
	// handshake, ours when we did, 1006 when the connection dropped
	// without one). Every code from 1000 to 1015 but 1004 is there,
	// counted or not; any other code (3000-4999 among them) counts in
	// ClosesOther.
	Closes      map[ws.CloseCode]uint64 `json:"closes"`
	ClosesOther uint64                  `json:"closes_other"`
	// SendQueueBytes is the bytes queued on the open connections and not
	// yet written (their BufferedAmount, summed).
	SendQueueBytes int64 `json:"send_queue_bytes"`
	// BackpressureCloses counts the connections closed (1008) because
	// their send queue was full under ws.BackpressureClose;
	// BackpressureRefused the messages a full send queue refused under
	// ws.BackpressureRefuse. Both count every send, published or sent
	// directly; Topics.Dropped and Topics.Skipped are the part Publish
	// did.
	BackpressureCloses  uint64 `json:"backpressure_closes"`
	BackpressureRefused uint64 `json:"backpressure_refused"`
	// Topics is what Publish did (TopicStats): publishes and deliveries.
	Topics TopicStats `json:"topics"`
	// Broker is the state the server's Broker reports, nil when it has
	// none or its broker does not implement BrokerReporter.
	Broker *BrokerStats `json:"broker,omitempty"`
}

// BrokerStats is what a Broker reports of its link to the other nodes.
type BrokerStats struct {
	// Connected reports whether the broker's connection is up now.
	Connected bool `json:"connected"`
	// Reconnects counts its reconnections.
	Reconnects uint64 `json:"reconnects"`
	// Published counts the local publishes it took to carry; Dropped
	// those it could not (disconnected past its buffer, say): other nodes
	// did not get them.
	Published uint64 `json:"published"`
	Dropped   uint64 `json:"dropped"`
	// Received counts the messages from other nodes it handed to
	// PublishLocal.
	Received uint64 `json:"received"`
}

// BrokerReporter is implemented by a Broker that reports its state in the
// server's Metrics (the NATS broker of unievent.dev/broker/nats does).
// BrokerStats is called by Metrics, from any goroutine, without the
// server's locks: it must be safe for concurrent use.
type BrokerReporter interface {
	BrokerStats() BrokerStats
}

// Add adds o to m, for the sum of several servers' Metrics: counts and
// gauges add up, maps merge. Brokers add up too, and the sum is connected
// only while every one is; servers sharing one broker count it once each.
func (m *Metrics) Add(o Metrics) {
	m.Open += o.Open
	m.Accepted += o.Accepted
	for _, t := range o.Transports {
		i := slices.IndexFunc(m.Transports, func(mt TransportMetrics) bool { return mt.Transport == t.Transport && mt.TLS == t.TLS })
		if i < 0 {
			m.Transports = append(m.Transports, t)
			continue
		}
		m.Transports[i].Open += t.Open
		m.Transports[i].Accepted += t.Accepted
	}
	m.UpgradesRefused = addMaps(m.UpgradesRefused, o.UpgradesRefused, func(a, b uint64) uint64 { return a + b })
	m.MessagesIn += o.MessagesIn
	m.MessagesOut += o.MessagesOut
	m.BytesIn += o.BytesIn
	m.BytesOut += o.BytesOut
	m.Closes = addMaps(m.Closes, o.Closes, func(a, b uint64) uint64 { return a + b })
	m.ClosesOther += o.ClosesOther
	m.SendQueueBytes += o.SendQueueBytes
	m.BackpressureCloses += o.BackpressureCloses
	m.BackpressureRefused += o.BackpressureRefused
	m.Topics.Published += o.Topics.Published
	m.Topics.Unheld += o.Topics.Unheld
	m.Topics.Delivered += o.Topics.Delivered
	m.Topics.Skipped += o.Topics.Skipped
	m.Topics.Dropped += o.Topics.Dropped
	if b := o.Broker; b != nil {
		if m.Broker == nil {
			m.Broker = &BrokerStats{Connected: true}
		}
		sum := m.Broker
		sum.Connected = sum.Connected && b.Connected
		sum.Reconnects += b.Reconnects
		sum.Published += b.Published
		sum.Dropped += b.Dropped
		sum.Received += b.Received
	}
}

// addMaps adds b into a (made when nil), joining the values of a key with
// add.
func addMaps[K comparable, V any](a, b map[K]V, add func(V, V) V) map[K]V {
	if a == nil && len(b) > 0 {
		a = make(map[K]V, len(b))
	}
	for k, v := range b {
		if old, ok := a[k]; ok {
			v = add(old, v)
		}
		a[k] = v
	}
	return a
}

// TransportMetrics is the part of Metrics' connections one transport
// has, over TLS or not.
type TransportMetrics struct {
	Transport string `json:"transport"` // TransportHTTP1 or TransportHTTP2
	TLS       bool   `json:"tls"`
	Open      int    `json:"open"`
	Accepted  uint64 `json:"accepted"`
}

// Metrics returns a snapshot of the server's counters: its own, and the
// ws.Stats of its connections summed. It is cheap enough to leave on:
// nothing is counted per message beyond each connection's own ws.Stats,
// so the counters cost no shared write on the message path; the snapshot
// pays instead, O(open connections) (a few atomic loads and the send
// queue's lock each), outside the server's lock.
//
// The snapshot is consistent: each connection is counted once, as open
// or as ended, and Open agrees with Accepted and Closes.
func (s *Server) Metrics() Metrics {
	m := Metrics{
		Transports:      make([]TransportMetrics, numTransports),
		UpgradesRefused: make(map[int]uint64),
		Closes:          make(map[ws.CloseCode]uint64, closeBuckets-1),
		Topics:          s.TopicStats(),
	}
	if r, ok := s.Broker().(BrokerReporter); ok {
		b := r.BrokerStats()
		m.Broker = &b
	}
	for i := range s.m.refused {
		if n := s.m.refused[i].Load(); n > 0 {
			m.UpgradesRefused[firstRefusal+i] = n
		}
	}

	s.mu.Lock()
	c := &s.m
	for i := range numTransports {
		name, tls := transportOfIndex(i)
		m.Transports[i] = TransportMetrics{Transport: name, TLS: tls, Open: int(c.accepted[i] - c.ended[i]), Accepted: c.accepted[i]}
		m.Accepted += c.accepted[i]
	}
	for code := firstNamedClose; code <= lastNamedClose; code++ {
		if code != 1004 {
			m.Closes[code] = c.closes[closeBucket(code)]
		}
	}
	m.ClosesOther = c.closes[closeBuckets-1]
	m.MessagesIn, m.MessagesOut = c.endedStats.MessagesIn, c.endedStats.MessagesOut
	m.BytesIn, m.BytesOut = c.endedStats.BytesIn, c.endedStats.BytesOut
	m.BackpressureCloses, m.BackpressureRefused = c.endedBPCloses, c.endedBPRefused
	open := make([]*Conn, 0, len(s.conns))
	for _, cn := range s.conns {
		open = append(open, cn)
	}
	s.mu.Unlock()

	// A connection that ends from here on was not in the ended sums just
	// read: it counts once, here.
	m.Open = len(open)
	for _, cn := range open {
		st := cn.Stats()
		m.MessagesIn += st.MessagesIn
		m.MessagesOut += st.MessagesOut
		m.BytesIn += st.BytesIn
		m.BytesOut += st.BytesOut
		if cn.policy == ws.BackpressureRefuse {
			m.BackpressureRefused += st.Refused
		} else {
			m.BackpressureCloses += st.Refused
		}
		m.SendQueueBytes += int64(cn.BufferedAmount())
	}
	return m
}
