package prometheus_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	uniprom "unievent.dev/metrics/prometheus"
	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

const wait = 5 * time.Second

// startEcho runs an echo server on a loop of its own on 127.0.0.1, whose
// handshake callback refuses the path /private with 403; the test's
// cleanup stops it.
func startEcho(t *testing.T) (*server.Server, string) {
	t.Helper()
	loop := ws.NewLoop()
	srv, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnHandshake(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
		if req.HTTP.URL.Path == "/private" {
			c.SendAcceptError(http.StatusForbidden, "private", nil)
		}
	})
	srv.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
		c.Subscribe("all")
		c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
	})
	if err := srv.Run(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { loop.Run(); close(done) }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("the server's loop did not return")
		}
	})
	a, err := srv.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return srv, a.String()
}

// dial opens a client connection whose messages arrive on got.
func dial(t *testing.T, loop *ws.Loop, addr string, got chan<- string) *ws.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, "ws://"+addr+"/", nil, loop)
	if err != nil {
		t.Fatal(err)
	}
	c.OnMessage(func(_ *ws.Conn, m *ws.Message) { got <- string(m.Payload) })
	return c
}

// scrape gets /metrics from h and parses it with Prometheus's text
// parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value returns the value of the sample of name whose labels include
// labels ("k=v" each), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// Real WebSocket traffic on two servers, scraped over HTTP with promhttp
// and parsed with the text parser: the values are the servers' sums.
func TestScrape(t *testing.T) {
	a, addrA := startEcho(t)
	b, addrB := startEcho(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(uniprom.New(uniprom.Options{}, a, b))
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(hs.Close)

	loop := ws.NewLoop()
	got := make(chan string, 16)
	ca, cb := dial(t, loop, addrA, got), dial(t, loop, addrB, got)
	go loop.Run()
	for _, c := range []*ws.Conn{ca, cb, cb} {
		if err := c.SendText("hello"); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m != "hello" {
				t.Fatalf("echo %q", m)
			}
		case <-time.After(wait):
			t.Fatal("no echo")
		}
	}
	if err := a.Publish("all", ws.OpText, []byte("news")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(wait):
		t.Fatal("the publish did not arrive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := client.Dial(ctx, "ws://"+addrA+"/private", nil, loop); err == nil {
		t.Fatal("/private was not refused")
	}
	ca.Close(ws.CloseCode(1000), "")
	deadline := time.Now().Add(wait)
	for a.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection did not end")
		}
		time.Sleep(time.Millisecond)
	}

	fams := scrape(t, hs.URL)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"unievent_connections_open", []string{"transport=http/1.1", "tls=false"}, 1},
		{"unievent_connections_open", []string{"transport=h2", "tls=true"}, 0},
		{"unievent_connections_accepted_total", []string{"transport=http/1.1", "tls=false"}, 2},
		{"unievent_upgrades_refused_total", []string{"status=403"}, 1},
		{"unievent_messages_received_total", nil, 3},
		{"unievent_messages_sent_total", nil, 4},
		// Three masked frames of 5 bytes (2 header and 4 mask bytes
		// each), and the client's close frame with its code (8 bytes).
		{"unievent_received_bytes_total", nil, 3*11 + 8},
		{"unievent_closes_total", []string{"code=1000"}, 1},
		{"unievent_closes_total", []string{"code=1006"}, 0},
		{"unievent_closes_total", []string{"code=other"}, 0},
		{"unievent_send_queue_bytes", nil, 0},
		{"unievent_backpressure_closes_total", nil, 0},
		{"unievent_backpressure_refused_total", nil, 0},
		{"unievent_publishes_total", nil, 1},
		{"unievent_publishes_unheld_total", nil, 0},
		{"unievent_deliveries_total", nil, 1},
	} {
		v, ok := value(fams, c.name, c.labels...)
		if !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, ok := value(fams, "unievent_sent_bytes_total"); !ok || v < 4*7 {
		t.Errorf("unievent_sent_bytes_total = %v (found %v)", v, ok)
	}
	if f := fams["unievent_closes_total"]; f == nil || len(f.Metric) != 16 {
		t.Errorf("unievent_closes_total has %d series, want 15 codes and other", len(f.GetMetric()))
	}
	if _, ok := fams["unievent_broker_up"]; ok {
		t.Error("broker metrics without a broker")
	}
	if f := fams["unievent_connections_open"]; f.GetType() != dto.MetricType_GAUGE || fams["unievent_sent_bytes_total"].GetType() != dto.MetricType_COUNTER {
		t.Error("types: connections_open is not a gauge or sent_bytes_total not a counter")
	}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	cb.Close(ws.CloseCode(1000), "")
}

// The names, types and help texts pass client_golang's linter (units in
// names, _total counters, no camelCase...), broker metrics included.
func TestLint(t *testing.T) {
	a, _ := startEcho(t)
	a.SetBroker(reportingBroker{})
	problems, err := testutil.CollectAndLint(uniprom.New(uniprom.Options{}, a))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(uniprom.New(uniprom.Options{}, a), "unievent_broker_up", "unievent_broker_dropped_total"); n != 2 {
		t.Errorf("%d broker samples, want 2", n)
	}
}

// reportingBroker is a broker of one node (it carries nothing) that
// reports a state.
type reportingBroker struct{}

func (reportingBroker) Subscribe(string)                  {}
func (reportingBroker) Unsubscribe(string)                {}
func (reportingBroker) Publish(string, ws.Opcode, []byte) {}
func (reportingBroker) BrokerStats() server.BrokerStats {
	return server.BrokerStats{Connected: true, Reconnects: 2, Dropped: 5}
}

// The broker's state is reported as Prometheus values.
func TestBrokerMetrics(t *testing.T) {
	a, _ := startEcho(t)
	a.SetBroker(reportingBroker{})
	want := `
# HELP unievent_broker_dropped_total Local publishes the broker could not carry to the other nodes.
# TYPE unievent_broker_dropped_total counter
unievent_broker_dropped_total 5
# HELP unievent_broker_reconnects_total Reconnections of the broker.
# TYPE unievent_broker_reconnects_total counter
unievent_broker_reconnects_total 2
# HELP unievent_broker_up 1 while the broker's connection to the other nodes is up, else 0.
# TYPE unievent_broker_up gauge
unievent_broker_up 1
`
	if err := testutil.CollectAndCompare(uniprom.New(uniprom.Options{}, a), strings.NewReader(want),
		"unievent_broker_up", "unievent_broker_reconnects_total", "unievent_broker_dropped_total"); err != nil {
		t.Error(err)
	}
}

// Options set the namespace and constant labels.
func TestOptions(t *testing.T) {
	a, _ := startEcho(t)
	c := uniprom.New(uniprom.Options{Namespace: "chat", ConstLabels: prometheus.Labels{"server": "public"}}, a)
	want := `
# HELP chat_publishes_total Publish calls that queued their message on the topic's subscribers.
# TYPE chat_publishes_total counter
chat_publishes_total{server="public"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "chat_publishes_total"); err != nil {
		t.Error(err)
	}
}
