// Command multicore is an echo server that runs one loop per core: N loops,
// each with a server of its own listening on the same port with
// Location.ReusePort, each loop's Run on a goroutine of its own.
//
//	go run ./examples/multicore [-addr 127.0.0.1:8080] [-loops N] [-deflate]
//
// A connection to /broadcast is a fan-out instead: it subscribes to the
// topic "broadcast", and each message it sends is published to every
// connection of every loop that holds the topic, itself included. One
// Publish reaches all the loops through a Broker (package ws/server) that
// hands the message to the other servers of the process with PublishLocal
// (loopBroker): the publishing goroutine delivers on every server in turn,
// so the messages of one publisher arrive in its order everywhere.
//
// -loops defaults to runtime.NumCPU(). It prints "listening on
// ws://HOST:PORT/" once every server listens (with port 0, the first
// server picks the port and the others join it). On SIGINT or SIGTERM it
// closes every connection with 1001 (going away) and exits once all the
// loops have returned.
//
// # How connections spread
//
// With SO_REUSEPORT every server has its own listening socket on the
// port, and the kernel hands each new connection to one of them: on Linux
// by a hash of the connection's addresses and ports, so the spread is even
// over many clients but takes no account of load. A connection stays with
// the server that accepted it, and all its callbacks run on that server's
// loop. Callbacks of one loop run one at a time; callbacks of different
// loops run in parallel, so N loops can run N callbacks at once on N
// cores. This is the pattern of nginx workers and uWebSockets apps,
// within one process. Where the platform has no SO_REUSEPORT, New fails
// with server.ErrNoReusePort.
//
// # When one loop is better
//
// On Linux a loop reads and writes its plain connections on one poller
// goroutine per core, in parallel, but runs their callbacks (and the frame
// parsing, unmasking and UTF-8 validation around them) one at a time
// under its lock; permessage-deflate's compressing and inflating run
// outside it. So one loop's callbacks use at most one core, and
// N loops on N cores multiply the throughput when the callbacks are heavy
// and the connections many and independent, as in an echo or a relay.
// Prefer one loop:
//
//   - when connections share state: a chat room, a game. On one loop that
//     state needs no lock; across loops shared state needs a lock or a
//     hand-off with Loop.Post (a broadcast is the exception: topics and a
//     broker, as /broadcast does, reach every loop);
//   - when there are few connections, or a few busy ones: the hash may put
//     them on the same loop while others idle;
//   - when callbacks block or do heavy work: hand that work to other
//     goroutines and post the result back with Loop.Post, rather than
//     multiplying loops.
//
// Several loops pay off when one loop's lock is the bottleneck: a CPU
// profile shows callbacks and decoding taking a whole core, or the pollers
// waiting for the loop (sync.Mutex contention), while other cores idle. Also note
// that on Linux closing one SO_REUSEPORT socket resets the connections
// still waiting in its accept queue (unless the net.ipv4.tcp_migrate_req
// sysctl is set), which is why Stop and StopListening should be applied to
// all the servers together.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port to listen on")
	loops := flag.Int("loops", runtime.NumCPU(), "number of loops, each with its own server")
	deflate := flag.Bool("deflate", false, "accept permessage-deflate (compression level 1)")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("multicore: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("multicore: -addr: bad port %q", portStr)
	}
	if *loops < 1 {
		log.Fatalf("multicore: -loops must be at least 1")
	}
	var cfg server.Config
	if *deflate {
		cfg.Deflate = &permessagedeflate.Config{Level: 1}
	}
	servers, err := start(cfg, host, port, *loops)
	if err != nil {
		log.Fatalf("multicore: %v", err)
	}
	a, err := servers[0].Addr()
	if err != nil {
		log.Fatalf("multicore: %v", err)
	}
	fmt.Printf("listening on ws://%s/\n", a)

	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Loop().Run(); err != nil {
				log.Printf("multicore: %v", err)
			}
		}()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		for _, srv := range servers {
			srv.Stop(frame.CloseAway)
		}
	}()
	wg.Wait()
}

// start creates and runs n echo servers with cfg, each on a new loop,
// sharing the port with SO_REUSEPORT. The loops are not running yet. With
// port 0 the first server picks the port.
func start(cfg server.Config, host string, port, n int) ([]*server.Server, error) {
	var servers []*server.Server
	stopAll := func() {
		for _, s := range servers {
			s.Stop()
		}
	}
	for range n {
		loc := server.Location{Host: host, Port: port, ReusePort: true}
		cfg.Locations = []server.Location{loc}
		srv, err := server.New(cfg, ws.NewLoop())
		if err != nil {
			stopAll()
			return nil, err
		}
		srv.OnConnection(func(s *server.Server, c *server.Conn, req *handshake.Request) {
			if req.HTTP.URL.Path == "/broadcast" {
				if err := c.Subscribe(broadcastTopic); err != nil {
					return // closed already
				}
				c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
					if err := s.Publish(broadcastTopic, m.Opcode, m.Payload); err != nil {
						log.Printf("multicore: publish: %v", err)
					}
				})
				return
			}
			c.OnMessage(func(c *ws.Conn, m *ws.Message) {
				c.Send(m.Opcode, m.Payload)
			})
		})
		if err := srv.Run(); err != nil {
			srv.Stop()
			stopAll()
			return nil, err
		}
		servers = append(servers, srv)
		srv.SetBroker(&loopBroker{self: srv, all: &servers})
		if port == 0 {
			a, err := srv.Addr()
			if err != nil {
				stopAll()
				return nil, err
			}
			port = a.(*net.TCPAddr).Port
		}
	}
	return servers, nil
}

// broadcastTopic is the topic of the connections to /broadcast.
const broadcastTopic = "broadcast"

// loopBroker is the Broker of one server among the servers of the process:
// what that server publishes, it hands to each of the others, which
// deliver it to their own subscribers. Subscribe and Unsubscribe have
// nothing to do: every server hears every publish, and one whose
// connections do not hold the topic counts it as unheld.
type loopBroker struct {
	self *server.Server
	all  *[]*server.Server // every server, filled in by start before any Run
}

func (b *loopBroker) Subscribe(string)   {}
func (b *loopBroker) Unsubscribe(string) {}

func (b *loopBroker) Publish(topic string, op ws.Opcode, payload []byte) {
	for _, s := range *b.all {
		if s != b.self {
			s.PublishLocal(topic, op, payload) // valid: the publisher's Publish checked it
		}
	}
}
