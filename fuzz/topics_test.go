package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
	"unievent.dev/ws/server"
)

// FuzzTopics runs a script of topic operations against a real server and a
// model of what they must do: subscribe, unsubscribe, publish (text,
// binary, invalid text) from the test and from a client's own message,
// closing connections, and checks of Subscribers and Topics, on four
// connections (two with permessage-deflate, so that the shared compressed
// frame is exercised too) and four topics of the input's own. Operations
// run one after the other, so the model knows at each publish who holds
// the topic; in the end every client must have received exactly the
// messages the model delivered to it, in order, and every topic must be
// empty once the connections are closed.
func FuzzTopics(f *testing.F) {
	f.Add([]byte{0x00, 0x08, 0x10, 0x02, 0x03, 0x05, 0x07})
	f.Add([]byte{0x00, 0x28, 0x04, 0x0a, 0x06, 0x02, 0x1e, 0x07, 0x21})
	f.Add([]byte{0x00, 0x08, 0x10, 0x18, 0x02, 0x0e, 0x06, 0x00, 0x02, 0x19, 0x03, 0x41, 0x42})
	f.Add(bytes.Repeat([]byte{0x00, 0x02, 0x0c, 0x09}, 16))
	ts := startTopicServer(f)
	f.Fuzz(func(t *testing.T, script []byte) { ts.run(t, script) })
}

const (
	topicConns  = 4
	topicNames  = 4
	maxTopicOps = 96
	// topicWait bounds each wait of an input: for the server to run a
	// client's message, or to drop a closed connection.
	topicWait = 10 * time.Second
)

// topicServer is the server every input of a FuzzTopics worker talks to.
type topicServer struct {
	s    *server.Server
	addr string

	mu    sync.Mutex
	conns map[string]*topicConn // by X-Fuzz-Id
}

// topicConn is one connection of an input, as the server sees it.
type topicConn struct {
	c         chan *server.Conn
	published chan error    // the result of a Publish a client's message asked for
	gone      chan struct{} // closed by the disconnection listener
}

var topicSeq atomic.Uint64

func startTopicServer(tb testing.TB) *topicServer {
	ts := &topicServer{conns: map[string]*topicConn{}}
	r := servertest.Start(tb, servertest.Options{NoLeakCheck: true}, func(loop *ws.Loop) (*server.Server, error) {
		var cfg server.Config
		cfg.Locations = []server.Location{{Host: "127.0.0.1"}}
		cfg.Deflate = &permessagedeflate.Config{Level: 1, ServerNoContextTakeover: true}
		return server.New(cfg, loop)
	})
	ts.s, ts.addr = r.Server, r.Addr
	ts.s.OnConnection(func(s *server.Server, c *server.Conn, req *handshake.Request) {
		rec := ts.lookup(req.HTTP.Header.Get("X-Fuzz-Id"))
		if rec == nil {
			c.Close(frame.ClosePolicyViolation, "unknown input")
			return
		}
		// A client's message names the topic and carries the payload:
		// "TOPIC\n" then the bytes, published as binary.
		c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
			name, payload, _ := bytes.Cut(m.Payload, []byte("\n"))
			rec.published <- s.Publish(string(name), ws.OpBinary, payload)
		})
		rec.c <- c
	})
	ts.s.OnDisconnection(func(s *server.Server, c *server.Conn) {
		if rec := ts.lookup(c.Request().HTTP.Header.Get("X-Fuzz-Id")); rec != nil {
			close(rec.gone)
		}
	})
	return ts
}

func (ts *topicServer) lookup(key string) *topicConn {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.conns[key]
}

// topicModel is what the script's operations must have done.
type topicModel struct {
	open     [topicConns]bool
	holds    [topicConns][topicNames]bool
	expected [topicConns][]string // "op:payload" of each message a client must get
	unheld   int                  // publishes to a topic nobody held
}

func (m *topicModel) subscribers(topic int) int {
	n := 0
	for c := range topicConns {
		if m.holds[c][topic] {
			n++
		}
	}
	return n
}

func (m *topicModel) deliver(topic int, op ws.Opcode, payload []byte) {
	held := false
	for c := range topicConns {
		if m.holds[c][topic] {
			m.expected[c] = append(m.expected[c], fmt.Sprintf("%d:%s", op, payload))
			held = true
		}
	}
	if !held {
		m.unheld++
	}
}

func (ts *topicServer) run(t *testing.T, script []byte) {
	if len(script) > maxTopicOps {
		script = script[:maxTopicOps]
	}
	prefix := "in" + strconv.FormatUint(topicSeq.Add(1), 10) + "/"
	topicName := func(i int) string { return prefix + strconv.Itoa(i) }

	var clients [topicConns]*wstest.Client
	var inflaters [topicConns]*wstest.Inflater
	var conns [topicConns]*server.Conn
	var recs [topicConns]*topicConn
	for i := range topicConns {
		key := prefix + strconv.Itoa(i)
		rec := &topicConn{c: make(chan *server.Conn, 1), published: make(chan error, 1), gone: make(chan struct{})}
		ts.mu.Lock()
		ts.conns[key] = rec
		ts.mu.Unlock()
		defer func() {
			ts.mu.Lock()
			delete(ts.conns, key)
			ts.mu.Unlock()
		}()
		h := http.Header{"X-Fuzz-Id": {key}}
		if i%2 == 1 {
			h.Set("Sec-WebSocket-Extensions", "permessage-deflate")
			inflaters[i] = &wstest.Inflater{NoContextTakeover: true}
		}
		cl, err := wstest.Dial(ts.addr, "/", h)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[i], recs[i] = cl, rec
		select {
		case conns[i] = <-rec.c:
		case <-time.After(topicWait):
			t.Fatalf("connection %d: no connection event", i)
		}
	}

	before := ts.s.TopicStats()
	var m topicModel
	for i := range topicConns {
		m.open[i] = true
	}
	seq := 0
	for k := 0; k < len(script); k++ {
		b := script[k]
		op, ci, ti := b&7, int(b>>3)&3, int(b>>5)&3
		// Payload bytes, for the operations that take some: the next
		// byte is a length (up to 31), then that many bytes.
		payload := func() []byte {
			if k+1 >= len(script) {
				return nil
			}
			k++
			n := int(script[k] & 31)
			end := min(k+1+n, len(script))
			p := script[k+1 : end]
			k = end - 1
			return p
		}
		switch op {
		case 0: // subscribe
			err := conns[ci].Subscribe(topicName(ti))
			if m.open[ci] {
				if err != nil {
					t.Fatalf("op %d: Subscribe on an open connection: %v", k, err)
				}
				m.holds[ci][ti] = true
			} else if !errors.Is(err, ws.ErrClosed) {
				t.Fatalf("op %d: Subscribe on a closed connection: %v, want ws.ErrClosed", k, err)
			}
		case 1: // unsubscribe
			if got := conns[ci].Unsubscribe(topicName(ti)); got != m.holds[ci][ti] {
				t.Fatalf("op %d: Unsubscribe reported %v, want %v", k, got, m.holds[ci][ti])
			}
			m.holds[ci][ti] = false
		case 2: // publish text from the test
			seq++
			p := []byte("m" + strconv.Itoa(seq))
			if err := ts.s.Publish(topicName(ti), ws.OpText, p); err != nil {
				t.Fatalf("op %d: Publish: %v", k, err)
			}
			m.deliver(ti, ws.OpText, p)
		case 3: // publish binary bytes of the input
			p := payload()
			if err := ts.s.Publish(topicName(ti), ws.OpBinary, p); err != nil {
				t.Fatalf("op %d: Publish: %v", k, err)
			}
			m.deliver(ti, ws.OpBinary, p)
		case 4: // a client's message asks the server to publish
			p := payload()
			if !m.open[ci] {
				continue
			}
			msg := append([]byte(topicName(ti)+"\n"), p...)
			if err := clients[ci].WriteMessage(2, msg); err != nil {
				t.Fatalf("op %d: client %d: %v", k, ci, err)
			}
			select {
			case err := <-recs[ci].published:
				if err != nil {
					t.Fatalf("op %d: Publish from a listener: %v", k, err)
				}
			case <-time.After(topicWait):
				t.Fatalf("op %d: the server did not run client %d's message", k, ci)
			}
			m.deliver(ti, ws.OpBinary, p)
		case 5: // publish text that is not UTF-8: refused, nothing sent
			if err := ts.s.Publish(topicName(ti), ws.OpText, []byte{'x', 0xff}); !errors.Is(err, ws.ErrInvalid) {
				t.Fatalf("op %d: Publish of invalid text: %v, want ws.ErrInvalid", k, err)
			}
		case 6: // the client closes; the server drops the connection
			if !m.open[ci] {
				continue
			}
			if err := clients[ci].WriteFrame(true, 8, wstest.ClosePayload(1000, "")); err != nil {
				t.Fatalf("op %d: client %d: %v", k, ci, err)
			}
			select {
			case <-recs[ci].gone:
			case <-time.After(topicWait):
				t.Fatalf("op %d: connection %d not dropped after its close", k, ci)
			}
			m.open[ci] = false
			m.holds[ci] = [topicNames]bool{}
		case 7: // what the server reports matches the model
			if got, want := ts.s.Subscribers(topicName(ti)), m.subscribers(ti); got != want {
				t.Fatalf("op %d: Subscribers(%d) = %d, want %d", k, ti, got, want)
			}
			var want []string
			for i := range topicNames {
				if m.holds[ci][i] {
					want = append(want, topicName(i))
				}
			}
			slices.Sort(want)
			if got := conns[ci].Topics(); !slices.Equal(got, want) {
				t.Fatalf("op %d: connection %d Topics() = %q, want %q", k, ci, got, want)
			}
		}
	}

	// Every client gets exactly its messages, in order, then the close
	// (its own close's answer, or the server's).
	for i := range topicConns {
		if m.open[i] {
			conns[i].Close(frame.CloseNormal, "")
		}
		for n, want := range m.expected[i] {
			op, p, rsv1, err := clients[i].ReadMessage(topicWait)
			if err != nil {
				t.Fatalf("client %d, message %d of %d: %v", i, n, len(m.expected[i]), err)
			}
			if rsv1 {
				if inflaters[i] == nil {
					t.Fatalf("client %d: a compressed message without permessage-deflate", i)
				}
				if p, _, err = inflaters[i].Inflate(p); err != nil {
					t.Fatalf("client %d, message %d: inflate: %v", i, n, err)
				}
			}
			if got := fmt.Sprintf("%d:%s", op, p); got != want {
				t.Fatalf("client %d, message %d: %q, want %q", i, n, got, want)
			}
		}
		op, p, _, err := clients[i].ReadMessage(topicWait)
		if err != nil {
			t.Fatalf("client %d, after its messages: %v", i, err)
		}
		if op != 8 {
			t.Fatalf("client %d: an extra message %d:%q, want the close", i, op, p)
		}
		if m.open[i] {
			clients[i].WriteFrame(true, 8, p)
		}
	}
	for i := range topicConns {
		select {
		case <-recs[i].gone:
		case <-time.After(topicWait):
			t.Fatalf("connection %d not dropped at the end", i)
		}
	}
	for i := range topicNames {
		if n := ts.s.Subscribers(topicName(i)); n != 0 {
			t.Fatalf("topic %d: %d subscribers after every connection closed", i, n)
		}
	}
	// A fuzzing worker runs its inputs one at a time (other workers are
	// other processes): the counters moved by this input's publishes only.
	after := ts.s.TopicStats()
	if got := after.Unheld - before.Unheld; got != uint64(m.unheld) {
		t.Fatalf("%d publishes counted as unheld, want %d", got, m.unheld)
	}
}
