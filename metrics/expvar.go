// Package metrics publishes the Metrics of WebSocket servers
// (server.Server.Metrics) with the standard library's expvar, so that
// /debug/vars serves them as JSON beside the runtime's memstats.
//
// It is a package of its own, not a method of ws/server, because
// importing expvar registers /debug/vars on http.DefaultServeMux and
// publishes the process's command line and memory statistics: a program
// opts in by importing this package, and serves DefaultServeMux (or
// expvar.Handler) where it wants. Nothing is published until Publish is
// called. For Prometheus, the module unievent.dev/metrics/prometheus has
// a collector over the same snapshot.
//
//	srv, _ := server.New(cfg)
//	if err := metrics.Publish("unievent", srv); err != nil {
//		log.Fatal(err) // the name is taken
//	}
//	go http.ListenAndServe("127.0.0.1:6060", nil) // /debug/vars
package metrics

import (
	"errors"
	"expvar"
	"fmt"
	"sync"

	"unievent.dev/ws/server"
)

// ErrNameTaken is returned by Publish for a name expvar already has.
var ErrNameTaken = errors.New("metrics: the expvar name is taken")

// publishing makes the check for a free name and the publishing one step
// for the callers of Publish.
var publishing sync.Mutex

// Snapshot returns the sum of the servers' Metrics (server.Metrics.Add),
// each taken once.
func Snapshot(servers ...*server.Server) server.Metrics {
	var m server.Metrics
	for _, s := range servers {
		m.Add(s.Metrics())
	}
	return m
}

// Expvar returns an expvar.Var whose value is Snapshot(servers...),
// taken each time it is read (each request to /debug/vars). Publish it
// under a name of your choosing with expvar.Publish, or use Publish,
// which returns an error instead of panicking on a name in use.
func Expvar(servers ...*server.Server) expvar.Func {
	return func() any { return Snapshot(servers...) }
}

// Publish publishes Expvar(servers...) under name. A name expvar already
// has (published by this package or any other) returns an error wrapping
// ErrNameTaken and publishes nothing; an empty name is an error too. expvar
// cannot unpublish: the servers stay referenced for the life of the
// process.
func Publish(name string, servers ...*server.Server) error {
	if name == "" {
		return errors.New("metrics: Publish needs a name")
	}
	publishing.Lock()
	defer publishing.Unlock()
	if expvar.Get(name) != nil {
		return fmt.Errorf("metrics: Publish %q: %w", name, ErrNameTaken)
	}
	expvar.Publish(name, Expvar(servers...))
	return nil
}
