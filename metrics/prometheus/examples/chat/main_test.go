package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"unievent.dev/examples/chat/chat"
	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/server"
)

const wait = 5 * time.Second

// The chat with /metrics: the page and the rooms still work, and /metrics
// serves text Prometheus's parser reads, with the chat's connection and
// publishes counted.
func TestMetricsBesideTheChat(t *testing.T) {
	loop := ws.NewLoop()
	srv, err := chat.New(server.Location{Host: "127.0.0.1"}, loop)
	if err != nil {
		t.Fatal(err)
	}
	serveMetrics(srv)
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
			t.Error("the chat's loop did not return")
		}
	})
	a, err := srv.Addr()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + a.String()

	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the page: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cloop := ws.NewLoop()
	got := make(chan string, 4)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, "ws://"+a.String()+"/ws", nil, cloop)
	if err != nil {
		t.Fatal(err)
	}
	c.OnMessage(func(_ *ws.Conn, m *ws.Message) { got <- string(m.Payload) })
	go cloop.Run()
	if err := c.SendText(`{"name":"ann","text":"hello"}`); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the join, the line
		select {
		case <-got:
		case <-time.After(wait):
			t.Fatal("the room said nothing")
		}
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	value := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.Metric) == 0 {
			t.Errorf("/metrics has no %s", name)
			return -1
		}
		var sum float64
		for _, m := range f.Metric {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	if v := value("unievent_connections_open"); v != 1 {
		t.Errorf("unievent_connections_open %v, want 1", v)
	}
	if v := value("unievent_publishes_total"); v != 2 {
		t.Errorf("unievent_publishes_total %v, want 2 (the join and the line)", v)
	}
	if v := value("unievent_messages_received_total"); v != 1 {
		t.Errorf("unievent_messages_received_total %v, want 1", v)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("/metrics has no go_goroutines")
	}
	c.Close(ws.CloseCode(1000), "")
}
