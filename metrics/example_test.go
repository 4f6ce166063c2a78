package metrics_test

import (
	"log"
	"net/http"

	"unievent.dev/metrics"
	"unievent.dev/ws/server"
)

// Publish a server's metrics at /debug/vars, served on a port of its own
// for the operators only.
func ExamplePublish() {
	srv, err := server.New(server.Config{Locations: []server.Location{{Port: 8080}}})
	if err != nil {
		log.Fatal(err)
	}
	if err := metrics.Publish("unievent", srv); err != nil {
		log.Fatal(err)
	}
	// expvar registered /debug/vars on http.DefaultServeMux.
	go http.ListenAndServe("127.0.0.1:6060", nil)
	// srv.Run(); srv.Loop().Run() ...
}
