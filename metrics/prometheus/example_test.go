package prometheus_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	uniprom "unievent.dev/metrics/prometheus"
	"unievent.dev/ws/server"
)

// Serve a server's metrics at /metrics for Prometheus, beside the Go
// runtime's, on a port for the operators only.
func Example() {
	srv, err := server.New(server.Config{Locations: []server.Location{{Port: 8080}}})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(uniprom.New(uniprom.Options{}, srv), prometheus.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go http.ListenAndServe("127.0.0.1:9100", mux)
	// srv.Run(); srv.Loop().Run() ...
}
