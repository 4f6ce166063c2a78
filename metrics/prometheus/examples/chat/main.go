// Command chat is examples/chat (unievent.dev/examples/chat/chat) with
// Prometheus's /metrics beside it: the same rooms, page and /debug/vars,
// and the server's metrics (unievent.dev/metrics/prometheus) with the Go
// runtime's and the process's, in Prometheus's text format.
//
//	cd metrics/prometheus && go run ./examples/chat [-addr 127.0.0.1:8080]
//
// It is a program of the Prometheus module, so that examples/chat and the
// root module need nothing but the standard library.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"unievent.dev/examples/chat/chat"
	"unievent.dev/metrics"
	uniprom "unievent.dev/metrics/prometheus"
	"unievent.dev/ws/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	flag.Parse()
	if err := chat.Serve(*addr, setup); err != nil {
		log.Fatalf("chat: %v", err)
	}
}

// setup publishes srv's metrics with expvar as examples/chat does, and
// serves /metrics in front of the chat's own routes.
func setup(srv *server.Server) error {
	if err := metrics.Publish("chat", srv); err != nil {
		return err
	}
	serveMetrics(srv)
	return nil
}

// serveMetrics puts GET /metrics, with srv's metrics and the runtime's,
// in front of srv's HTTP handler.
func serveMetrics(srv *server.Server) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		uniprom.New(uniprom.Options{}, srv),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", srv.Config().HTTP.Handler) // the chat's page and /ws
	srv.SetHTTPHandler(mux)
}
