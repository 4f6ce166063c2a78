package ws

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"

	"unievent.dev/ws/frame"
)

// queueHeld is the memory the send queue's chunks take.
func queueHeld(w *sendQueue) (held, queued int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.out {
		held += cap(b)
	}
	return held, w.queued
}

// The send queue holds about what it has queued: frames fill the chunks
// and run on into the next, instead of each starting a chunk (or getting
// a buffer of the next power of two) of its own. So SendQueueLimit bounds
// the memory of a reader that cannot keep up, whatever the message size.
func TestSendQueueMemoryFollowsItsBytes(t *testing.T) {
	const limit = 128 << 10
	for _, size := range []int{100, 4 << 10, 8<<10 + 1, 20 << 10, 64<<10 + 1} {
		srv, cli := net.Pipe()
		defer cli.Close()
		cfg := &Config{SendQueueLimit: limit, SendQueuePolicy: BackpressureRefuse}
		c := newConn(srv, cfg, connOptions{Loop: NewLoop(), Role: frame.RoleServer})
		c.q.holdFlush() // as while the I/O goroutine dispatches: nothing is written
		msg := make([]byte, size)
		for {
			if err := c.SendBinary(msg); err != nil {
				if !errors.Is(err, ErrBackpressure) {
					t.Fatal(err)
				}
				break
			}
		}
		held, queued := queueHeld(&c.q)
		t.Logf("%6d-byte messages: %d bytes queued in %d bytes of chunks", size, queued, held)
		if held > queued+chunkSize {
			t.Errorf("%d-byte messages: %d bytes queued take %d bytes", size, queued, held)
		}
		c.q.release()
		srv.Close()
	}
}

// A frame that runs over several chunks is still one frame on the wire,
// and a client's mask carries on across the chunk boundaries.
func TestFramesAcrossChunks(t *testing.T) {
	for _, role := range []frame.Role{frame.RoleServer, frame.RoleClient} {
		srv, cli := net.Pipe()
		defer cli.Close()
		c := newConn(srv, &Config{}, connOptions{Loop: NewLoop(), Role: role})
		c.q.holdFlush()
		var msgs [][]byte
		for i, size := range []int{10, chunkSize - 3, 3*chunkSize + 7, 1, 70 << 10} {
			msgs = append(msgs, bytes.Repeat([]byte{byte('a' + i)}, size))
			c.SendBinary(msgs[i])
		}
		sameMessages(t, fmt.Sprintf("role %v", role), queuedMessages(t, c), msgs)
		c.q.release()
		srv.Close()
	}
}
