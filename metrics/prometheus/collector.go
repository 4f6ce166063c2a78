// Package prometheus is a Prometheus collector (client_golang's
// prometheus.Collector) over the Metrics of one or several WebSocket
// servers of unievent.dev/ws/server. It lives in a module of its own so
// that the root module stays standard-library only: a program that does
// not scrape with Prometheus never downloads client_golang. The standard
// library's expvar is served by unievent.dev/metrics, in the root module.
//
// Register a Collector and serve promhttp's handler:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(uniprom.New(uniprom.Options{}, srv))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Each scrape takes one snapshot per server (server.Server.Metrics), sums
// them and reports every metric from that sum, so the values of one
// scrape agree with each other. The metrics, with Options.Namespace
// "unievent" (the default):
//
//	unievent_connections_open{transport,tls}          gauge: connections open now
//	unievent_connections_accepted_total{transport,tls} connections established
//	unievent_upgrades_refused_total{status}           upgrade requests answered with an HTTP error
//	unievent_messages_received_total                  whole data messages received
//	unievent_messages_sent_total                      data messages queued to send
//	unievent_received_bytes_total                     bytes read from peers, on the wire
//	unievent_sent_bytes_total                         bytes written to peers, on the wire
//	unievent_closes_total{code}                       connections ended, by close code
//	unievent_send_queue_bytes                         gauge: bytes queued, not yet written
//	unievent_backpressure_closes_total                connections closed (1008) for a full send queue
//	unievent_backpressure_refused_total               messages a full send queue refused
//	unievent_publishes_total                          Publish calls that queued their message
//	unievent_publishes_unheld_total                   Publish calls to a topic nobody held
//	unievent_deliveries_total                         published messages queued on subscribers
//	unievent_broker_up                                gauge: 1 while the broker is connected
//	unievent_broker_reconnects_total                  broker reconnections
//	unievent_broker_published_total                   local publishes handed to the broker
//	unievent_broker_dropped_total                     local publishes the broker dropped
//	unievent_broker_received_total                    messages from other nodes
//
// transport is "http/1.1" or "h2" (server.Conn.Transport), tls "true" or
// "false"; every pair is reported, zero or not. code is a close code from
// 1000 to 1015 (not 1004), each reported, or "other" for any other code,
// so that peers cannot make new series. status is an HTTP status from 400
// to 599, reported once it occurred. The broker metrics are there only
// when a server's broker reports its state (server.BrokerReporter, as the
// NATS broker of unievent.dev/broker/nats does).
package prometheus

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"unievent.dev/ws/server"
)

// Options configure a Collector.
type Options struct {
	// Namespace prefixes every metric name, with an underscore; default
	// "unievent".
	Namespace string
	// ConstLabels are added to every metric, for instance to tell apart
	// the servers of one process given to separate Collectors.
	ConstLabels prometheus.Labels
}

// Collector reports the sum of the Metrics of its servers. It is safe for
// concurrent scrapes.
type Collector struct {
	servers []*server.Server

	open, accepted, refused, closes                                   *prometheus.Desc
	msgIn, msgOut, bytesIn, bytesOut, queue, bpCloses, bpRefused      *prometheus.Desc
	published, unheld, delivered                                      *prometheus.Desc
	brokerUp, brokerReconnects, brokerPub, brokerDropped, brokerRecvd *prometheus.Desc
}

// New returns a Collector over servers, for prometheus.Registerer's
// Register.
func New(opts Options, servers ...*server.Server) *Collector {
	ns := opts.Namespace
	if ns == "" {
		ns = "unievent"
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, opts.ConstLabels)
	}
	return &Collector{
		servers:          append([]*server.Server(nil), servers...),
		open:             desc("connections_open", "WebSocket connections open now, by transport and TLS.", "transport", "tls"),
		accepted:         desc("connections_accepted_total", "WebSocket connections established, by transport and TLS.", "transport", "tls"),
		refused:          desc("upgrades_refused_total", "WebSocket upgrade requests answered with an HTTP error, by status.", "status"),
		closes:           desc("closes_total", "WebSocket connections ended, by the close code reported (the peer's, ours, or 1006 for a dropped connection); codes other than 1000-1015 count as other.", "code"),
		msgIn:            desc("messages_received_total", "Whole WebSocket data messages received."),
		msgOut:           desc("messages_sent_total", "WebSocket data messages queued to send."),
		bytesIn:          desc("received_bytes_total", "Bytes read from WebSocket peers, on the wire (frame headers and compressed payloads)."),
		bytesOut:         desc("sent_bytes_total", "Bytes written to WebSocket peers, on the wire (the handshake response and frames)."),
		queue:            desc("send_queue_bytes", "Bytes queued on the open connections and not yet written."),
		bpCloses:         desc("backpressure_closes_total", "WebSocket connections closed (1008) because their send queue was full (BackpressureClose)."),
		bpRefused:        desc("backpressure_refused_total", "WebSocket messages a full send queue refused (BackpressureRefuse)."),
		published:        desc("publishes_total", "Publish calls that queued their message on the topic's subscribers."),
		unheld:           desc("publishes_unheld_total", "Publish calls to a topic no local connection held."),
		delivered:        desc("deliveries_total", "Published messages queued on subscribers."),
		brokerUp:         desc("broker_up", "1 while the broker's connection to the other nodes is up, else 0."),
		brokerReconnects: desc("broker_reconnects_total", "Reconnections of the broker."),
		brokerPub:        desc("broker_published_total", "Local publishes handed to the broker for the other nodes."),
		brokerDropped:    desc("broker_dropped_total", "Local publishes the broker could not carry to the other nodes."),
		brokerRecvd:      desc("broker_received_total", "Messages from other nodes delivered to local subscribers."),
	}
}

// Describe sends the descriptors of every metric the Collector may
// report.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.open, c.accepted, c.refused, c.closes,
		c.msgIn, c.msgOut, c.bytesIn, c.bytesOut, c.queue, c.bpCloses, c.bpRefused,
		c.published, c.unheld, c.delivered,
		c.brokerUp, c.brokerReconnects, c.brokerPub, c.brokerDropped, c.brokerRecvd,
	} {
		ch <- d
	}
}

// Collect takes one snapshot of every server, sums them and sends the
// metrics of the sum.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var m server.Metrics
	for _, s := range c.servers {
		m.Add(s.Metrics())
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	transports := m.Transports
	if len(transports) == 0 {
		// No server: every pair at zero, as a server reports them.
		for _, t := range []string{server.TransportHTTP1, server.TransportHTTP2} {
			transports = append(transports, server.TransportMetrics{Transport: t}, server.TransportMetrics{Transport: t, TLS: true})
		}
	}
	for _, t := range transports {
		tls := strconv.FormatBool(t.TLS)
		gauge(c.open, float64(t.Open), t.Transport, tls)
		counter(c.accepted, t.Accepted, t.Transport, tls)
	}
	for status, n := range m.UpgradesRefused {
		counter(c.refused, n, strconv.Itoa(status))
	}
	for code, n := range m.Closes {
		counter(c.closes, n, strconv.Itoa(int(code)))
	}
	counter(c.closes, m.ClosesOther, "other")
	counter(c.msgIn, m.MessagesIn)
	counter(c.msgOut, m.MessagesOut)
	counter(c.bytesIn, m.BytesIn)
	counter(c.bytesOut, m.BytesOut)
	gauge(c.queue, float64(m.SendQueueBytes))
	counter(c.bpCloses, m.BackpressureCloses)
	counter(c.bpRefused, m.BackpressureRefused)
	counter(c.published, m.Topics.Published)
	counter(c.unheld, m.Topics.Unheld)
	counter(c.delivered, m.Topics.Delivered)
	if b := m.Broker; b != nil {
		up := 0.0
		if b.Connected {
			up = 1
		}
		gauge(c.brokerUp, up)
		counter(c.brokerReconnects, b.Reconnects)
		counter(c.brokerPub, b.Published)
		counter(c.brokerDropped, b.Dropped)
		counter(c.brokerRecvd, b.Received)
	}
}
