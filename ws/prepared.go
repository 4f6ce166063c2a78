package ws

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"unievent.dev/internal/bufpool"
	"unievent.dev/internal/utf8stream"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/internal/engine"
	"unievent.dev/ws/permessagedeflate"
)

// PreparedMessage is a data message encoded once for many connections
// (SendPrepared): its frame, header and payload, is built when it is made
// and shared read-only by the send queue of every server connection it is
// sent to, with no copy per connection; each queue's writev points at it.
//
// With permessage-deflate, a connection that negotiated
// server_no_context_takeover gets the message compressed once for each
// distinct compression level and window size among such connections, and
// shares that frame too. A connection with context takeover compresses the
// message itself with its own compressor, as SendBinary would (one
// compression and one copy per connection: its compressor's state differs
// from every other's). A client connection masks every frame with a key
// of its own, so it copies the message as SendBinary does.
//
// A PreparedMessage is safe for concurrent use and may be sent any number
// of times. Its memory is the garbage collector's once nothing refers to
// it.
type PreparedMessage struct {
	op      Opcode
	payload []byte   // the message, copied once
	plain   []byte   // its uncompressed server frame
	pooled  bool     // backing goes back to bufpool at the last unref
	backing [][]byte // the pooled buffers behind plain and the deflated frames
	refs    atomic.Int64

	mu       sync.Mutex
	deflated []deflatedFrame
}

// deflatedFrame is a PreparedMessage's frame compressed for one level and
// window size, without context takeover.
type deflatedFrame struct {
	level, windowBits int
	wire              []byte
	hdr               int // header bytes at the start of wire
}

// NewPreparedMessage encodes p as a message of the given opcode (OpText,
// and then p must be valid UTF-8, or OpBinary) for SendPrepared. p is
// copied: the caller may reuse it at once. It returns an error wrapping
// ErrInvalid for another opcode or text that is not UTF-8.
func NewPreparedMessage(op Opcode, p []byte) (*PreparedMessage, error) {
	return newPrepared(op, p, false)
}

func newPrepared(op Opcode, p []byte, pooled bool) (*PreparedMessage, error) {
	switch op {
	case OpText:
		if !utf8stream.Valid(p) {
			return nil, errInvalidUTF8
		}
	case OpBinary:
	default:
		return nil, errInvalidOpcode
	}
	pm := &PreparedMessage{op: op, pooled: pooled}
	pm.plain = pm.encodeShared(frame.Header{Fin: true, Opcode: op}, p)
	pm.payload = pm.plain[len(pm.plain)-len(p):]
	pm.refs.Store(1) // the maker's
	return pm, nil
}

// encodeShared builds a whole server frame in one buffer, cap == len so
// that a send queue never appends to it. pm.mu is held, or pm is new.
func (pm *PreparedMessage) encodeShared(h frame.Header, p []byte) []byte {
	h.Length = int64(len(p))
	n := frame.HeaderLen(h.Length, false) + len(p)
	var b []byte
	if pm.pooled {
		b = bufpool.Get(n)
		pm.backing = append(pm.backing, b)
	} else {
		b = make([]byte, 0, n)
	}
	b = frame.AppendHeader(b, &h)
	b = append(b, p...)
	return b[:n:n]
}

// deflatedFor returns the frame compressed with cfg's level and the
// window size of p, building it the first time.
func (pm *PreparedMessage) deflatedFor(cfg *permessagedeflate.Config, p permessagedeflate.Params) (wire []byte, hdr int, err error) {
	level := 0
	if cfg != nil {
		level = cfg.Level
	}
	bits := p.ServerMaxWindowBits
	pm.mu.Lock()
	defer pm.mu.Unlock()
	for _, d := range pm.deflated {
		if d.level == level && d.windowBits == bits {
			return d.wire, d.hdr, nil
		}
	}
	comp := permessagedeflate.NewCompressor(cfg, permessagedeflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: bits})
	scratch := bufpool.Get(len(pm.payload) + 64)[:0]
	out, err := comp.Compress(scratch, pm.payload)
	comp.Release()
	if err != nil {
		bufpool.Put(scratch)
		return nil, 0, err
	}
	wire = pm.encodeShared(frame.Header{Fin: true, Rsv1: true, Opcode: pm.op}, out)
	hdr = len(wire) - len(out)
	bufpool.Put(out)
	pm.deflated = append(pm.deflated, deflatedFrame{level: level, windowBits: bits, wire: wire, hdr: hdr})
	return wire, hdr, nil
}

// unref drops one send queue's (or the maker's) reference; the last one
// gives a pooled message's frames back.
func (pm *PreparedMessage) unref() {
	if pm.refs.Add(-1) != 0 || !pm.pooled {
		return
	}
	for _, b := range pm.backing {
		bufpool.Put(b)
	}
	pm.backing, pm.plain, pm.payload, pm.deflated = nil, nil, nil, nil
}

// SendPrepared queues pm, in order with the connection's other sends and
// under the same limit and policy (Config.SendQueueLimit). On a server
// connection the queue refers to pm's shared frame; see PreparedMessage
// for deflate and the client role.
func (c *Conn) SendPrepared(pm *PreparedMessage) error {
	return c.sendPrepared(pm, nil)
}

// sendDeferred is SendPrepared for engine.Funcs.SendDeferred.
func (c *Conn) sendDeferred(pm *PreparedMessage, d *engine.Deferred[Conn]) error {
	return c.sendPrepared(pm, d)
}

// sendPrepared queues pm; the write it starts is recorded in d when d is
// not nil, else started on a goroutine.
func (c *Conn) sendPrepared(pm *PreparedMessage, d *engine.Deferred[Conn]) error {
	q := &c.q
	q.mu.Lock()
	if err := q.refusalLocked(); err != nil {
		q.mu.Unlock()
		return err
	}
	wire, hdr, err := q.preparedWireLocked(pm)
	if err != nil {
		q.err = err // the compressor failed: the connection is over
		q.mu.Unlock()
		c.abort()
		return ErrClosed
	}
	size := len(wire)
	if wire == nil {
		size = frame.HeaderLen(int64(len(pm.payload)), c.role == frame.RoleClient) + len(pm.payload)
	}
	if !q.admitLocked(size) {
		q.mu.Unlock()
		return q.overLimit()
	}
	h := frame.Header{Fin: true, Opcode: pm.op}
	switch {
	case wire == nil:
		q.queueDataLocked(h, pm.payload)
	case q.z != nil && len(q.z.later) > 0:
		// Behind a message still to compress: the order of the sends
		// needs a copy.
		h.Rsv1 = wire[0]&0x40 != 0
		q.laterLocked(h, wire[hdr:], false)
	default:
		q.putSharedLocked(wire, pm)
	}
	c.messagesOut.Add(1)
	start := q.startFlushLocked()
	q.mu.Unlock()
	if start && d != nil {
		d.Conns = append(d.Conns, c)
		return nil
	}
	q.startFlush(start)
	return nil
}

// preparedWireLocked chooses the shared frame of pm this connection
// sends, or nil when it must encode the message itself (client role,
// context takeover).
func (q *sendQueue) preparedWireLocked(pm *PreparedMessage) (wire []byte, hdr int, err error) {
	c := q.c
	if c.role == frame.RoleClient {
		return nil, 0, nil
	}
	if q.z == nil || !q.z.comp.ShouldCompress(len(pm.payload)) {
		return pm.plain, len(pm.plain) - len(pm.payload), nil
	}
	if !c.params.ServerNoContextTakeover {
		return nil, 0, nil
	}
	return pm.deflatedFor(c.s.deflate, c.codecParams())
}

// pin marks a chunk of the send queue that is not a pooled buffer of its
// own from its start: a shared frame, pm's, given back with unref once
// written, or a frame inside buf, a read buffer a listener's SendMessage
// passed on (queueLentLocked), which goes back to the pool whole.
type pin struct {
	data *byte
	pm   *PreparedMessage
	buf  []byte
}

// putSharedLocked queues wire, pm's frame, as a chunk of its own.
func (q *sendQueue) putSharedLocked(wire []byte, pm *PreparedMessage) {
	pm.refs.Add(1)
	q.out = append(q.out, wire)
	q.pinLocked(pin{data: unsafe.SliceData(wire), pm: pm})
	q.queued += len(wire)
}

// pinLocked records the pin of the chunk just queued.
func (q *sendQueue) pinLocked(p pin) {
	if q.pinned == nil {
		q.pinned = new(pinLists)
	}
	q.pinned.pins = append(q.pinned.pins, p)
}

// recycle gives a written chunk back: to its PreparedMessage, or its read
// buffer to the pool, when it is the oldest pinned one (pins are in queue
// order), else the chunk itself to the pool. It reports whether it used a
// pin.
func recycle(buf []byte, pins []pin) bool {
	if len(pins) > 0 && unsafe.SliceData(buf) == pins[0].data {
		if pins[0].pm != nil {
			pins[0].pm.unref()
		} else {
			bufpool.Put(pins[0].buf)
		}
		return true
	}
	bufpool.Put(buf)
	return false
}
