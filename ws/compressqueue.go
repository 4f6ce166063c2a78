package ws

import (
	"unievent.dev/internal/bufpool"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

// compressQueue owns the send side of permessage-deflate (RFC 7692
// section 7.2.1, https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1):
// the compressor, its scratch buffer, and the slots of
// frames waiting to be compressed. It is part of the send queue and
// guarded by its mu.
//
// A message to compress is copied into a slot and compressed by whoever
// writes the queue out (settleLocked): the reading goroutine after its
// listeners have run, the poller, or a flushing goroutine. So compression,
// most of a compressed send's cost, runs outside the loop, whose listeners
// run one at a time: connections compress in parallel. While a message
// waits in a slot, every frame queued after it waits too, so the wire
// keeps the order of the sends.
type compressQueue struct {
	comp  *permessagedeflate.Compressor
	buf   []byte // compression scratch
	later []laterFrame
}

// laterFrame is a frame waiting in a compressQueue slot.
type laterFrame struct {
	h        frame.Header
	p        []byte // a pooled copy of the payload
	compress bool
	size     int // what it counts in sendQueue.queued until settled
}

func newCompressQueue(c *Conn) *compressQueue {
	return &compressQueue{comp: permessagedeflate.NewCompressor(c.s.deflate, c.codecParams())}
}

// laterLocked queues a frame in a slot, to compress or behind one to
// compress.
func (q *sendQueue) laterLocked(h frame.Header, p []byte, compress bool) {
	b := append(bufpool.Get(len(p))[:0], p...)
	size := frame.HeaderLen(int64(len(p)), q.c.role == frame.RoleClient) + len(p)
	q.z.later = append(q.z.later, laterFrame{h: h, p: b, compress: compress, size: size})
	q.queued += size
}

// settleLocked compresses and encodes the frames waiting in the slots, in
// order; no other goroutine is writing. A compression error (none is
// expected: the compressor writes to memory) fails the queue, which ends
// the connection.
func (q *sendQueue) settleLocked() {
	if q.z == nil || len(q.z.later) == 0 {
		return
	}
	z := q.z
	later := z.later
	z.later = nil // appendFrameLocked encodes directly again
	for i := range later {
		f := &later[i]
		q.queued -= f.size
		if q.err == nil {
			p := f.p
			if f.compress {
				out, err := z.comp.Compress(z.buf[:0], p)
				if err != nil {
					q.err = err
				}
				z.buf = out
				p = out
				f.h.Rsv1 = true
			}
			if q.err == nil {
				q.appendFrameLocked(f.h, p)
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

// release gives back the slots' copies and the compressor.
func (z *compressQueue) release() {
	for _, f := range z.later {
		bufpool.Put(f.p)
	}
	z.later = nil
	z.comp.Release()
}
