package reliability

import (
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/server"
)

// Item 3: clients that fall silent after the upgrade. The keepalive pings
// them and drops those that send no pong in time (1006: they sent no close
// frame); without keepalive the idle timeout closes them (1001, and 1006
// reported for those that do not answer the close frame either). Every
// disconnection event fires and the registry lets them go; a client that
// answers the pings stays.
func TestSilentClients(t *testing.T) {
	n := scale(100, 1000)

	t.Run("keepalive", func(t *testing.T) {
		base := servertest.TakeBaseline()
		var cfg server.Config
		cfg.PingInterval = 200 * time.Millisecond
		cfg.PongTimeout = 300 * time.Millisecond
		h := start(t, cfg, echo)
		silent := dialMany(t, h, n)
		alive := h.dial("/", nil)
		started := time.Now()
		// One silent client reads to see its ping; none answers.
		if op, _, _, err := silent[0].ReadMessage(wait); err != nil || op != 9 {
			t.Fatalf("no ping for a silent client: op %d %v", op, err)
		}
		// The live client answers every ping, as browsers do.
		stopPong := make(chan struct{})
		pongDone := make(chan error, 1)
		var answered atomic.Int64
		go func() { pongDone <- answerPings(alive, stopPong, &answered) }()
		h.ev.waitDisconnections(t, n, wait)
		took := time.Since(started)
		for _, c := range silent {
			if err := c.ExpectEOF(wait); err != nil {
				t.Fatal(err)
			}
		}
		// The live one is still there three pings on, longer than the pong
		// timeout.
		seen := answered.Load()
		wstest.WaitFor(t, "three more pings answered", func() bool { return answered.Load() >= seen+3 })
		close(stopPong)
		if err := <-pongDone; err != nil {
			t.Fatalf("the client answering pings: %v", err)
		}
		if h.s.Len() != 1 {
			t.Fatalf("%d connections registered, want the one answering pings", h.s.Len())
		}
		alive.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
		h.ev.waitDisconnections(t, n+1, wait)
		counts := h.ev.checkOnce(t, 0)
		if counts[frame.CloseAbnormal] != n || counts[frame.CloseNormal] != 1 {
			t.Errorf("close events %v, want %d with %v (the silent clients) and one with %v", counts, n, frame.CloseAbnormal, frame.CloseNormal)
		}
		t.Logf("%d silent clients dropped %v after the upgrade (ping interval %v, pong timeout %v)", n, took.Round(time.Millisecond), cfg.PingInterval, cfg.PongTimeout)
		closeAll(silent)
		alive.Close()
		h.stop()
		base.Check(t, 0, wait)
	})

	t.Run("idle timeout", func(t *testing.T) {
		base := servertest.TakeBaseline()
		var cfg server.Config
		cfg.PingInterval = -1
		cfg.IdleTimeout = 300 * time.Millisecond
		cfg.CloseTimeout = 300 * time.Millisecond
		h := start(t, cfg, echo)
		silent := dialMany(t, h, n)
		started := time.Now()
		// Half of them answer the server's close frame, half stay silent.
		for i, c := range silent {
			code, reason, err := c.ExpectClose(wait)
			if err != nil || code != 1001 || reason != "idle timeout" {
				t.Fatalf("client %d: close %d %q %v, want 1001 idle timeout", i, code, reason, err)
			}
			if i%2 == 0 {
				c.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
			}
		}
		h.ev.waitDisconnections(t, n, wait)
		took := time.Since(started)
		counts := h.ev.checkOnce(t, 0)
		if counts[frame.CloseAway] != (n+1)/2 || counts[frame.CloseAbnormal] != n/2 {
			t.Errorf("close events %v, want %d with %v (answered) and %d with %v (never answered)",
				counts, (n+1)/2, frame.CloseAway, n/2, frame.CloseAbnormal)
		}
		if h.s.Len() != 0 {
			t.Errorf("%d connections still registered", h.s.Len())
		}
		t.Logf("%d idle clients closed and gone %v after the upgrade (idle timeout %v, close timeout %v)", n, took.Round(time.Millisecond), cfg.IdleTimeout, cfg.CloseTimeout)
		closeAll(silent)
		h.stop()
		base.Check(t, 0, wait)
	})
}

// dialMany opens n WebSocket connections to h and waits until the server
// has seen all of them.
func dialMany(t testing.TB, h *harness, n int) []*wstest.Client {
	t.Helper()
	cs := make([]*wstest.Client, n)
	before := h.ev.connections()
	for i := range cs {
		cs[i] = h.dial("/", nil)
	}
	h.ev.waitFor(t, "connection events", wait, func() bool { return h.ev.nconn >= before+n })
	return cs
}

func closeAll(cs []*wstest.Client) {
	for _, c := range cs {
		c.Close()
	}
}

// answerPings answers every ping with a pong until stop is closed,
// counting them in answered.
func answerPings(c *wstest.Client, stop chan struct{}, answered *atomic.Int64) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		f, err := c.ReadFrame(100 * time.Millisecond)
		if err != nil {
			if isTimeout(err) {
				continue
			}
			return err
		}
		switch f.Opcode {
		case 9:
			if err := c.WriteFrame(true, 10, f.Payload); err != nil {
				return err
			}
			answered.Add(1)
		case 8:
			return errClosedByServer
		}
	}
}
