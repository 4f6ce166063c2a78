// Command goclients runs the Go WebSocket clients gorilla/websocket and
// coder/websocket against examples/echo (plain and -deflate) and
// examples/chat, printing one PASS/FAIL line per case. It is its own
// module so that the project's go.mod stays free of dependencies.
//
//	go run . -plain ws://H:P/ -deflate ws://H:P/ -chat ws://H:P/ws
//
// It exits 1 if any case failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// sizes is the payload size matrix of every client.
var sizes = []int{0, 125, 126, 65535, 65536, 1 << 20}

type urls struct{ plain, deflate, chat string }

func main() {
	var u urls
	flag.StringVar(&u.plain, "plain", "", "URL of examples/echo")
	flag.StringVar(&u.deflate, "deflate", "", "URL of examples/echo -deflate")
	flag.StringVar(&u.chat, "chat", "", "URL of examples/chat's WebSocket endpoint (/ws)")
	only := flag.String("client", "", "run only this client (gorilla or coder)")
	hold := flag.String("hold", "", "instead of the suites: connect with gorilla to this URL, print \"connected\" and expect the server to close with 1001 (its shutdown) as case `-label`")
	label := flag.String("label", "stop-1001", "case name for -hold")
	flag.Parse()
	if *hold != "" {
		s := &suite{client: "gorilla"}
		holdUntilShutdown(s, *label, *hold)
		if s.failed > 0 {
			os.Exit(1)
		}
		return
	}
	if u.plain == "" || u.deflate == "" || u.chat == "" {
		fmt.Fprintln(os.Stderr, "goclients: -plain, -deflate and -chat are required")
		os.Exit(2)
	}
	failed := 0
	if *only == "" || *only == "gorilla" {
		s := &suite{client: "gorilla"}
		gorillaSuite(s, u)
		failed += s.failed
	}
	if *only == "" || *only == "coder" {
		s := &suite{client: "coder"}
		coderSuite(s, u)
		failed += s.failed
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// caseTimeout bounds every case: a hung server is a failure, not a hang.
var caseTimeout = func() time.Duration {
	if ms, err := strconv.Atoi(os.Getenv("INTEROP_CASE_TIMEOUT_MS")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return 20 * time.Second
}()

type suite struct {
	client         string
	passed, failed int
}

// run runs f with a context that ends after caseTimeout. A case that does
// not return by then is reported as failed and left behind: its
// connection's deadlines (set from ctx) end it.
func (s *suite) run(name string, f func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- f(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("timed out after %v", caseTimeout)
	}
	if err != nil {
		s.failed++
		fmt.Printf("FAIL %s %s: %s\n", s.client, name, strings.Join(strings.Fields(err.Error()), " "))
		return
	}
	s.passed++
	fmt.Printf("PASS %s %s\n", s.client, name)
}

// payload returns n deterministic bytes, pseudo-random over 64 symbols
// with runs, so that deflate has work to do.
func payload(n, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if x&0x80 == 0 && i > 0 {
			b[i] = b[i-1]
		} else {
			b[i] = 0x30 + byte(x&0x3f)
		}
	}
	return b
}

// utf8Text returns exactly n bytes of valid UTF-8 made of 1- to 4-byte
// characters.
func utf8Text(n int) []byte {
	chars := []string{"a", "é", "ж", "€", "日", "🎉", " ", "z"}
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		c := chars[i%len(chars)]
		if len(b)+len(c) > n {
			c = "x"
		}
		b = append(b, c...)
	}
	if !utf8.Valid(b) {
		panic("utf8Text")
	}
	return b
}

// same reports how got differs from want, or nil.
func same(got, want []byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("echo has %d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("echo differs at byte %d", i)
		}
	}
	return nil
}

// wantExtensions checks a Sec-WebSocket-Extensions response header.
func wantExtensions(got string, want []string) error {
	if want == nil {
		if got != "" {
			return fmt.Errorf("extensions %q, want none", got)
		}
		return nil
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			return fmt.Errorf("extensions %q lack %s", got, w)
		}
	}
	return nil
}

var errNoClose = errors.New("no close frame from the server")
