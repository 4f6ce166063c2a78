// Command client is a small WebSocket client in the manner of wscat: it
// connects to a ws:// or wss:// URL, sends every line of standard input as
// a text message, and prints every message that arrives on a line of its
// own (a binary one as "binary: " and its bytes in hex).
//
//	go run ./examples/client [flags] ws://HOST:PORT/PATH
//
// At the end of standard input it waits until no message has arrived for
// -wait, then closes the connection with 1000 and exits. It exits with 0
// when the connection ended with a normal closure (1000) and 1 otherwise;
// a refused handshake prints the server's status and body. Flags:
//
//	-H "Name: value"  an extra request header field (repeatable)
//	-origin URL       the Origin header
//	-protocol a,b     the subprotocols to offer
//	-deflate          offer permessage-deflate
//	-insecure         accept any TLS certificate (for testing only)
//	-wait 1s          how long to wait for replies at the end of input
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
	"unievent.dev/ws/frame"
	"unievent.dev/ws/permessagedeflate"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// headerFlag collects -H flags.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return errors.New(`want "Name: value"`)
	}
	f.h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// run is the command with its arguments and streams; it returns the exit
// status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	header := &headerFlag{h: http.Header{}}
	fs.Var(header, "H", `extra request header field "Name: value" (repeatable)`)
	origin := fs.String("origin", "", "Origin header")
	protocols := fs.String("protocol", "", "comma-separated subprotocols to offer")
	deflate := fs.Bool("deflate", false, "offer permessage-deflate")
	insecure := fs.Bool("insecure", false, "accept any TLS certificate (testing only)")
	wait := fs.Duration("wait", time.Second, "at the end of input, close once no message arrived for this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: client [flags] ws://HOST:PORT/PATH")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}

	cfg := &client.Config{Header: header.h, Origin: *origin}
	if *protocols != "" {
		cfg.Protocols = strings.Split(*protocols, ",")
	}
	if *deflate {
		cfg.Deflate = &permessagedeflate.Config{}
	}
	if *insecure {
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	loop := ws.NewLoop()
	c, err := client.Dial(context.Background(), fs.Arg(0), cfg, loop)
	if err != nil {
		var he *client.HandshakeError
		if errors.As(err, &he) && len(he.Body) > 0 {
			fmt.Fprintf(stderr, "client: %v\n%s\n", err, he.Body)
		} else {
			fmt.Fprintf(stderr, "client: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stderr, "connected to %s (subprotocol %q, permessage-deflate %s)\n",
		fs.Arg(0), c.Protocol(), onOff(c.Deflate() != nil))

	q := &quiet{}
	q.heard()
	out := bufio.NewWriter(stdout)
	c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
		q.heard()
		if m.IsText() {
			out.Write(m.Payload)
		} else {
			fmt.Fprintf(out, "binary: %x", m.Payload)
		}
		out.WriteByte('\n')
		out.Flush()
	})
	status := 1
	c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) {
		if code == frame.CloseNormal {
			status = 0
		}
		fmt.Fprintf(stderr, "closed: %d %s\n", code, reason)
	})

	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 0, 64<<10), ws.DefaultConfig().MaxMessageSize)
		for sc.Scan() {
			if c.SendText(sc.Text()) != nil {
				return // closed meanwhile; the close event says why
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "client: reading input: %v\n", err)
		}
		q.waitQuiet(*wait)
		c.Close(frame.CloseNormal, "")
	}()

	if err := loop.Run(); err != nil { // until the connection is over
		fmt.Fprintf(stderr, "client: %v\n", err)
		return 1
	}
	return status
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// quiet tracks when the last message arrived.
type quiet struct {
	mu   sync.Mutex
	last time.Time
}

func (q *quiet) heard() {
	q.mu.Lock()
	q.last = time.Now()
	q.mu.Unlock()
}

// waitQuiet returns once no message has arrived for d.
func (q *quiet) waitQuiet(d time.Duration) {
	for {
		q.mu.Lock()
		left := d - time.Since(q.last)
		q.mu.Unlock()
		if left <= 0 {
			return
		}
		time.Sleep(left)
	}
}
