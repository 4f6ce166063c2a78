package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"unievent.dev/internal/wstest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
)

// refusedStatus sends the upgrade request raw (the request line and
// header of wstest.Request, edited by edit) and returns the status of the
// answer.
func refusedStatus(t *testing.T, addr string, edit func(string) string) int {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	raw, _ := wstest.Request(addr, "/", nil)
	resp, err := wstest.RoundTrip(nc, []byte(edit(string(raw))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sumStats adds up the ws.Stats of the server's open connections.
func sumStats(s *Server) (st ws.Stats) {
	for c := range s.Connections() {
		cs := c.Stats()
		st.MessagesIn += cs.MessagesIn
		st.MessagesOut += cs.MessagesOut
		st.BytesIn += cs.BytesIn
		st.BytesOut += cs.BytesOut
	}
	return st
}

// transports returns Metrics.Transports with the given open and accepted
// counts: HTTP/1.1 plain and TLS, HTTP/2 plain and TLS.
func transports(counts ...[2]int) []TransportMetrics {
	out := []TransportMetrics{{Transport: TransportHTTP1}, {Transport: TransportHTTP1, TLS: true}, {Transport: TransportHTTP2}, {Transport: TransportHTTP2, TLS: true}}
	for i, c := range counts {
		out[i].Open, out[i].Accepted = c[0], uint64(c[1])
	}
	return out
}

// closes returns the Closes of a Metrics with the given counts, every
// other named code at zero.
func closes(counts map[ws.CloseCode]uint64) map[ws.CloseCode]uint64 {
	m := make(map[ws.CloseCode]uint64)
	for c := ws.CloseCode(1000); c <= 1015; c++ {
		if c != 1004 {
			m[c] = counts[c]
		}
	}
	return m
}

// The snapshot counts connections, refused upgrades by status, the traffic
// of open and ended connections once each, and closes by code.
func TestMetricsConnectionsTrafficAndCloses(t *testing.T) {
	var cfg Config
	cfg.MaxConnections = 3
	h := start(t, cfg, func(s *Server) {
		echo(s)
		s.OnHandshake(func(_ *Server, c *Conn, req *handshake.Request) {
			if req.HTTP.URL.Path == "/private" {
				c.SendAcceptError(http.StatusForbidden, "private", nil)
			}
		})
	})
	if got := h.s.Metrics(); got.Open != 0 || got.Accepted != 0 || got.MessagesIn != 0 || len(got.UpgradesRefused) != 0 {
		t.Fatalf("a new server's metrics: %+v", got)
	}

	c1, c2, c3 := h.dial(nil), h.dial(nil), h.dial(nil)
	for _, m := range []struct {
		c *wstest.Client
		p string
	}{{c1, "hello"}, {c1, "again"}, {c2, "x"}} {
		echoes(t, m.c, m.p)
	}
	refused := map[int]uint64{}
	refused[refusedStatus(t, h.addr, func(r string) string { return r })]++ // the fourth: over MaxConnections
	if err := c3.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dropped connection to end", func() bool { return h.s.Len() == 2 })
	refused[refusedStatus(t, h.addr, func(r string) string { return strings.Replace(r, "GET / ", "GET /private ", 1) })]++
	refused[refusedStatus(t, h.addr, func(r string) string {
		return strings.Replace(r, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1)
	})]++
	if diff := cmp.Diff(map[int]uint64{403: 1, 503: 1, 426: 1}, refused); diff != "" {
		t.Fatalf("the refusals' statuses (-want +got):\n%s", diff)
	}

	m := h.s.Metrics()
	live := sumStats(h.s)
	if m.Open != 2 || m.Accepted != 3 {
		t.Errorf("Open %d, Accepted %d; want 2, 3", m.Open, m.Accepted)
	}
	if diff := cmp.Diff(refused, m.UpgradesRefused); diff != "" {
		t.Errorf("UpgradesRefused (-want +got):\n%s", diff)
	}
	if m.MessagesIn != 3 || m.MessagesOut != 3 {
		t.Errorf("messages in %d, out %d; want 3, 3", m.MessagesIn, m.MessagesOut)
	}
	// Three masked frames of 5, 5 and 1 bytes (2 header, 4 mask bytes
	// each) came in; c3 sent nothing.
	if m.BytesIn != 3*6+11 || m.BytesIn != live.BytesIn {
		t.Errorf("BytesIn %d (open connections %d), want %d", m.BytesIn, live.BytesIn, 3*6+11)
	}
	// Out: each 101, and the three echoes (2 header bytes each): the ended
	// connection's 101 is counted too.
	if m.BytesOut <= live.BytesOut || m.BytesOut < 3*2+11 {
		t.Errorf("BytesOut %d, open connections %d", m.BytesOut, live.BytesOut)
	}
	if diff := cmp.Diff(closes(map[ws.CloseCode]uint64{frame.CloseAbnormal: 1}), m.Closes); diff != "" {
		t.Errorf("Closes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(transports([2]int{2, 3}), m.Transports); diff != "" {
		t.Errorf("Transports (-want +got):\n%s", diff)
	}

	// A normal close and one with an application's code (other).
	for _, cc := range []struct {
		c    *wstest.Client
		code int
	}{{c1, 1000}, {c2, 4001}} {
		if err := cc.c.WriteFrame(true, 8, wstest.ClosePayload(cc.code, "")); err != nil {
			t.Fatal(err)
		}
		if code, _, err := cc.c.ExpectClose(wait); err != nil || code != cc.code {
			t.Fatalf("close: %d %v, want %d", code, err, cc.code)
		}
	}
	waitFor(t, "both connections to end", func() bool { return h.s.Len() == 0 })
	end := h.s.Metrics()
	// And the close frames: two masked ones with a code in (8 bytes
	// each), two echoed out (4 bytes each).
	if end.Open != 0 || end.Accepted != 3 || end.MessagesIn != 3 || end.MessagesOut != 3 || end.BytesIn != m.BytesIn+16 || end.BytesOut != m.BytesOut+8 {
		t.Errorf("after the closes: %+v; before: %+v", end, m)
	}
	if diff := cmp.Diff(closes(map[ws.CloseCode]uint64{frame.CloseAbnormal: 1, frame.CloseNormal: 1}), end.Closes); diff != "" {
		t.Errorf("Closes (-want +got):\n%s", diff)
	}
	if end.ClosesOther != 1 {
		t.Errorf("ClosesOther %d, want 1 (the 4001)", end.ClosesOther)
	}
	if diff := cmp.Diff(transports([2]int{0, 3}), end.Transports); diff != "" {
		t.Errorf("Transports (-want +got):\n%s", diff)
	}
}

// A full send queue is counted under each policy, for sends and
// publishes alike, and SendQueueBytes is what the queues hold.
func TestMetricsBackpressure(t *testing.T) {
	for _, policy := range []ws.Backpressure{ws.BackpressureRefuse, ws.BackpressureClose} {
		var cfg Config
		cfg.SendQueueLimit = 64 << 10
		cfg.SendQueuePolicy = policy
		conns := make(chan *Conn, 2)
		h := start(t, cfg, func(s *Server) {
			s.OnConnection(func(_ *Server, c *Conn, _ *handshake.Request) {
				c.Subscribe("t")
				conns <- c
			})
		})
		peer := h.dial(nil) // reads nothing until the close
		c := <-conns
		// closeAndEnd reads what was queued up to our close frame with
		// code, answers it and waits for the connection to end.
		closeAndEnd := func(code int) {
			t.Helper()
			if got, _, err := peer.ExpectClose(wait); err != nil || got != code {
				t.Fatalf("close %d %v, want %d", got, err, code)
			}
			peer.WriteFrame(true, 8, wstest.ClosePayload(code, ""))
			waitFor(t, "the connection to end", func() bool { return h.s.Len() == 0 })
		}
		// Small socket buffers: the queue fills soon, and once the
		// socket is full it stays so.
		c.NetConn().(*net.TCPConn).SetWriteBuffer(16 << 10)
		peer.Conn.(*net.TCPConn).SetReadBuffer(16 << 10)
		chunk := make([]byte, 16<<10)
		// fill sends until the queue refuses a message.
		refusals := 0
		fill := func() {
			for sends := 0; c.SendBinary(chunk) == nil; sends++ {
				if sends > 10000 {
					t.Fatal("the send queue never filled")
				}
			}
			refusals++
		}
		fill()
		m := h.s.Metrics()
		switch policy {
		case ws.BackpressureRefuse:
			// The socket may yet take what the queue held at the refusal:
			// fill it again until bytes stay queued.
			waitFor(t, "SendQueueBytes to be the connection's queue", func() bool {
				if c.BufferedAmount() == 0 {
					fill()
					return false
				}
				m := h.s.Metrics()
				return m.SendQueueBytes > 0 && m.SendQueueBytes == int64(c.BufferedAmount())
			})
			for tries := 0; h.s.TopicStats().Skipped == 0; tries++ {
				if tries > 10000 {
					t.Fatal("Publish never skipped the full queue")
				}
				if err := h.s.Publish("t", ws.OpBinary, chunk); err != nil {
					t.Fatal(err)
				}
			}
			want := uint64(refusals) + 1
			m = h.s.Metrics()
			if m.BackpressureRefused != want || m.Topics.Skipped != 1 || m.BackpressureCloses != 0 {
				t.Errorf("Refuse: refused %d (Publish skipped %d), closes %d; want %d (1), 0", m.BackpressureRefused, m.Topics.Skipped, m.BackpressureCloses, want)
			}
			c.Close(frame.CloseNormal, "")
			closeAndEnd(1000)
			if end := h.s.Metrics(); end.BackpressureRefused != want || end.SendQueueBytes != 0 {
				t.Errorf("ended: refused %d, queue %d B; want %d, 0", end.BackpressureRefused, end.SendQueueBytes, want)
			}
		case ws.BackpressureClose:
			if m.BackpressureCloses != 1 || m.BackpressureRefused != 0 {
				t.Errorf("Close: closes %d, refused %d; want 1, 0", m.BackpressureCloses, m.BackpressureRefused)
			}
			closeAndEnd(1008)
			end := h.s.Metrics()
			if end.BackpressureCloses != 1 || end.Closes[frame.ClosePolicyViolation] != 1 {
				t.Errorf("ended: closes %d, 1008 %d; want 1, 1", end.BackpressureCloses, end.Closes[frame.ClosePolicyViolation])
			}
		}
	}
}

// Each connection says which transport it came on and whether over TLS,
// and the server counts them: HTTP/1.1 plain and over TLS, and an HTTP/2
// stream over TLS.
func TestMetricsTransports(t *testing.T) {
	if inChild(t) {
		return
	}
	cert, pool := wstest.Certificate(t)
	var cfg Config
	cfg.Locations = []Location{{Host: "127.0.0.1"}, {Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}
	type transport struct {
		name string
		tls  bool
	}
	got := make(chan transport, 3)
	h := start(t, cfg, func(s *Server) {
		echo(s)
		s.OnHandshake(func(_ *Server, c *Conn, _ *handshake.Request) { got <- transport{c.Transport(), c.TLS()} })
	})
	tlsAddr := h.s.Listeners()[1].Addr().String()

	echoes(t, h.dial(nil), "plain")
	if tr := <-got; tr != (transport{TransportHTTP1, false}) {
		t.Errorf("plain: %v", tr)
	}
	tc, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	c1, err := wstest.Handshake(tc, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	echoes(t, c1, "over TLS")
	if tr := <-got; tr != (transport{TransportHTTP1, true}) {
		t.Errorf("TLS: %v", tr)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	hc := &h2{harness: h, url: "https://" + tlsAddr, client: &http.Client{Transport: h2RoundTripper(t, tr, "https://"+tlsAddr, tlsAddr)}}
	c2, _ := hc.dialH2(t, nil)
	echoes(t, c2, "over HTTP/2")
	if tr := <-got; tr != (transport{TransportHTTP2, true}) {
		t.Errorf("HTTP/2: %v", tr)
	}
	if diff := cmp.Diff(transports([2]int{1, 1}, [2]int{1, 1}, [2]int{}, [2]int{1, 1}), h.s.Metrics().Transports); diff != "" {
		t.Errorf("Transports (-want +got):\n%s", diff)
	}
}

// The snapshot allocates per call, not per connection's message: what a
// message costs is BenchmarkEcho's (allocs/op 0, as before metrics).
func BenchmarkMetrics(b *testing.B) {
	h := startBench(b)
	for range 100 {
		c := h.dial(nil)
		if err := c.WriteMessage(1, []byte("x")); err != nil {
			b.Fatal(err)
		}
		if _, _, _, err := c.ReadMessage(wait); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if m := h.s.Metrics(); m.Open != 100 {
			b.Fatal(m.Open)
		}
	}
}

// reportingBroker is a Broker that carries nothing (one node) and
// reports a state.
type reportingBroker struct{ st BrokerStats }

func (*reportingBroker) Subscribe(string)                  {}
func (*reportingBroker) Unsubscribe(string)                {}
func (*reportingBroker) Publish(string, ws.Opcode, []byte) {}
func (b *reportingBroker) BrokerStats() BrokerStats        { return b.st }

// Metrics carries the state of a broker that reports one, and none
// without.
func TestMetricsBroker(t *testing.T) {
	h := start(t, Config{}, nil)
	if m := h.s.Metrics(); m.Broker != nil {
		t.Fatalf("no broker: %+v", m.Broker)
	}
	h.s.SetBroker(struct{ Broker }{&reportingBroker{}}) // one that does not report
	if m := h.s.Metrics(); m.Broker != nil {
		t.Fatalf("a broker that does not report: %+v", m.Broker)
	}
	st := BrokerStats{Connected: true, Reconnects: 2, Published: 7, Dropped: 3, Received: 5}
	h.s.SetBroker(&reportingBroker{st: st})
	if m := h.s.Metrics(); m.Broker == nil || *m.Broker != st {
		t.Fatalf("Broker %+v, want %+v", m.Broker, st)
	}
}

// Add sums two servers' snapshots.
func TestMetricsAdd(t *testing.T) {
	a := Metrics{
		Open: 1, Accepted: 2, MessagesIn: 3, BytesOut: 4, SendQueueBytes: 5, ClosesOther: 1,
		Transports:      []TransportMetrics{{Transport: TransportHTTP1, Open: 1, Accepted: 2}},
		UpgradesRefused: map[int]uint64{400: 1},
		Closes:          map[ws.CloseCode]uint64{1000: 2},
		Topics:          TopicStats{Published: 1, Delivered: 3},
		Broker:          &BrokerStats{Connected: true, Dropped: 1},
	}
	b := Metrics{
		Open: 2, Accepted: 3, MessagesIn: 1, BytesOut: 1, SendQueueBytes: 1, BackpressureCloses: 1,
		Transports:      []TransportMetrics{{Transport: TransportHTTP1, Open: 2, Accepted: 3}, {Transport: TransportHTTP2, TLS: true, Accepted: 1}},
		UpgradesRefused: map[int]uint64{400: 2, 503: 1},
		Closes:          map[ws.CloseCode]uint64{1000: 1, 1006: 1},
		Topics:          TopicStats{Published: 2, Skipped: 1},
		Broker:          &BrokerStats{Connected: false, Reconnects: 1},
	}
	var sum Metrics
	sum.Add(a)
	sum.Add(b)
	want := Metrics{
		Open: 3, Accepted: 5, MessagesIn: 4, BytesOut: 5, SendQueueBytes: 6, ClosesOther: 1, BackpressureCloses: 1,
		Transports:      []TransportMetrics{{Transport: TransportHTTP1, Open: 3, Accepted: 5}, {Transport: TransportHTTP2, TLS: true, Accepted: 1}},
		UpgradesRefused: map[int]uint64{400: 3, 503: 1},
		Closes:          map[ws.CloseCode]uint64{1000: 3, 1006: 1},
		Topics:          TopicStats{Published: 3, Delivered: 3, Skipped: 1},
		Broker:          &BrokerStats{Connected: false, Reconnects: 1, Dropped: 1},
	}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("sum (-want +got):\n%s", diff)
	}
	if a.Transports[0].Open != 1 || a.Broker.Reconnects != 0 {
		t.Error("Add changed its argument")
	}
}
