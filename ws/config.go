package ws

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"unievent.dev/ws/permessagedeflate"
)

// The defaults of Config's zero fields (DefaultConfig).
const (
	defaultMaxMessageSize  = 4 << 20
	defaultMaxFragments    = 1 << 16
	defaultSendQueueLimit  = 8 << 20
	defaultCloseTimeout    = 5 * time.Second
	defaultIdleTimeout     = 2 * time.Minute
	defaultPingInterval    = 30 * time.Second
	defaultPongTimeout     = 20 * time.Second
	defaultWriteTimeout    = 30 * time.Second
	defaultReadBufferSize  = 32 << 10
	pollerReadBufferSize   = 128 << 10 // see Config.ReadBufferSize
	minReadBufferSize      = 512
	maxControlPayloadBytes = 125
)

// Backpressure says what a send does when the connection's send queue
// would grow past Config.SendQueueLimit.
type Backpressure uint8

const (
	// BackpressureClose closes the connection with 1008 (policy
	// violation) and reports ErrBackpressure: a reader that cannot keep up
	// is dropped. This is the default.
	BackpressureClose Backpressure = iota
	// BackpressureRefuse refuses the send with ErrBackpressure and keeps
	// the connection; the drain event tells when sending is worth trying
	// again.
	BackpressureRefuse
)

// Config holds a connection's limits and timeouts. The zero value is ready
// to use: every zero field takes its default (DefaultConfig). A negative
// duration turns that timeout off. Every size and limit is an int (bytes,
// or a count), as are server.HTTPConfig.MaxHeaderBytes and the other
// limits of server.Config.
type Config struct {
	// MaxFrameSize bounds the payload of one frame (checked from the
	// header, before any payload is read); 0 means MaxMessageSize.
	MaxFrameSize int
	// MaxMessageSize bounds a whole message, counted while its frames
	// arrive and again while it is inflated; 0 means
	// the default (DefaultConfig). Over the limit, the connection closes with
	// 1009. A message must fit in memory, so a limit beyond half the int
	// range (1 GiB on 32-bit platforms) counts as that.
	MaxMessageSize int
	// MaxFragments bounds the number of frames one message may be split
	// into (a flood of tiny fragments costs a lot of work for little
	// data); 0 means the default (DefaultConfig). Over it: close with 1009.
	MaxFragments int

	// Deflate turns permessage-deflate (RFC 7692) on when non-nil.
	Deflate *permessagedeflate.Config

	// SendQueueLimit bounds the bytes queued for sending and not yet
	// written to the socket; 0 means the default (DefaultConfig). A message
	// to compress counts at its uncompressed size until it is compressed,
	// which happens when the queue is written out, outside the loop.
	SendQueueLimit int
	// SendQueuePolicy is what a send does at the limit.
	SendQueuePolicy Backpressure

	// CloseTimeout is how long to wait for the peer's close frame after
	// sending ours (and for our queue to drain) before dropping the TCP
	// connection; 0 means the default (DefaultConfig). A write made after it has
	// passed still gets 10 ms, so what the socket takes at once goes out,
	// and so does one last read, so that a close frame already in the
	// socket is seen.
	CloseTimeout time.Duration
	// IdleTimeout closes (1001) a connection from which no frame at all
	// arrived for this long; 0 means the default (DefaultConfig).
	IdleTimeout time.Duration
	// PingInterval is how long a connection may be silent before the
	// server sends a ping; 0 means the default (DefaultConfig).
	PingInterval time.Duration
	// PongTimeout is how long to wait for any frame after such a ping
	// before the peer is taken for gone and the connection dropped (close
	// code 1006 reported); 0 means the default (DefaultConfig).
	PongTimeout time.Duration
	// WriteTimeout bounds one blocked socket write; a peer that reads
	// nothing for this long is dropped; 0 means the default (DefaultConfig).
	WriteTimeout time.Duration
	// MessageTimeout bounds the time from a message's first frame to its
	// last (an unending fragmented message); 0 means off unless set, as
	// the idle timeout and MaxMessageSize already bound such a message.
	MessageTimeout time.Duration

	// ReadBufferSize is the size of the pooled buffer one socket read
	// fills; 0 means the default (DefaultConfig). A connection served by the
	// Linux poller reads into a buffer of at least 128 KiB:
	// the poller reads one socket at a time, so that buffer is taken from
	// the pool for the read and given back after it, whatever the number
	// of connections, and a message up to its size that arrives whole is
	// delivered without being copied. A connection that must hold its
	// buffer while it waits for the peer (TLS, Windows) reads into at
	// most 2 KiB after a read that did not fill its buffer, so that an
	// idle one holds no more than that.
	ReadBufferSize int
}

// DefaultConfig returns the Config that the zero Config stands for: every
// field that has a default set to it (ExampleDefaultConfig prints them).
// Unlike the Perl module UniEvent::WebSocket::Server, which defaults to
// unlimited, every limit and timeout is on unless turned off. A connection
// made with DefaultConfig behaves as one made with Config{}.
func DefaultConfig() Config {
	return Config{
		MaxFrameSize:   defaultMaxMessageSize,
		MaxMessageSize: defaultMaxMessageSize,
		MaxFragments:   defaultMaxFragments,
		SendQueueLimit: defaultSendQueueLimit,
		CloseTimeout:   defaultCloseTimeout,
		IdleTimeout:    defaultIdleTimeout,
		PingInterval:   defaultPingInterval,
		PongTimeout:    defaultPongTimeout,
		WriteTimeout:   defaultWriteTimeout,
		ReadBufferSize: defaultReadBufferSize,
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	if c.MaxFrameSize < 0 || c.MaxMessageSize < 0 || c.MaxFragments < 0 || c.SendQueueLimit < 0 || c.ReadBufferSize < 0 {
		return errors.New("ws: sizes and limits in Config must not be negative")
	}
	if c.ReadBufferSize != 0 && c.ReadBufferSize < minReadBufferSize {
		return fmt.Errorf("ws: ReadBufferSize %d is below %d", c.ReadBufferSize, minReadBufferSize)
	}
	if c.SendQueuePolicy > BackpressureRefuse {
		return fmt.Errorf("ws: unknown SendQueuePolicy %d", c.SendQueuePolicy)
	}
	if c.Deflate != nil {
		if err := c.Deflate.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// maxMessageCap is the largest message limit a connection applies: a
// message is held in one slice, and limits passed on as an int (to the
// inflater, to buffer sizing) must stay positive on 32-bit platforms.
const maxMessageCap = math.MaxInt >> 1

// settings is a Config with every default filled in, shared read-only by
// the connections created with it.
type settings struct {
	maxFrame, maxMessage int64
	maxFragments         int
	deflate              *permessagedeflate.Config
	queueLimit           int
	policy               Backpressure
	closeTimeout         time.Duration
	idle, ping, pong     time.Duration
	write, message       time.Duration
	readBuf              int
}

func orDuration(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0 // off
	}
	return d
}

// lastSettings remembers the settings made last, with the Config they were
// made from: a server makes every connection from the same Config, and
// they share one settings value instead of one each.
var lastSettings atomic.Pointer[settingsEntry]

type settingsEntry struct {
	cfg Config
	s   *settings
}

func (c *Config) settings() *settings {
	if e := lastSettings.Load(); e != nil && e.cfg == *c {
		return e.s
	}
	s := c.makeSettings()
	lastSettings.Store(&settingsEntry{cfg: *c, s: s})
	return s
}

func (c *Config) makeSettings() *settings {
	s := &settings{
		maxMessage:   int64(c.MaxMessageSize),
		maxFrame:     int64(c.MaxFrameSize),
		maxFragments: c.MaxFragments,
		deflate:      c.Deflate,
		queueLimit:   c.SendQueueLimit,
		policy:       c.SendQueuePolicy,
		closeTimeout: orDuration(c.CloseTimeout, defaultCloseTimeout),
		idle:         orDuration(c.IdleTimeout, defaultIdleTimeout),
		ping:         orDuration(c.PingInterval, defaultPingInterval),
		pong:         orDuration(c.PongTimeout, defaultPongTimeout),
		write:        orDuration(c.WriteTimeout, defaultWriteTimeout),
		message:      orDuration(c.MessageTimeout, 0),
		readBuf:      c.ReadBufferSize,
	}
	if s.maxMessage == 0 {
		s.maxMessage = defaultMaxMessageSize
	}
	s.maxMessage = min(s.maxMessage, maxMessageCap)
	if s.maxFrame == 0 || s.maxFrame > s.maxMessage {
		s.maxFrame = s.maxMessage
	}
	if s.maxFragments == 0 {
		s.maxFragments = defaultMaxFragments
	}
	if s.queueLimit == 0 {
		s.queueLimit = defaultSendQueueLimit
	}
	if s.readBuf == 0 {
		s.readBuf = defaultReadBufferSize
	}
	if s.closeTimeout == 0 {
		s.closeTimeout = defaultCloseTimeout // the close handshake always ends
	}
	return s
}
