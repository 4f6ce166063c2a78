package reliability

import (
	"crypto/tls"
	"strconv"
	"testing"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"

	"unievent.dev/ws/server"
)

// What an established, idle connection costs the server, for the threat
// model in SECURITY.md: its goroutine (parked, with no read buffer), its
// state, and the upgrade request it keeps for Conn.Request. A client
// decides how large that request is, up to HTTPConfig.MaxHeaderBytes; a
// header made of the smallest fields costs the most once parsed.
func TestIdleConnectionCost(t *testing.T) {
	n := scale(500, 10_000)
	for _, tc := range []struct {
		name              string
		fields, fieldSize int
		tls               bool
		max               int64 // bytes per connection
	}{
		{"plain request", 0, 0, false, 16 << 10},
		// The largest request an upgrade may have: as many fields as
		// MaxHeaderFields allows (the handshake's own five included),
		// filling MaxHeaderBytes.
		{"the largest request head", server.DefaultConfig().MaxHeaderFields - 5, 75, false, 48 << 10},
		// wss: a goroutine per connection, and crypto/tls's own state.
		{"wss", 0, 0, true, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := servertest.TakeBaseline()
			cfg := server.Config{}
			if tc.tls {
				cert, _ := wstest.Certificate(t)
				cfg.Locations = []server.Location{{Host: "127.0.0.1", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}
			}
			h := start(t, cfg, echo)
			mem0, rss0 := goMemory(), settledRSS()
			params := map[string]string{"ADDR": h.addr, "PATH": "/", "N": strconv.Itoa(n)}
			if tc.tls {
				params["TLS"] = "1"
			}
			if tc.fields > 0 {
				params["FIELDS"] = strconv.Itoa(tc.fields)
				params["FIELDSIZE"] = strconv.Itoa(tc.fieldSize)
			}
			p := startPeer(t, "slowreaders", params)
			p.expect("ready")
			h.ev.waitFor(t, "the connections", wait, func() bool { return h.ev.nconn >= n })
			mem1, rss1 := goMemory(), settledRSS()
			per, perRSS := (mem1-mem0)/int64(n), (rss1-rss0)/int64(n)
			t.Logf("%d idle connections (%s): %s of Go memory each (%s in all), RSS %s each", n, tc.name, kib(per), mib(mem1-mem0), kib(perRSS))
			if per > tc.max {
				t.Errorf("%s per idle connection, want at most %s", kib(per), kib(tc.max))
			}
			p.stop()
			h.ev.waitDisconnections(t, n, wait)
			h.stop()
			base.Check(t, 0, wait)
		})
	}
}
