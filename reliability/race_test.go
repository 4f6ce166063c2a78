package reliability

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// raceClient reads what the server's senders send on one connection and
// checks that each sender's messages arrive in order; it answers the
// server's close, or closes first when told to.
type raceClient struct {
	c    *wstest.Client
	wmu  sync.Mutex
	err  error
	msgs int
	done chan struct{}
}

func runRaceClient(c *wstest.Client) *raceClient {
	rc := &raceClient{c: c, done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		defer c.Close()
		next := map[string]int{}
		for {
			op, p, _, err := c.ReadMessage(time.Minute)
			if err != nil {
				return // reset by the chaos, or the end of the connection
			}
			switch op {
			case 1:
				sender, seq, ok := strings.Cut(string(p), ":")
				n, err := strconv.Atoi(seq)
				if !ok || err != nil {
					rc.err = fmt.Errorf("mangled message %q", p)
					return
				}
				if n != next[sender] {
					rc.err = fmt.Errorf("sender %s: message %d arrived when %d was due", sender, n, next[sender])
					return
				}
				next[sender]++
				rc.msgs++
			case 8:
				rc.wmu.Lock()
				c.WriteFrame(true, 8, p[:min(len(p), 2)])
				rc.wmu.Unlock()
				c.ExpectEOF(wait)
				return
			}
		}
	}()
	return rc
}

// Item 15: many goroutines send on many connections while connections
// close (from either side, cleanly or not) and come, and the server is
// reconfigured, iterated and queried, all under go test -race. Each
// sender's messages arrive in order, sends fail only with ErrClosed or
// ErrBackpressure, every close and disconnection event fires once, and
// nothing is left behind.
func TestRaceStress(t *testing.T) {
	conns := scale(16, 200)
	duration := scale(2*time.Second, 30*time.Second)
	const senders = 2
	// Senders pause for a millisecond every burst messages, for at most
	// some 200,000 (1,000,000) sends a second in all: enough to keep every
	// queue busy, not so many that the scheduler starves the accept loop,
	// the chaos and the clients.
	burst := max(1, scale(200_000, 1_000_000)/(senders*conns*1000))
	base := servertest.TakeBaseline()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sends, failures atomic.Int64
	var unexpected atomic.Value
	var cfg server.Config
	cfg.SendQueueLimit = 256 << 10
	cfg.CloseTimeout = 500 * time.Millisecond
	h := start(t, cfg, func(s *server.Server) {
		s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
			c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
			for g := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for seq := 0; ; seq++ {
						select {
						case <-stop:
							return
						default:
						}
						err := c.SendText(fmt.Sprintf("%d:%d", g, seq))
						switch {
						case err == nil:
							sends.Add(1)
						case errors.Is(err, ws.ErrClosed), errors.Is(err, ws.ErrBackpressure):
							failures.Add(1)
							return
						default:
							unexpected.Store(err)
							return
						}
						if seq%burst == 0 {
							c.SendPing([]byte("p"))
							_ = c.BufferedAmount()
							_ = c.Stats()
							time.Sleep(time.Millisecond) // the senders' rate
						}
					}
				}()
			}
		})
	})

	var cmu sync.Mutex
	var clients []*raceClient
	dial := func() {
		c, err := wstest.Dial(h.addr, "/", nil)
		if err != nil {
			unexpected.Store(err)
			return
		}
		cmu.Lock()
		clients = append(clients, runRaceClient(c))
		cmu.Unlock()
	}
	for range conns {
		dial()
	}
	background := func(f func(r *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for {
				select {
				case <-stop:
					return
				default:
				}
				f(r)
			}
		}()
	}
	var closedByServer, closedByClient, reset, dialed, reconfigured atomic.Int64
	// Chaos: connections end from either side and new ones come.
	background(func(r *rand.Rand) {
		time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond) // the chaos's rate
		switch r.IntN(4) {
		case 0: // the server closes one, from outside the loop
			var pick *server.Conn
			for c := range h.s.Connections() {
				if r.IntN(4) == 0 {
					pick = c
					break
				}
			}
			if pick != nil && pick.Close(frame.CloseNormal, "chaos") == nil {
				closedByServer.Add(1)
			}
		case 1, 2: // the client closes one: a close frame, or a reset
			cmu.Lock()
			rc := clients[r.IntN(len(clients))]
			cmu.Unlock()
			if r.IntN(2) == 0 {
				rc.wmu.Lock()
				rc.c.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
				rc.wmu.Unlock()
				closedByClient.Add(1)
			} else {
				rc.c.Conn.(*net.TCPConn).SetLinger(0)
				rc.c.Close()
				reset.Add(1)
			}
		case 3:
			if h.s.Len() < 2*conns {
				dial()
				dialed.Add(1)
			}
		}
	})
	// Reconfiguration: limits change, a second location comes and goes.
	background(func(r *rand.Rand) {
		time.Sleep(10 * time.Millisecond) // the reconfigurations' rate
		c := cfg
		c.SendQueueLimit = (64 + r.IntN(512)) << 10
		c.MaxMessageSize = (1 + r.IntN(8)) << 20
		c.Locations = []server.Location{{Host: "127.0.0.1"}}
		if r.IntN(2) == 0 {
			c.Locations = append(c.Locations, server.Location{Host: "127.0.0.1", Nagle: true})
		}
		if err := h.s.Configure(c); err != nil {
			unexpected.Store(err)
		}
		reconfigured.Add(1)
	})
	// Readers of the registry.
	background(func(r *rand.Rand) {
		for c := range h.s.Connections() {
			_ = c.BufferedAmount()
			if h.s.Connection(c.ID()) == nil && h.ev.connections() < 0 {
				unexpected.Store(errors.New("unreachable"))
			}
		}
		_ = h.s.Len()
		_ = h.s.Listeners()
		time.Sleep(time.Millisecond) // the readers' rate
	})

	time.Sleep(duration) // the length of the run
	close(stop)
	wg.Wait()
	h.stop()
	cmu.Lock()
	msgs := 0
	for i, rc := range clients {
		<-rc.done
		if rc.err != nil {
			t.Errorf("client %d: %v", i, rc.err)
		}
		msgs += rc.msgs
	}
	cmu.Unlock()
	if err := unexpected.Load(); err != nil {
		t.Errorf("unexpected: %v", err)
	}
	codes := h.ev.checkOnce(t, 0)
	t.Logf("%v with %d connections at a time, %d senders each: %d sends (%d messages checked in order), %d sends refused once closed or full; %d closed by the server, %d by the client, %d reset, %d new; %d reconfigurations; close codes %v",
		duration, conns, senders, sends.Load(), msgs, failures.Load(), closedByServer.Load(), closedByClient.Load(), reset.Load(), dialed.Load(), reconfigured.Load(), codes)
	base.Check(t, 0, wait)
}
