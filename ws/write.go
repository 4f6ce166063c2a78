package ws

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"unievent.dev/internal/bufpool"
	"unievent.dev/internal/mask"
	"unievent.dev/internal/utf8stream"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

const (
	chunkSize = 16 << 10 // a write chunk; a frame may run over several
	// maxQueuedPongs is how many pongs may wait in the queue; past it only
	// the newest ping is answered (RFC 6455 section 5.5.3 allows that), so
	// a ping flood from a peer that does not read costs a bounded amount.
	maxQueuedPongs = 16
)

// flushScratch is what a blocking flush needs besides the queue; pooled,
// so that connections do not each keep one.
type flushScratch struct {
	recycle [][]byte
	nb      net.Buffers
}

var flushScratchPool = sync.Pool{New: func() any { return new(flushScratch) }}

// writer is the connection's send queue. Frames are encoded into pooled
// chunks as they are sent and written out with one writev per flush. The
// I/O goroutine flushes what listeners queued while it dispatched; sends
// from anywhere else start a flushing goroutine when none is running, so
// no send ever blocks on the socket.
type writer struct {
	c  *Conn
	mu sync.Mutex
	// flushed, when waitFlushed waits, is closed by the flush that ends.
	flushed chan struct{}

	out     [][]byte // queued chunks, the last one still being filled
	off     int      // bytes of out[0] already written
	spare   [][]byte
	queued  int  // bytes queued and not yet written
	writing bool // a flush is under way
	held    bool // the I/O goroutine is dispatching and will flush after

	pongs    int // pongs in the queue
	pongSlot bool
	pong     *[maxControlPayloadBytes]byte // made by the first pong that collapses
	pongLen  int

	closeSent   bool // a close frame is queued: nothing more is sent
	closeBy     mono // set with the close frame: no write outlasts the close timeout
	initiated   bool // we started the closing handshake
	closeCode   CloseCode
	closeReason string
	done        bool // the connection is gone
	err         error
	wantDrain   bool

	z *zwriter // with permessage-deflate only
}

// zwriter is the writer's permessage-deflate state.
//
// A message to compress is copied into later and compressed by whoever
// writes the queue out (settle): the I/O goroutine after its listeners
// have run, the poller, or a flushing goroutine. So compression, most of a
// compressed send's cost, runs outside the loop, whose listeners run one
// at a time: connections compress in parallel. While a message waits
// there, every frame queued after it waits too, so the wire keeps the
// order of the sends.
type zwriter struct {
	comp  *permessagedeflate.Compressor
	buf   []byte // compression scratch
	later []laterFrame
}

// laterFrame is a frame waiting in zwriter.later.
type laterFrame struct {
	h        frame.Header
	p        []byte // a pooled copy of the payload
	compress bool
	size     int // what it counts in writer.queued until settled
}

func (w *writer) init(c *Conn) {
	w.c = c
	if c.params != nil && c.s.deflate != nil {
		w.z = &zwriter{comp: permessagedeflate.NewCompressor(c.s.deflate, *c.params)}
	}
}

// SendText sends s as one text message. It returns at once: the message
// is queued and written in the background, in the order of the sends.
func (c *Conn) SendText(s string) error {
	return c.w.sendData(OpText, nil, s)
}

// SendTextBytes sends p, which must be valid UTF-8, as one text message.
func (c *Conn) SendTextBytes(p []byte) error {
	if !utf8stream.Valid(p) {
		return ErrInvalidUTF8
	}
	return c.w.sendData(OpText, p, "")
}

// SendBinary sends p as one binary message. p is copied before SendBinary
// returns.
func (c *Conn) SendBinary(p []byte) error {
	return c.w.sendData(OpBinary, p, "")
}

// Send sends p as one message of the given opcode (OpText or OpBinary).
func (c *Conn) Send(op Opcode, p []byte) error {
	if op == OpText {
		return c.SendTextBytes(p)
	}
	if op != OpBinary {
		return ErrInvalidOpcode
	}
	return c.SendBinary(p)
}

// SendPing sends a ping with payload p (at most 125 bytes).
func (c *Conn) SendPing(p []byte) error {
	if len(p) > maxControlPayloadBytes {
		return ErrControlTooLong
	}
	return c.w.sendControl(frame.OpPing, p)
}

// BufferedAmount returns the number of bytes queued for sending and not yet
// written to the socket.
func (c *Conn) BufferedAmount() int {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.w.queued
}

func (w *writer) sendData(op Opcode, p []byte, s string) error {
	if p == nil && s != "" {
		if !utf8stream.Valid([]byte(s)) {
			return ErrInvalidUTF8
		}
	}
	n := len(p) + len(s)
	w.mu.Lock()
	if w.closeSent || w.done {
		w.mu.Unlock()
		return ErrClosed
	}
	payload := p
	if p == nil {
		payload = stringBytes(s)
	}
	if err := w.admit(frame.HeaderLen(int64(len(payload)), w.c.role == frame.RoleClient) + len(payload)); err != nil {
		return err
	}
	h := frame.Header{Fin: true, Opcode: op}
	if w.z != nil && w.z.comp.ShouldCompress(n) {
		w.later(h, payload, true)
	} else {
		w.appendFrame(h, payload)
	}
	w.c.messagesOut.Add(1)
	w.kick()
	return nil
}

// admit checks the queue limit for a frame of size bytes; on refusal it
// unlocks w.mu and applies the policy.
func (w *writer) admit(size int) error {
	limit := w.c.s.queueLimit
	if w.queued+size <= limit {
		if w.queued+size > limit/2 {
			w.wantDrain = true
		}
		return nil
	}
	w.wantDrain = true
	w.mu.Unlock()
	if w.c.s.policy == BackpressureClose {
		w.c.Close(ClosePolicyViolation, "send queue limit reached")
	}
	return ErrBackpressure
}

// sendControl queues a ping or a close frame. Control frames are exempt
// from the queue limit: they are small and the protocol needs them.
func (w *writer) sendControl(op Opcode, p []byte) error {
	w.mu.Lock()
	if w.closeSent || w.done {
		w.mu.Unlock()
		return ErrClosed
	}
	w.appendFrame(frame.Header{Fin: true, Opcode: op}, p)
	w.kick()
	return nil
}

// sendPong answers a ping. Pongs beyond maxQueuedPongs waiting in the queue
// collapse into one slot holding the newest payload.
func (w *writer) sendPong(p []byte) {
	w.mu.Lock()
	if w.closeSent || w.done {
		w.mu.Unlock()
		return
	}
	if w.pongs < maxQueuedPongs {
		w.pongs++
		w.appendFrame(frame.Header{Fin: true, Opcode: frame.OpPong}, p)
	} else {
		w.pongSlot = true
		if w.pong == nil {
			w.pong = new([maxControlPayloadBytes]byte)
		}
		w.pongLen = copy(w.pong[:], p)
	}
	w.kick()
}

// appendRaw queues bytes that are not a frame (the handshake response);
// nothing else can be using the writer yet.
func (w *writer) appendRaw(p []byte) {
	w.put(p, false, [4]byte{})
	w.queued += len(p)
}

// appendFrame encodes a frame at the end of the queue; w.mu is held.
func (w *writer) appendFrame(h frame.Header, p []byte) {
	if w.z != nil && len(w.z.later) > 0 {
		w.later(h, p, false) // behind a message still to compress
		return
	}
	h.Length = int64(len(p))
	if w.c.role == frame.RoleClient {
		h.Masked = true
		k := rand.Uint32()
		h.Key = [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
	}
	var buf [frame.MaxHeaderLen]byte
	hdr := frame.AppendHeader(buf[:0], &h)
	w.put(hdr, false, h.Key)
	w.put(p, h.Masked, h.Key)
	w.queued += len(hdr) + len(p)
}

// later queues a frame in zwriter.later, to compress or behind one to
// compress; w.mu is held.
func (w *writer) later(h frame.Header, p []byte, compress bool) {
	b := append(bufpool.Get(len(p))[:0], p...)
	size := frame.HeaderLen(int64(len(p)), w.c.role == frame.RoleClient) + len(p)
	w.z.later = append(w.z.later, laterFrame{h: h, p: b, compress: compress, size: size})
	w.queued += size
}

// settle compresses and encodes the frames waiting in zwriter.later, in
// order; w.mu is held and no other goroutine is writing. A compression
// error (none is expected: the compressor writes to memory) fails the
// writer, which ends the connection.
func (w *writer) settle() {
	if w.z == nil || len(w.z.later) == 0 {
		return
	}
	z := w.z
	later := z.later
	z.later = nil // appendFrame encodes directly again
	for i := range later {
		f := &later[i]
		w.queued -= f.size
		if w.err == nil {
			p := f.p
			if f.compress {
				out, err := z.comp.Compress(z.buf[:0], p)
				if err != nil {
					w.err = err
				}
				z.buf = out
				p = out
				f.h.Rsv1 = true
			}
			if w.err == nil {
				w.appendFrame(f.h, p)
			}
		}
		bufpool.Put(f.p)
		*f = laterFrame{}
	}
	if cap(z.buf) > 64<<10 {
		z.buf = nil // do not keep a large scratch buffer per connection
	}
	if cap(later) <= 4 { // a few slots: an idle connection keeps little
		z.later = later[:0]
	}
}

// put copies p to the end of the queue, masked with key when masked. It
// fills the last chunk and runs on into new ones: a frame may span chunks
// (the writev sends them as one stream), so the queue holds at most one
// partly filled chunk more than the bytes it has queued, and
// SendQueueLimit bounds its memory too.
func (w *writer) put(p []byte, masked bool, key [4]byte) {
	pos := 0
	for len(p) > 0 {
		k := len(w.out)
		if k == 0 || len(w.out[k-1]) == cap(w.out[k-1]) {
			w.out = append(w.out, bufpool.Get(chunkSize))
			k++
		}
		cur := w.out[k-1]
		start := len(cur)
		n := min(len(p), cap(cur)-start)
		cur = append(cur, p[:n]...)
		if masked {
			pos = mask.XOR(cur[start:], key, pos)
		}
		w.out[k-1] = cur
		p = p[n:]
	}
}

// kick makes sure the queue gets written and unlocks w.mu: the I/O
// goroutine flushes after dispatching; otherwise a flushing goroutine
// starts unless one is running.
func (w *writer) kick() {
	start := !w.held && !w.writing && w.queued > 0
	if start {
		w.writing = true
	}
	w.mu.Unlock()
	if start {
		go w.flushAsync()
	}
}

func (w *writer) flushAsync() {
	w.mu.Lock()
	drained := w.flushLocked()
	w.mu.Unlock()
	if w.c.p.paused.Load() {
		w.c.p.pl.touch(w.c) // the poller reads again
	}
	w.c.drained(drained)
}

// busy reports whether a goroutine is writing the queue out.
func (w *writer) busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writing
}

// holdFlush and releaseFlush bracket the I/O goroutine's processing of one
// read: every frame queued in between goes out in one flush at the end.
func (w *writer) holdFlush() {
	w.mu.Lock()
	w.held = true
	w.mu.Unlock()
}

func (w *writer) releaseFlush() {
	w.mu.Lock()
	w.held = false
	drained := false
	if !w.writing && (w.queued > 0 || w.pongSlot) {
		// Most replies fit in the socket at once: a write that does not
		// block needs no write deadline (a timer change and two clock
		// reads per flush). What it leaves goes out the blocking way.
		w.queuePongSlot()
		w.settle()
		if w.err == nil {
			if err := w.writeFirst(); err != nil {
				w.err = err
			}
		}
		w.writing = true
		drained = w.flushLocked()
	}
	w.mu.Unlock()
	w.c.drained(drained)
}

// consumed drops the n bytes at the front of the queue, which the socket
// took; w.mu is held.
func (w *writer) consumed(n int) {
	w.queued -= n
	w.c.bytesOut.Add(uint64(n))
	k := 0
	for k < len(w.out) {
		left := len(w.out[k]) - w.off
		if n < left {
			break
		}
		n -= left
		w.off = 0
		bufpool.Put(w.out[k])
		w.out[k] = nil
		k++
	}
	w.off += n
	if k > 0 {
		m := copy(w.out, w.out[k:])
		clear(w.out[m:])
		w.out = w.out[:m]
	}
	if w.queued == 0 {
		w.pongs = 0
	}
}

// flushLocked writes the queue out until it is empty; w.mu is held on entry
// and exit and w.writing is set. It reports whether the drain event is due;
// the caller fires it with drained once w.mu is released (listeners may
// run in place and call back into the writer).
func (w *writer) flushLocked() (drain bool) {
	c := w.c
	for w.err == nil {
		w.queuePongSlot()
		w.settle()
		if w.err != nil || w.queued == 0 {
			break
		}
		bufs := w.out
		w.out = w.spare
		w.spare = nil
		n := w.queued
		off := w.off
		w.off = 0
		w.pongs = 0
		// Under w.mu, so that the deadline sendClose sets for a close
		// cannot be overwritten by a later one.
		var err error
		if d := w.writeDeadline(); !d.IsZero() {
			err = c.nc.SetWriteDeadline(d)
		}
		w.mu.Unlock()

		fs := flushScratchPool.Get().(*flushScratch)
		fs.recycle = append(fs.recycle[:0], bufs...)
		if err == nil {
			// Not a local: WriteTo takes a pointer, and a local would
			// escape to the heap on every flush.
			bufs[0] = bufs[0][off:]
			fs.nb = bufs
			_, err = fs.nb.WriteTo(c.nc)
			fs.nb = nil
		}
		for i, b := range fs.recycle {
			bufpool.Put(b)
			fs.recycle[i] = nil
		}
		flushScratchPool.Put(fs)
		clear(bufs)

		w.mu.Lock()
		w.spare = bufs[:0]
		w.queued -= n
		c.bytesOut.Add(uint64(n))
		if err != nil {
			w.err = err
		}
	}
	w.writing = false
	if w.flushed != nil {
		close(w.flushed)
		w.flushed = nil
	}
	if w.err != nil {
		// The peer cannot be written to: end the connection, which
		// reports 1006.
		c.abort()
		return false
	}
	return w.drainDue()
}

// queuePongSlot queues the pong that answers the newest ping, when pongs
// collapsed into the slot; w.mu is held.
func (w *writer) queuePongSlot() {
	if w.pongSlot {
		w.pongSlot = false
		w.appendFrame(frame.Header{Fin: true, Opcode: frame.OpPong}, w.pong[:w.pongLen])
	}
}

// drainDue reports, once, that the drain event is due: a send was refused
// or the queue passed half its limit, and now it is empty; w.mu is held.
func (w *writer) drainDue() bool {
	if w.wantDrain && w.queued == 0 && !w.done {
		w.wantDrain = false
		return true
	}
	return false
}

// writeDeadline is when a write starting now gives up: after
// WriteTimeout, and once our close frame is queued never after the close
// timeout; zero for never. w.mu is held.
func (w *writer) writeDeadline() time.Time {
	if w.c.s.write <= 0 && w.closeBy == 0 {
		return time.Time{}
	}
	now := time.Now()
	var d time.Time
	if w.c.s.write > 0 {
		d = now.Add(w.c.s.write)
	}
	if w.closeBy != 0 {
		// A deadline already past makes net.Conn fail the write without
		// trying it: the close timeout would then drop what the socket
		// could take at once (the 101 and the close frame itself, when
		// the server was slow to flush them). It bounds waiting for the
		// peer, so the write still gets closeGrace.
		by := w.closeBy.time()
		if grace := now.Add(closeGrace); by.Before(grace) {
			by = grace
		}
		if d.IsZero() || by.Before(d) {
			d = by
		}
	}
	return d
}

// closeGrace is how long a write may still block, and the one last read
// may wait (graceRead), once the close timeout has passed: long enough for
// a write or read that does not block.
const closeGrace = 10 * time.Millisecond

// drained fires the drain event when due; no lock may be held.
func (c *Conn) drained(due bool) {
	if due && c.drainEv.Len() > 0 {
		c.loop.Post(c.runDrain)
	}
}

func (c *Conn) runDrain() {
	for _, l := range c.drainEv.snapshot() {
		c.call(func() { l.f(c) })
	}
}

// closing reports whether a close frame has been queued.
func (w *writer) closing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeSent
}

// waitFlushed waits until the queue is written out or writing failed, at
// most until the deadline (the socket's write deadline bounds the wait).
func (w *writer) waitFlushed(deadline time.Time) {
	c := w.c
	c.nc.SetWriteDeadline(deadline)
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil && (w.writing || w.queued > 0 || w.pongSlot) {
		if !w.writing {
			w.writing = true
			w.flushLocked() // the connection is closing: no drain event
			continue
		}
		if w.flushed == nil {
			w.flushed = make(chan struct{})
		}
		ch := w.flushed
		w.mu.Unlock()
		<-ch
		w.mu.Lock()
	}
}

// release returns the queue's buffers once the connection is gone.
func (w *writer) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	for _, b := range w.out {
		bufpool.Put(b)
	}
	w.out = nil
	w.off = 0
	w.queued = 0
	if w.z != nil {
		for _, f := range w.z.later {
			bufpool.Put(f.p)
		}
		w.z.comp.Release()
		w.z = nil
	}
}
