package ws

import (
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
)

// heldWrites is a transport whose writes wait until let go, then report
// every byte written, and whose write deadlines never fail: a write that
// completes after the peer went away, as on an HTTP/2 stream (ws/server's
// stream keeps its deadlines itself).
type heldWrites struct {
	streamTransport
	entered chan struct{} // one value per write that started
	letGo   chan struct{}
}

func (h *heldWrites) SetWriteDeadline(time.Time) error { return nil }

func (h *heldWrites) Write(p []byte) (int, error) {
	h.entered <- struct{}{}
	<-h.letGo
	return len(p), nil
}

// TestWriteEndingAfterTheConnection ends a connection (the peer closes
// without a close frame) while a flush is blocked in a write that then
// succeeds: the queue, dropped when the connection ended, is not written
// again or miscounted, and the flushing goroutine ends.
func TestWriteEndingAfterTheConnection(t *testing.T) {
	srv, cli := tcpPair(t)
	tr := &heldWrites{streamTransport: streamTransport{srv}, entered: make(chan struct{}, 16), letGo: make(chan struct{})}
	closed := make(chan CloseCode, 1)
	c := newConn(tr, &Config{}, connOptions{Loop: runningLoop(t), Role: frame.RoleServer})
	c.OnClose(func(_ *Conn, code CloseCode, _ string) { closed <- code })
	c.start()
	if err := c.SendText("held"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tr.entered:
	case <-time.After(wstest.WaitTimeout):
		t.Fatal("the send was never written")
	}
	cli.Close() // reading ends: the connection ends under the write
	expectCloseEvent(t, closed, frame.CloseAbnormal, "the peer gone during a write")
	if err := c.SendText("after the end"); err == nil {
		t.Error("a send after the end was accepted")
	}
	close(tr.letGo) // the write reports success
	if !wstest.Poll(wstest.WaitTimeout, func() bool { return !c.q.busy() }) {
		t.Fatal("the flushing goroutine never ended")
	}
	if n := c.BufferedAmount(); n != 0 {
		t.Errorf("BufferedAmount %d after the end, want 0", n)
	}
}
