// Command clienttestee is the WebSocket client the Autobahn|Testsuite
// fuzzing server tests (see ../README.md): it speaks the fuzzing server's
// protocol with ws/client, echoing every text and binary message of every
// case as one message of the same type.
//
//	go run ./autobahn/clienttestee [-server ws://127.0.0.1:9001] [-agent unievent]
//
// It asks /getCaseCount for the number of cases, runs each with
// /runCase?case=N&agent=AGENT until the server closes it, then asks
// /updateReports?agent=AGENT to write the reports. It prints one line per
// case with the close code the connection ended with.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"strconv"
	"strings"

	"unievent.dev/autobahn"
	"unievent.dev/ws"
	"unievent.dev/ws/client"
)

func main() {
	server := flag.String("server", "ws://127.0.0.1:9001", "the fuzzing server's URL")
	agent := flag.String("agent", "unievent", "the agent name the reports use")
	flag.Parse()
	if err := run(*server, *agent, os.Stdout); err != nil {
		log.Fatalf("clienttestee: %v", err)
	}
}

// testeeConfig is the client's configuration for the testsuite, the one
// the in-repo suite's client side tests: permessage-deflate offered (cases
// 12 and 13, at level 1) and the limits of the server testee.
func testeeConfig() *client.Config { return autobahn.ClientTesteeConfig() }

// run runs every case of the fuzzing server at base for agent, then has it
// write the reports.
func run(base, agent string, out io.Writer) error {
	base = strings.TrimSuffix(base, "/")
	var count string
	if _, err := session(base+"/getCaseCount", func(c *ws.Conn, m *ws.Message) { count = string(m.Payload) }); err != nil {
		return fmt.Errorf("getCaseCount: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 0 {
		return fmt.Errorf("getCaseCount answered %q", count)
	}
	a := url.QueryEscape(agent)
	for i := 1; i <= n; i++ {
		code, err := session(fmt.Sprintf("%s/runCase?case=%d&agent=%s", base, i, a), func(c *ws.Conn, m *ws.Message) {
			c.Send(m.Opcode, m.Payload)
		})
		if err != nil {
			fmt.Fprintf(out, "case %d: %v\n", i, err)
			continue
		}
		fmt.Fprintf(out, "case %d: closed %d\n", i, code)
	}
	if _, err := session(base+"/updateReports?agent="+a, nil); err != nil {
		return fmt.Errorf("updateReports: %w", err)
	}
	return nil
}

// session opens a connection to u on a loop of its own, hands each message
// to onMessage, and returns the close code once the connection is over.
func session(u string, onMessage func(*ws.Conn, *ws.Message)) (ws.CloseCode, error) {
	loop := ws.NewLoop()
	c, err := client.Dial(context.Background(), u, testeeConfig(), loop)
	if err != nil {
		return 0, err
	}
	if onMessage != nil {
		c.OnMessage(onMessage)
	}
	var code ws.CloseCode
	c.OnClose(func(_ *ws.Conn, cc ws.CloseCode, _ string) { code = cc })
	if err := loop.Run(); err != nil { // until the connection is over
		return 0, err
	}
	return code, nil
}
