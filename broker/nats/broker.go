package nats

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

// The defaults of the zero fields of Options.
const (
	DefaultPrefix           = "unievent"
	DefaultReconnectBufSize = 1 << 20
	DefaultReconnectWait    = 50 * time.Millisecond
	DefaultMaxReconnectWait = time.Second
	DefaultInboxSize        = 8192
)

// The envelope's first byte: the WebSocket opcode of the message (RFC
// 6455 section 5.2), the payload follows.
const (
	envText   = byte(ws.OpText)
	envBinary = byte(ws.OpBinary)
)

// Options configure a Broker; a zero field takes its default.
type Options struct {
	// Prefix starts every subject (Prefix + "." + EscapeTopic(topic)):
	// one or more dot-separated tokens of printable ASCII without
	// wildcards. Nodes that share topics use the same; applications that
	// share a NATS server use different ones. Default DefaultPrefix.
	Prefix string
	// Name is the connection's name in nats-server's monitoring.
	Name string
	// ReconnectBufSize bounds, in bytes, what the NATS client keeps of
	// the publishes made while it is disconnected; it sends them after
	// reconnecting. A publish past it is dropped and counted
	// (Stats.Dropped). Default DefaultReconnectBufSize (1 MiB); negative
	// keeps nothing: every publish while disconnected is dropped.
	ReconnectBufSize int
	// ReconnectWait is the wait before the second attempt to reconnect
	// (the first is immediate); it doubles with every failed attempt up
	// to MaxReconnectWait, with up to a quarter of jitter. The client
	// retries forever. Defaults DefaultReconnectWait (50 ms) and
	// DefaultMaxReconnectWait (1 s): a node is back at most about a
	// second after the broker.
	ReconnectWait, MaxReconnectWait time.Duration
	// InboxSize bounds the messages received from NATS that wait for
	// local delivery; past it NATS drops them for this node (a slow
	// consumer, Stats.Lost). Default DefaultInboxSize.
	InboxSize int
	// NATSOptions are more options of the NATS client (credentials, TLS,
	// ping interval...), applied after this package's own.
	NATSOptions []natsgo.Option
}

// Stats counts what a Broker did, over its life.
type Stats struct {
	// Connected reports whether the NATS connection is up now.
	Connected bool
	// Reconnects counts the reconnections to NATS.
	Reconnects uint64
	// Published counts the local publishes handed to NATS (sent, or kept
	// to send after reconnecting).
	Published uint64
	// Dropped counts the local publishes NATS did not take: the
	// reconnect buffer was full, the connection closed, or the message
	// was over the server's max_payload.
	Dropped uint64
	// Received counts the messages from other nodes delivered to local
	// subscribers (Server.PublishLocal).
	Received uint64
	// Invalid counts the messages received that were not a node's (no
	// envelope, an unknown opcode, invalid UTF-8 text, a subject that is
	// not an escaped topic).
	Invalid uint64
	// Lost counts the messages NATS dropped for this node because its
	// inbox was full (nats.go's slow consumer).
	Lost uint64
	// Subscriptions is the number of NATS subscriptions held now: one per
	// topic a local connection holds, once the broker has applied the
	// change.
	Subscriptions int
}

// Broker is a server.Broker on NATS: it carries a server's topics to the
// other servers connected to the same NATS with the same prefix. Connect
// makes one and sets it on the server; Close ends it.
type Broker struct {
	srv    *server.Server
	nc     *natsgo.Conn
	prefix string // with the trailing "."

	inbox chan *natsgo.Msg
	kick  chan struct{} // a change waits in dirty
	done  chan struct{} // closed by Close
	once  sync.Once
	wg    sync.WaitGroup

	// mu guards want and dirty: the server's calls of Subscribe and
	// Unsubscribe (under the server's topic lock) take it only to record
	// the change, never while the NATS client is called.
	mu    sync.Mutex
	want  map[string]bool     // the topics held locally, as the server told
	dirty map[string]struct{} // topics whose want changed, not yet applied

	// applyMu serializes the applying of changes (the worker, Flush) and
	// guards subs and lost.
	applyMu sync.Mutex
	subs    map[string]*natsgo.Subscription // the NATS subscriptions
	lost    uint64                          // slow-consumer drops of subscriptions ended

	published, dropped, received, invalid, reconnects atomic.Uint64
}

var _ server.Broker = (*Broker)(nil)

// Connect connects to the NATS server(s) at url (comma-separated
// nats://host:port URLs), makes a Broker for srv with opts and sets it
// as srv's broker (server.Server.SetBroker): from then on srv's topics
// reach every node on the same NATS and prefix. It fails when the prefix
// is invalid or no NATS server answers; once connected, the broker
// reconnects by itself whenever the connection is lost.
func Connect(url string, srv *server.Server, opts Options) (*Broker, error) {
	if srv == nil {
		return nil, errors.New("nats: no server")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !validPrefix(opts.Prefix) {
		return nil, fmt.Errorf("nats: invalid subject prefix %q", opts.Prefix)
	}
	if opts.InboxSize <= 0 {
		opts.InboxSize = DefaultInboxSize
	}
	b := &Broker{
		srv:    srv,
		prefix: opts.Prefix + ".",
		inbox:  make(chan *natsgo.Msg, opts.InboxSize),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		want:   make(map[string]bool),
		dirty:  make(map[string]struct{}),
		subs:   make(map[string]*natsgo.Subscription),
	}
	nc, err := natsgo.Connect(url, b.natsOptions(opts)...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", url, err)
	}
	b.nc = nc
	b.wg.Add(2)
	go b.applyInterest()
	go b.deliver()
	srv.SetBroker(b)
	return b, nil
}

// natsOptions are the client options: no echo (a node never receives its
// own publishes back, so never delivers them twice), reconnect forever
// with backoff, the bounded reconnect buffer, and the user's options.
func (b *Broker) natsOptions(opts Options) []natsgo.Option {
	buf := opts.ReconnectBufSize
	switch {
	case buf == 0:
		buf = DefaultReconnectBufSize
	case buf < 0:
		buf = -1
	}
	first := opts.ReconnectWait
	if first <= 0 {
		first = DefaultReconnectWait
	}
	most := opts.MaxReconnectWait
	if most <= 0 {
		most = DefaultMaxReconnectWait
	}
	o := []natsgo.Option{
		natsgo.NoEcho(),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectBufSize(buf),
		natsgo.CustomReconnectDelay(func(attempts int) time.Duration {
			return backoff(attempts, first, most)
		}),
		natsgo.ReconnectHandler(func(*natsgo.Conn) { b.reconnects.Add(1) }),
		// Errors the client reports asynchronously (a slow consumer) are
		// counted where they happen; nats.go's default handler prints them.
		natsgo.ErrorHandler(func(*natsgo.Conn, *natsgo.Subscription, error) {}),
	}
	if opts.Name != "" {
		o = append(o, natsgo.Name(opts.Name))
	}
	return append(o, opts.NATSOptions...)
}

// backoff is the wait before reconnection attempt n (1 the first after a
// whole failed round): first doubled n-1 times, at most most, less up to
// a quarter of jitter so that the nodes of a fleet do not all retry at
// once.
func backoff(n int, first, most time.Duration) time.Duration {
	d := most
	if n < 1 {
		n = 1
	}
	if n <= 30 && first<<(n-1) < most {
		d = first << (n - 1)
	}
	return d - rand.N(d/4+1)
}

// Subject returns the NATS subject of topic: the prefix, ".", and
// EscapeTopic(topic).
func (b *Broker) Subject(topic string) string { return b.prefix + EscapeTopic(topic) }

// topicOf returns the topic of a subject of this broker.
func (b *Broker) topicOf(subject string) (string, error) {
	if len(subject) <= len(b.prefix) || subject[:len(b.prefix)] != b.prefix {
		return "", ErrSubject
	}
	return UnescapeTopic(subject[len(b.prefix):])
}

// Subscribe records that a local connection holds topic
// (server.Broker); the NATS subscription follows from the broker's own
// goroutine.
func (b *Broker) Subscribe(topic string) { b.change(topic, true) }

// Unsubscribe records that no local connection holds topic any more
// (server.Broker); the NATS subscription ends from the broker's own
// goroutine.
func (b *Broker) Unsubscribe(topic string) { b.change(topic, false) }

func (b *Broker) change(topic string, held bool) {
	b.mu.Lock()
	if held {
		b.want[topic] = true
	} else {
		delete(b.want, topic)
	}
	b.dirty[topic] = struct{}{}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// applyInterest is the goroutine that makes the NATS subscriptions follow
// the topics held: one subscription per topic, all delivering into the
// inbox (nats.go starts no goroutine for a channel subscription).
func (b *Broker) applyInterest() {
	defer b.wg.Done()
	for {
		select {
		case <-b.done:
			return
		case <-b.kick:
		}
		b.apply()
	}
}

// apply makes the NATS subscriptions follow the changes recorded so far.
// It takes the changes under mu and calls the NATS client without it, so
// that the server's topic lock never waits on the client (which writes to
// its socket itself when its buffer is full).
func (b *Broker) apply() {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	b.mu.Lock()
	dirty := b.dirty
	if len(dirty) == 0 {
		b.mu.Unlock()
		return
	}
	b.dirty = make(map[string]struct{})
	wanted := make(map[string]bool, len(dirty))
	for topic := range dirty {
		wanted[topic] = b.want[topic]
	}
	if len(b.want) == 0 {
		// A map keeps the buckets of its peak: start again after churn.
		b.want = make(map[string]bool)
	}
	b.mu.Unlock()
	for topic, want := range wanted {
		sub, subscribed := b.subs[topic]
		switch {
		case want && !subscribed:
			s, err := b.nc.ChanSubscribe(b.Subject(topic), b.inbox)
			if err != nil {
				// Only a closed connection refuses a valid subject.
				continue
			}
			b.subs[topic] = s
		case !want && subscribed:
			if n, err := sub.Dropped(); err == nil {
				b.lost += uint64(n)
			}
			sub.Unsubscribe()
			delete(b.subs, topic)
		}
	}
	if len(b.subs) == 0 {
		b.subs = make(map[string]*natsgo.Subscription)
	}
}

// deliver is the goroutine that hands the messages from NATS to the local
// subscribers, in the order NATS delivered them.
func (b *Broker) deliver() {
	defer b.wg.Done()
	for {
		select {
		case <-b.done:
			return
		case m := <-b.inbox:
			b.deliverOne(m)
		}
	}
}

func (b *Broker) deliverOne(m *natsgo.Msg) {
	topic, err := b.topicOf(m.Subject)
	if err != nil || len(m.Data) == 0 || (m.Data[0] != envText && m.Data[0] != envBinary) {
		b.invalid.Add(1)
		return
	}
	if b.srv.PublishLocal(topic, ws.Opcode(m.Data[0]), m.Data[1:]) != nil {
		b.invalid.Add(1)
		return
	}
	b.received.Add(1)
}

// envelopes holds the buffers Publish builds its envelopes in: the NATS
// client copies a message into its own buffer before Publish returns.
var envelopes = sync.Pool{New: func() any { return new([]byte) }}

// Publish hands a local publish to NATS (server.Broker), as one message
// on the topic's subject: a byte with the opcode, then the payload. It
// does not wait for the network unless the client's write buffer is
// full; while the client is disconnected the message waits in the
// reconnect buffer, and past its size it is dropped and counted.
func (b *Broker) Publish(topic string, op ws.Opcode, payload []byte) {
	bp := envelopes.Get().(*[]byte)
	env := append(append((*bp)[:0], byte(op)), payload...)
	err := b.nc.Publish(b.Subject(topic), env)
	if cap(env) <= 64<<10 {
		*bp = env
		envelopes.Put(bp)
	}
	if err != nil {
		b.dropped.Add(1)
		return
	}
	b.published.Add(1)
}

// Stats returns the broker's counters and state.
func (b *Broker) Stats() Stats {
	st := Stats{
		Connected:  b.nc.IsConnected(),
		Reconnects: b.reconnects.Load(),
		Published:  b.published.Load(),
		Dropped:    b.dropped.Load(),
		Received:   b.received.Load(),
		Invalid:    b.invalid.Load(),
	}
	b.applyMu.Lock()
	st.Lost = b.lost
	for _, s := range b.subs {
		if n, err := s.Dropped(); err == nil {
			st.Lost += uint64(n)
		}
	}
	st.Subscriptions = len(b.subs)
	b.applyMu.Unlock()
	return st
}

// Flush waits, for at most timeout, until the topic changes recorded so
// far are applied and the NATS server has processed them (and every
// publish before): from then on, what other nodes publish to the topics
// held reaches this node. It is for tests and orderly starts; the broker
// works without it.
func (b *Broker) Flush(timeout time.Duration) error {
	b.apply()
	return b.nc.FlushTimeout(timeout)
}

// Close detaches the broker from its server, if it is still the server's
// broker (the server goes on in-process), closes the NATS connection and
// ends the broker's goroutines. It is safe to call more than once.
func (b *Broker) Close() error {
	b.once.Do(func() {
		if b.srv.Broker() == server.Broker(b) {
			b.srv.SetBroker(nil)
		}
		close(b.done)
		b.wg.Wait()
		b.nc.Close()
		b.applyMu.Lock()
		clear(b.subs)
		b.applyMu.Unlock()
	})
	return nil
}
