package nats

import (
	"testing"

	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

var _ server.BrokerReporter = (*Broker)(nil)

// The server's Metrics carry the broker's state: connected, what it
// published and received, and that it is down once NATS is.
func TestBrokerInServerMetrics(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), Options{Name: "a"})
	b := startNode(t, ns.url(), Options{Name: "b"})
	cs := newClients()
	sub := cs.dial(t, b.addr, "room")
	cs.run(t)
	waitFor(t, "the subscription", func() bool { return b.srv.Subscribers("room") == 1 })
	flush(t, a, b)
	for range 3 {
		if err := a.srv.Publish("room", ws.OpText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the three messages", func() bool { return sub.count() == 3 })
	ma, mb := a.srv.Metrics(), b.srv.Metrics()
	if ma.Broker == nil || mb.Broker == nil {
		t.Fatalf("no broker in the metrics: a %+v, b %+v", ma.Broker, mb.Broker)
	}
	if want := (server.BrokerStats{Connected: true, Published: 3}); *ma.Broker != want {
		t.Errorf("a: %+v, want %+v", *ma.Broker, want)
	}
	if want := (server.BrokerStats{Connected: true, Received: 3}); *mb.Broker != want {
		t.Errorf("b: %+v, want %+v", *mb.Broker, want)
	}
	ns.stop()
	waitFor(t, "the broker to see NATS gone", func() bool { return !a.srv.Metrics().Broker.Connected })
}
