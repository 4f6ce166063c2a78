package ws

import (
	"errors"
	"sync"
	"unsafe"

	"unievent.dev/internal/bufpool"
	"unievent.dev/internal/mask"
	"unievent.dev/internal/utf8stream"
	"unievent.dev/ws/frame"
)

const (
	chunkSize = 16 << 10 // a queue chunk; a frame may run over several
	// maxQueuedPongs is how many pongs may wait in the queue; past it only
	// the newest ping is answered (RFC 6455 section 5.5.3,
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.5.3, allows that), so a ping flood
	// from a peer that does not read costs a bounded amount.
	maxQueuedPongs = 16
)

// errReleased is the send queue's error once release dropped it: a flush
// still writing when the connection ended stops there.
var errReleased = errors.New("ws: the connection has ended")

// sendQueue owns what a connection sends: admission against
// Config.SendQueueLimit, the frames encoded into pooled chunks, the
// collapsed pong, the frames waiting to be compressed (compressqueue.go),
// who writes the queue out (flush.go), and the drain event's trigger.
//
// mu guards every field, and the send side of the close handshake
// (closeHandshake.state, code, reason): a send checks that no close frame
// is queued and queues its frame under one lock. Sends come from any
// goroutine; they never block on the socket. The reading goroutine
// brackets its processing of one read with holdFlush and releaseFlush so
// that what its listeners queue goes out in one writev; a send from
// anywhere else starts a flushing goroutine when none is running. Helpers
// named ...Locked run with mu held and never let go of it.
type sendQueue struct {
	c  *Conn
	mu sync.Mutex
	// flushed, when waitFlushed waits, is closed by the flush that ends.
	flushed chan struct{}

	out   [][]byte // queued chunks, the last one still being filled
	off   int      // bytes of out[0] already written
	spare [][]byte
	// pinned holds the chunks of out that are PreparedMessage frames
	// (prepared.go); made by the first one queued.
	pinned *pinLists
	queued int // bytes queued and not yet written

	pongs int                           // pongs in the queue
	pong  *[maxControlPayloadBytes]byte // made by the first pong that collapses

	err error // writing failed, or errReleased: the connection is over

	z    *compressQueue // with permessage-deflate only
	keys *maskKeys      // in the client role only: every frame is masked

	// The flags share one word: an idle connection's size counts.
	pongLen   uint8 // bytes of pong in use
	writing   bool  // a flush is under way
	held      bool  // the reading goroutine is dispatching and will flush after
	pongSlot  bool
	wantDrain bool
}

// pinLists are the chunks of a queue's out that are PreparedMessage
// frames (shared, read-only, given back by unref), in queue order, and a
// spare slice for the next batch's.
type pinLists struct {
	pins, spare []pin
}

// pinsLocked returns the queue's pins, nil when it has none.
func (q *sendQueue) pinsLocked() []pin {
	if q.pinned == nil {
		return nil
	}
	return q.pinned.pins
}

func (q *sendQueue) init(c *Conn) {
	q.c = c
	if c.role == frame.RoleClient {
		q.keys = newMaskKeys()
	}
	if c.params != nil && c.s.deflate != nil {
		q.z = newCompressQueue(c)
	}
}

// SendText sends s as one text message. It returns at once: the message
// is queued and written in the background, in the order of the sends.
func (c *Conn) SendText(s string) error {
	return c.q.sendData(OpText, nil, s)
}

// SendBinary sends p as one binary message. p is copied before SendBinary
// returns.
func (c *Conn) SendBinary(p []byte) error {
	return c.q.sendData(OpBinary, p, "")
}

// Send sends p as one message of the given opcode: OpText (p must be
// valid UTF-8) or OpBinary. p is copied before Send returns.
func (c *Conn) Send(op Opcode, p []byte) error {
	if op == OpText {
		if !utf8stream.Valid(p) {
			return errInvalidUTF8
		}
		return c.q.sendData(OpText, p, "")
	}
	if op != OpBinary {
		return errInvalidOpcode
	}
	return c.SendBinary(p)
}

// SendMessage sends m.Payload as one message of m.Opcode: OpText (the
// payload must be valid UTF-8) or OpBinary. It is how a listener passes on
// the message it receives, back to its sender (an echo) or to another
// connection, without copying the payload: its buffer passes to the send
// queue instead.
//
//   - When m is the message a message listener is receiving, on any
//     connection, the queue takes the buffer behind m.Payload, writes it
//     as it is and gives it back to the buffer pool once written. For a
//     message reassembled from several reads, or inflated, that is the
//     connection's own buffer, taken from 1 KiB when at least half full.
//     For a message that arrived whole in one read it is the read buffer,
//     taken from 8 KiB when the message ends the read (nothing after it is
//     read from that buffer) and nothing else is queued. Smaller ones cost
//     less to copy than to hold until written; so a queue's memory stays
//     within twice the bytes it counts against Config.SendQueueLimit plus
//     one read buffer. Once taken, m.Payload is nil when SendMessage
//     returns, for this listener and any that runs after it; the listener
//     must not use the bytes again through a copy of the slice it kept, as
//     the buffer may already hold another message.
//   - Otherwise the payload is copied before SendMessage returns and m is
//     left as it is, as with Send: a read buffer with more after the
//     message, or with a queue that is not empty; a Message the
//     application made or copied; a payload the listener replaced, or
//     moved (resliced from anywhere but its start; for a read buffer, to
//     anywhere but its end).
//   - When permessage-deflate compresses the message on this connection,
//     the queue keeps a taken buffer of the connection's own in the
//     compression slot and gives it back once compressed; a read buffer is
//     copied there. A message that only waits there behind one to compress
//     is copied into the slot, and a taken buffer given back at once.
//   - In the client role, the queue masks a taken payload in place.
//   - On an error nothing is taken and m is unchanged: ErrClosed once the
//     connection is closing or closed, ErrNotEstablished before its
//     opening handshake is complete, ErrBackpressure at
//     Config.SendQueueLimit (under BackpressureClose the connection is
//     closing too), an error wrapping ErrInvalid for another opcode, text
//     that is not UTF-8, or a message whose payload an earlier
//     SendMessage took (m cannot be sent twice, as to several
//     connections: copy its payload, or use a PreparedMessage, for that).
//
// A listener may call SendMessage only while it runs, as it may only read
// m.Payload then. Only the Message the listener was given is taken from,
// not a copy of it, which is copied.
func (c *Conn) SendMessage(m *Message) error {
	switch m.Opcode {
	case OpText:
		if !utf8stream.Valid(m.Payload) {
			return errInvalidUTF8
		}
	case OpBinary:
	default:
		return errInvalidOpcode
	}
	if m.taken {
		return errPayloadTaken
	}
	return c.q.sendFrame(m.Opcode, m.Payload, m)
}

// SendPing sends a ping with payload p (at most 125 bytes).
func (c *Conn) SendPing(p []byte) error {
	if len(p) > maxControlPayloadBytes {
		return errControlTooLong
	}
	return c.q.sendControl(frame.OpPing, p)
}

// BufferedAmount returns the number of bytes queued for sending and not yet
// written to the socket.
func (c *Conn) BufferedAmount() int {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.q.queued
}

// refusalLocked says why no frame may be queued: ErrNotEstablished
// before the opening handshake is complete, ErrClosed once our close
// frame is queued; nil when the connection is OPEN.
func (q *sendQueue) refusalLocked() error {
	switch q.c.hs.state {
	case stateOpen:
		return nil
	case stateConnecting:
		return ErrNotEstablished
	}
	return ErrClosed
}

func (q *sendQueue) sendData(op Opcode, p []byte, s string) error {
	if p == nil && s != "" {
		if !utf8stream.Valid([]byte(s)) {
			return errInvalidUTF8
		}
	}
	payload := p
	if p == nil {
		payload = stringBytes(s)
	}
	return q.sendFrame(op, payload, nil)
}

// sendFrame queues a data message of opcode op and payload p once it is
// admitted: with p's buffer taken from m when m is not nil and it can be
// (takeLocked), copied otherwise.
func (q *sendQueue) sendFrame(op Opcode, p []byte, m *Message) error {
	size := frame.HeaderLen(int64(len(p)), q.c.role == frame.RoleClient) + len(p)
	q.mu.Lock()
	if err := q.refusalLocked(); err != nil {
		q.mu.Unlock()
		return err
	}
	if !q.admitLocked(size) {
		q.mu.Unlock()
		return q.overLimit()
	}
	h := frame.Header{Fin: true, Opcode: op}
	if m == nil || !q.takeLocked(h, m) {
		q.queueDataLocked(h, p)
	}
	q.c.messagesOut.Add(1)
	start := q.startFlushLocked()
	q.mu.Unlock()
	q.startFlush(start)
	return nil
}

const (
	// ownedCopyMin is the smallest payload in a buffer of the
	// connection's own that a queue takes rather than copies: below it
	// another iovec costs more than the copy.
	ownedCopyMin = 1 << 10
	// lentCopyMin is the same for a read buffer, which is larger than
	// its message (Config.ReadBufferSize, 128 KiB on the poller) and
	// held until the frame is written.
	lentCopyMin = 8 << 10
)

// takeLocked queues h, m's frame, with the buffer behind m.Payload taken
// from m (which lets go of it), and reports whether it did; when it
// reports false, nothing changed and the payload must be copied. See
// SendMessage for when a buffer is taken.
func (q *sendQueue) takeLocked(h frame.Header, m *Message) bool {
	a := m.source()
	if a == nil {
		return false
	}
	p := m.Payload
	client := q.c.role == frame.RoleClient
	if a.lent {
		// Into an empty queue only: a read buffer is larger than its
		// message, and the queue's memory may exceed its bytes by one
		// read buffer, not one per message.
		off, ok := offsetIn(a.buf, p)
		compress := q.z != nil && (len(q.z.later) > 0 || q.z.comp.ShouldCompress(len(p)))
		if !ok || q.queued != 0 || len(p) < lentCopyMin || compress || off < frame.HeaderLen(int64(len(p)), client) {
			return false
		}
		buf := a.buf
		m.detach()
		q.queueLentLocked(h, buf, off)
		return true
	}
	// At least half full: the queue's memory stays within twice its
	// bytes.
	if unsafe.SliceData(p) != unsafe.SliceData(a.buf) || cap(p) != cap(a.buf) || len(p) < ownedCopyMin || 2*len(p) < cap(p) {
		return false
	}
	m.detach()
	q.queueOwnedLocked(h, p)
	return true
}

// queueOwnedLocked queues a data message's frame whose payload p, a pooled
// buffer, is now the queue's. To be compressed, p itself waits in the
// compression slot (settleLocked gives it back); otherwise the frame's
// header is encoded into the chunks and p follows as a chunk of its own,
// masked in place in the client role, given back to the pool once written
// (recycle) like any chunk. Frames queued after it may fill its spare
// capacity.
func (q *sendQueue) queueOwnedLocked(h frame.Header, p []byte) {
	if q.z != nil && (len(q.z.later) > 0 || q.z.comp.ShouldCompress(len(p))) {
		if !q.z.comp.ShouldCompress(len(p)) {
			// Behind a message still to compress: settleLocked
			// encodes it in order, from a copy.
			q.laterLocked(h, p, false)
			bufpool.Put(p)
			return
		}
		size := frame.HeaderLen(int64(len(p)), q.c.role == frame.RoleClient) + len(p)
		q.z.later = append(q.z.later, laterFrame{h: h, p: p, compress: true, size: size})
		q.queued += size
		return
	}
	h.Length = int64(len(p))
	q.maskLocked(&h, p)
	var buf [frame.MaxHeaderLen]byte
	hdr := frame.AppendHeader(buf[:0], &h)
	q.putLocked(hdr, false, h.Key)
	q.out = append(q.out, p)
	q.queued += len(hdr) + len(p)
}

// queueLentLocked queues a data message's frame whose payload is the end
// of buf, a read buffer from offset off on, which is now the queue's: the
// frame's header is written into buf just before the payload, over the
// received frame's header, which is as long or longer in the server role
// (it carries a masking key) and which the caller checked there is room
// for in the client role, and the frame goes out as one chunk of its own,
// pinned so that buf goes back to the pool once it is written.
func (q *sendQueue) queueLentLocked(h frame.Header, buf []byte, off int) {
	p := buf[off:]
	h.Length = int64(len(p))
	q.maskLocked(&h, p)
	start := off - frame.HeaderLen(h.Length, h.Masked)
	wire := buf[start:len(buf):len(buf)] // cap == len: nothing is appended to it
	frame.AppendHeader(wire[:0], &h)
	q.out = append(q.out, wire)
	q.pinLocked(pin{data: &wire[0], buf: buf})
	q.queued += len(wire)
}

// maskLocked masks p in place with a fresh key in the client role, which
// masks every frame (RFC 6455 section 5.3,
// https://www.rfc-editor.org/rfc/rfc6455#section-5.3), and sets h's key.
func (q *sendQueue) maskLocked(h *frame.Header, p []byte) {
	if q.keys != nil {
		h.Masked = true
		h.Key = q.keys.next()
		mask.XOR(p, h.Key, 0)
	}
}

// queueDataLocked queues a data message's frame: into a compression slot
// when permessage-deflate compresses it, encoded at once otherwise.
func (q *sendQueue) queueDataLocked(h frame.Header, p []byte) {
	if q.z != nil && q.z.comp.ShouldCompress(len(p)) {
		q.laterLocked(h, p, true)
	} else {
		q.appendFrameLocked(h, p)
	}
}

// overLimit is what a data send refused by admitLocked does, with mu no
// longer held: it counts the refusal (Stats.Refused), under
// BackpressureClose it closes the connection (1008), and it returns
// ErrBackpressure.
func (q *sendQueue) overLimit() error {
	q.c.refused.Add(1)
	if q.c.s.policy == BackpressureClose {
		q.c.Close(frame.ClosePolicyViolation, "send queue limit reached")
	}
	return ErrBackpressure
}

// admitLocked reports whether a frame of size bytes fits under the queue
// limit. Past half the limit, and on a refusal, the drain event is armed.
func (q *sendQueue) admitLocked(size int) bool {
	limit := q.c.s.queueLimit
	if q.queued+size > limit/2 {
		q.wantDrain = true
	}
	return q.queued+size <= limit
}

// sendControl queues a ping. Control frames are exempt from the queue
// limit: they are small and the protocol needs them.
func (q *sendQueue) sendControl(op Opcode, p []byte) error {
	q.mu.Lock()
	if err := q.refusalLocked(); err != nil {
		q.mu.Unlock()
		return err
	}
	q.appendFrameLocked(frame.Header{Fin: true, Opcode: op}, p)
	start := q.startFlushLocked()
	q.mu.Unlock()
	q.startFlush(start)
	return nil
}

// sendPong answers a ping. Pongs beyond maxQueuedPongs waiting in the queue
// collapse into one slot holding the newest payload.
func (q *sendQueue) sendPong(p []byte) {
	q.mu.Lock()
	if q.refusalLocked() != nil {
		q.mu.Unlock()
		return
	}
	if q.pongs < maxQueuedPongs {
		q.pongs++
		q.appendFrameLocked(frame.Header{Fin: true, Opcode: frame.OpPong}, p)
	} else {
		q.pongSlot = true
		if q.pong == nil {
			q.pong = new([maxControlPayloadBytes]byte)
		}
		q.pongLen = uint8(copy(q.pong[:], p)) // at most 125
	}
	start := q.startFlushLocked()
	q.mu.Unlock()
	q.startFlush(start)
}

// queuePongSlotLocked queues the pong that answers the newest ping, when
// pongs collapsed into the slot.
func (q *sendQueue) queuePongSlotLocked() {
	if q.pongSlot {
		q.pongSlot = false
		q.appendFrameLocked(frame.Header{Fin: true, Opcode: frame.OpPong}, q.pong[:q.pongLen])
	}
}

// appendRaw queues bytes that are not a frame (the handshake response);
// nothing else can be using the queue yet.
func (q *sendQueue) appendRaw(p []byte) {
	q.putLocked(p, false, [4]byte{})
	q.queued += len(p)
}

// appendFrameLocked encodes a frame at the end of the queue.
func (q *sendQueue) appendFrameLocked(h frame.Header, p []byte) {
	if q.z != nil && len(q.z.later) > 0 {
		q.laterLocked(h, p, false) // behind a message still to compress
		return
	}
	h.Length = int64(len(p))
	if q.keys != nil {
		// RFC 6455 section 5.3: a client masks every frame, each with a
		// fresh key (https://www.rfc-editor.org/rfc/rfc6455#section-5.3).
		h.Masked = true
		h.Key = q.keys.next()
	}
	var buf [frame.MaxHeaderLen]byte
	hdr := frame.AppendHeader(buf[:0], &h)
	q.putLocked(hdr, false, h.Key)
	q.putLocked(p, h.Masked, h.Key)
	q.queued += len(hdr) + len(p)
}

// putLocked copies p to the end of the queue, masked with key when
// masked. It fills the last chunk and runs on into new ones: a frame may
// span chunks (the writev sends them as one stream), so the queue holds at
// most one partly filled chunk more than the bytes it has queued, and
// SendQueueLimit bounds its memory too.
func (q *sendQueue) putLocked(p []byte, masked bool, key [4]byte) {
	pos := 0
	for len(p) > 0 {
		k := len(q.out)
		if k == 0 || len(q.out[k-1]) == cap(q.out[k-1]) {
			q.out = append(q.out, bufpool.Get(chunkSize))
			k++
		}
		cur := q.out[k-1]
		start := len(cur)
		n := min(len(p), cap(cur)-start)
		cur = append(cur, p[:n]...)
		if masked {
			pos = mask.XOR(cur[start:], key, pos)
		}
		q.out[k-1] = cur
		p = p[n:]
	}
}

// consumedLocked drops the n bytes at the front of the queue, which the
// socket took.
func (q *sendQueue) consumedLocked(n int) {
	q.queued -= n
	q.c.bytesOut.Add(uint64(n))
	k := 0
	for k < len(q.out) {
		left := len(q.out[k]) - q.off
		if n < left {
			break
		}
		n -= left
		q.off = 0
		if recycle(q.out[k], q.pinsLocked()) {
			p := q.pinned
			m := copy(p.pins, p.pins[1:])
			p.pins[m] = pin{}
			p.pins = p.pins[:m]
		}
		q.out[k] = nil
		k++
	}
	q.off += n
	if k > 0 {
		m := copy(q.out, q.out[k:])
		clear(q.out[m:])
		q.out = q.out[:m]
	}
	if q.queued == 0 {
		q.pongs = 0
	}
}

// drainDueLocked reports, once, that the drain event is due: a send was
// refused or the queue passed half its limit, and now it is empty.
func (q *sendQueue) drainDueLocked() bool {
	if q.wantDrain && q.queued == 0 && q.c.hs.state != stateClosed {
		q.wantDrain = false
		return true
	}
	return false
}

// drained fires the drain event when due; no lock may be held.
func (c *Conn) drained(due bool) {
	if due && c.drainEv.len() > 0 {
		c.loop.Post(c.runDrain)
	}
}

func (c *Conn) runDrain() {
	for _, l := range c.drainEv.snapshot() {
		c.call(func() { l.f(c) })
	}
}

// release returns the queue's buffers once the connection is gone, and
// moves the close handshake to CLOSED: nothing can be sent any more.
func (q *sendQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.c.hs.state = stateClosed
	if q.err == nil {
		q.err = errReleased // a flush under way stops at its next batch
	}
	pins := q.pinsLocked()
	for _, b := range q.out {
		if recycle(b, pins) {
			pins = pins[1:]
		}
	}
	if q.pinned != nil {
		clear(q.pinned.pins)
		q.pinned = nil
	}
	q.out = nil
	q.off = 0
	q.queued = 0
	if q.z != nil {
		q.z.release()
		q.z = nil
	}
}
