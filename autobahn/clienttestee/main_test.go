package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/handshake"
	"unievent.dev/ws/server"
)

// TestAgainstAFuzzingServer runs the testee against a server speaking the
// fuzzing server's protocol: two cases, each sending a text, a binary and
// a compressible message and closing once all three came back, and the
// reports' update.
func TestAgainstAFuzzingServer(t *testing.T) {
	var mu sync.Mutex
	var log []string
	note := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		cfg := server.Config{Locations: []server.Location{{Host: "127.0.0.1"}}}
		cfg.Deflate = testeeConfig().Deflate
		cfg.IdleTimeout = 5 * time.Second // a client that echoes nothing fails the test, not hangs it
		s, err := server.New(cfg, loop)
		if err != nil {
			return nil, err
		}
		s.OnConnection(func(_ *server.Server, c *server.Conn, req *handshake.Request) {
			u := req.HTTP.URL
			switch u.Path {
			case "/getCaseCount":
				c.SendText("2")
				c.Close(1000, "")
			case "/runCase":
				msgs := []string{"text " + u.Query().Get("case"), "\x00\x01binary", strings.Repeat("compress me ", 1000)}
				echoed := 0
				c.OnMessage(func(c *ws.Conn, m *ws.Message) {
					if string(m.Payload) != msgs[echoed] || (echoed == 1) != m.IsBinary() {
						note("case " + u.Query().Get("case") + ": wrong echo")
						c.Close(1002, "")
						return
					}
					if echoed++; echoed == len(msgs) {
						note("case " + u.Query().Get("case") + " for " + u.Query().Get("agent") + ", deflate " + onOff(c.Deflate() != nil))
						c.Close(1000, "")
					}
				})
				c.SendText(msgs[0])
				c.SendBinary([]byte(msgs[1]))
				c.SendText(msgs[2])
			case "/updateReports":
				note("reports for " + u.Query().Get("agent"))
				c.Close(1000, "")
			}
		})
		return s, nil
	})
	var out bytes.Buffer
	if err := run("ws://"+r.Addr+"/", "test agent", &out); err != nil {
		t.Fatal(err)
	}
	if want := "case 1: closed 1000\ncase 2: closed 1000\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"case 1 for test agent, deflate on", "case 2 for test agent, deflate on", "reports for test agent"}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Errorf("the server saw %q, want %q", log, want)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
