package reliability

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/server"
)

// Item 10: a configurable maximum number of connections. A crowd of
// simultaneous upgrades gets exactly that many in; the rest get 503 with
// Retry-After, while the connections in place go on untouched; a slot that
// frees up takes a new one.
func TestConnectionLimit(t *testing.T) {
	limit := scale(50, 1000)
	crowd := 4 * limit
	base := servertest.TakeBaseline()
	cfg := server.Config{MaxConnections: limit, RetryAfter: 7}
	h := start(t, cfg, echo)

	// A few connections talk all along.
	talkers := make([]*wstest.Client, 5)
	for i := range talkers {
		talkers[i] = h.dial("/", nil)
	}
	stop := make(chan struct{})
	var talked atomic.Int64
	var talkErr atomic.Value
	var twg sync.WaitGroup
	for i, c := range talkers {
		twg.Add(1)
		go func() {
			defer twg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := fmt.Sprintf("talker %d message %d", i, n)
				if err := c.WriteMessage(1, []byte(msg)); err != nil {
					talkErr.Store(err)
					return
				}
				if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != msg {
					talkErr.Store(fmt.Errorf("%q %v", p, err))
					return
				}
				talked.Add(1)
			}
		}()
	}

	// The crowd, all at once.
	var mu sync.Mutex
	var admitted []*wstest.Client
	statuses := map[int]int{}
	retryAfter := map[string]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range crowd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", h.addr, wait)
			if err != nil {
				t.Error(err)
				return
			}
			<-gate
			c, resp, err := wstest.Upgrade(nc, "/", nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
				nc.Close()
			case c != nil:
				admitted = append(admitted, c)
				statuses[resp.StatusCode]++
			default:
				statuses[resp.StatusCode]++
				retryAfter[resp.Header.Get("Retry-After")]++
				io.Copy(io.Discard, resp.Body)
				nc.Close()
			}
		}()
	}
	close(gate)
	wg.Wait()
	t.Logf("limit %d, %d talking, %d upgrades at once: statuses %v, Retry-After %v; %d round trips meanwhile",
		limit, len(talkers), crowd, statuses, retryAfter, talked.Load())
	want := limit - len(talkers)
	if statuses[101] != want || statuses[503] != crowd-want || retryAfter["7"] != crowd-want {
		t.Errorf("statuses %v, Retry-After %v; want %d upgraded and %d refused with 503 and Retry-After: 7",
			statuses, retryAfter, want, crowd-want)
	}
	if n := h.s.Len(); n != limit {
		t.Errorf("%d connections, want %d", n, limit)
	}
	close(stop)
	twg.Wait()
	if err := talkErr.Load(); err != nil {
		t.Fatalf("a connection in place was disturbed: %v", err)
	}

	// Every admitted connection works; ten leave, ten new ones get in.
	for i, c := range admitted {
		msg := "admitted " + strconv.Itoa(i)
		c.WriteMessage(1, []byte(msg))
		if _, p, _, err := c.ReadMessage(wait); err != nil || string(p) != msg {
			t.Fatalf("admitted connection %d: %q %v", i, p, err)
		}
	}
	discs := h.ev.ndiscs()
	for _, c := range admitted[:10] {
		c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
		c.ExpectClose(wait)
		c.Close()
	}
	h.ev.waitDisconnections(t, discs+10, wait)
	for range 10 {
		nc := dialTCP(t, h.addr)
		c, resp, err := wstest.Upgrade(nc, "/", nil)
		if err != nil || c == nil {
			t.Fatalf("a freed slot: status %v %v", resp.Status, err)
		}
		admitted = append(admitted, c)
	}
	nc := dialTCP(t, h.addr)
	if c, resp, err := wstest.Upgrade(nc, "/", nil); err != nil || c != nil || resp.StatusCode != 503 {
		t.Fatalf("over the limit again: %v %v", resp.Status, err)
	}
	nc.Close()

	for _, c := range append(admitted, talkers...) {
		c.Close()
	}
	h.ev.waitDisconnections(t, discs+10+limit, wait)
	h.ev.checkOnce(t, 0)
	h.stop()
	base.Check(t, 0, wait)
}
