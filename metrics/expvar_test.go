package metrics_test

import (
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"net/http/httptest"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/metrics"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// startEcho runs an echo server on 127.0.0.1.
func startEcho(t *testing.T) *servertest.Running[*server.Server] {
	t.Helper()
	return servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		s, err := server.New(server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}, loop)
		if err == nil {
			s.OnConnection(func(_ *server.Server, c *server.Conn, _ *handshake.Request) {
				c.OnMessage(func(c *ws.Conn, m *ws.Message) { c.Send(m.Opcode, m.Payload) })
			})
		}
		return s, err
	})
}

// vars reads what expvar's handler serves, as /debug/vars does.
func vars(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	rec := httptest.NewRecorder()
	expvar.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/vars", nil))
	var v map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("/debug/vars is not JSON: %v\n%s", err, rec.Body)
	}
	return v
}

// The published snapshot reads back from /debug/vars as the servers'
// counts, summed, and taken at each read.
func TestPublishReadsBackThroughTheHandler(t *testing.T) {
	a, b := startEcho(t), startEcho(t)
	// expvar keeps what is published for good: a name per run, for -count.
	name := fmt.Sprintf("unievent_%p", a.Server)
	if err := metrics.Publish(name, a.Server, b.Server); err != nil {
		t.Fatal(err)
	}
	ca, cb := a.Dial("/", nil), b.Dial("/", nil)
	for _, c := range []*wstest.Client{ca, cb, cb} {
		if err := c.WriteMessage(1, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, p, _, err := c.ReadMessage(wstest.WaitTimeout); err != nil || string(p) != "hi" {
			t.Fatalf("%q %v", p, err)
		}
	}
	var got struct {
		Open        int               `json:"open"`
		Accepted    uint64            `json:"accepted"`
		MessagesIn  uint64            `json:"messages_in"`
		MessagesOut uint64            `json:"messages_out"`
		BytesIn     uint64            `json:"bytes_in"`
		Closes      map[string]uint64 `json:"closes"`
		Transports  []struct {
			Transport string `json:"transport"`
			TLS       bool   `json:"tls"`
			Open      int    `json:"open"`
		} `json:"transports"`
	}
	raw, ok := vars(t)[name]
	if !ok {
		t.Fatalf("/debug/vars has no %s", name)
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if got.Open != 2 || got.Accepted != 2 || got.MessagesIn != 3 || got.MessagesOut != 3 || got.BytesIn != 3*(6+2) {
		t.Errorf("read back %+v from %s", got, raw)
	}
	if len(got.Transports) != 4 || got.Transports[0].Transport != "http/1.1" || got.Transports[0].TLS || got.Transports[0].Open != 2 || len(got.Closes) != 15 {
		t.Errorf("transports %v, closes %v", got.Transports, got.Closes)
	}

	ca.WriteFrame(true, 8, wstest.ClosePayload(1000, ""))
	if code, _, err := ca.ExpectClose(wstest.WaitTimeout); err != nil || code != 1000 {
		t.Fatalf("close %d %v", code, err)
	}
	wstest.WaitFor(t, "the close to show", func() bool {
		json.Unmarshal(vars(t)[name], &got)
		return got.Open == 1 && got.Closes["1000"] == 1
	})
}

// A name in use is an error, never a panic, and publishes nothing.
func TestPublishTakenName(t *testing.T) {
	s := startEcho(t)
	taken := fmt.Sprintf("unievent_%p", s.Server)
	if err := metrics.Publish(taken, s.Server); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{taken, "memstats", "cmdline"} {
		if err := metrics.Publish(name, s.Server); !errors.Is(err, metrics.ErrNameTaken) {
			t.Errorf("Publish(%q) again: %v, want ErrNameTaken", name, err)
		}
	}
	if err := metrics.Publish("", s.Server); err == nil || errors.Is(err, metrics.ErrNameTaken) {
		t.Errorf("Publish(\"\"): %v", err)
	}
}
