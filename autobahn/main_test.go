// Package autobahn holds the in-repo conformance suite: Go tests that play
// the case families of the Autobahn|Testsuite fuzzing client (1.x to 13.x,
// numbered as in its reports) against the testee's configuration, and
// those of its fuzzing server against the client testee's, with
// Autobahn's grading made strict, plus the cases Autobahn leaves out
// (families H, P and F). Run it with
//
//	go test ./autobahn/                    # scaled sizes
//	go test ./autobahn/ -autobahn.full     # case 9 at full size, 1000 messages in 12 and 13
//	go test ./autobahn/ -run 'Conformance/6/6.4'
//
// The client side (TestClientConformance) plays the server's part of the
// same families against ws/client. It prints one line per family and a
// closing "conformance: N passed, N failed" line, then the same for the
// client ("autobahn client ...", "conformance (client): ..."). Under
// "go test ./..." (package list mode) go test shows a passing package's
// output only with -v.
package autobahn

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

var full = flag.Bool("autobahn.full", false, "run case 9 at Autobahn's full sizes and cases 12 and 13 with Autobahn's 1000 messages each")

// defaultParallel is how many cases run at once unless -test.parallel is
// given: most cases spend their time waiting (pauses, round trips), so
// many more than GOMAXPROCS of them fit; the heavy families limit
// themselves further (family.parallel).
const defaultParallel = 64

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", fmt.Sprint(defaultParallel))
	}
	code := m.Run()
	// Printed after m.Run so that plain "go test" in this directory shows
	// it even when every test passed.
	tally.print(os.Stdout)
	clientTally.print(os.Stdout)
	os.Exit(code)
}
