package autobahn

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"
	"time"
)

// testCase is one case: Autobahn's number (or that of an added family),
// what it sends and what it expects, and the script that plays it.
type testCase struct {
	id   string
	desc string
	run  func(e *env) error
}

// family is a group of cases numbered alike, reported on one line.
type family struct {
	id, name string
	cases    func() []testCase
	// timeout bounds each of its cases: every read, write and wait of a
	// case ends by then, so a hung server fails the case instead of
	// hanging the suite.
	timeout time.Duration
	// parallel bounds how many of its cases run at once (0: as many as
	// -test.parallel lets through); the heavy families move megabytes per
	// case and would only starve each other's timeouts.
	parallel int
}

const (
	quickTimeout = 15 * time.Second
	heavyTimeout = 2 * time.Minute
	fullTimeout  = 15 * time.Minute
)

// heavy is the per-case timeout of the families that move a lot of data.
func heavy() time.Duration {
	if *full {
		return fullTimeout
	}
	return heavyTimeout
}

// families lists the families in report order: Autobahn's, then the ones
// it leaves out.
func families() []family {
	return []family{
		{id: "1", name: "framing", cases: framingCases, timeout: quickTimeout},
		{id: "2", name: "pings and pongs", cases: pingCases, timeout: quickTimeout},
		{id: "3", name: "reserved bits", cases: reservedBitCases, timeout: quickTimeout},
		{id: "4", name: "opcodes", cases: opcodeCases, timeout: quickTimeout},
		{id: "5", name: "fragmentation", cases: fragmentationCases, timeout: quickTimeout},
		{id: "6", name: "UTF-8 handling", cases: utf8Cases, timeout: quickTimeout},
		{id: "7", name: "close handling", cases: closeCases, timeout: quickTimeout},
		{id: "9", name: "limits and performance", cases: limitCases, timeout: heavy(), parallel: 2},
		{id: "10", name: "auto-fragmentation", cases: autoFragmentationCases, timeout: quickTimeout},
		{id: "12", name: "compression, payloads", cases: compressionPayloadCases, timeout: heavy(), parallel: 4},
		{id: "13", name: "compression, parameters", cases: compressionParameterCases, timeout: heavy(), parallel: 4},
		{id: "H", name: "opening handshake", cases: handshakeCases, timeout: quickTimeout},
		{id: "P", name: "permessage-deflate offers", cases: offerCases, timeout: quickTimeout},
		{id: "F", name: "framing Autobahn leaves out", cases: strictCases, timeout: quickTimeout},
	}
}

// TestConformance starts the testee's configuration on a loopback port and
// plays every family against it, one family after the other, the cases
// of a family in parallel.
func TestConformance(t *testing.T) {
	srv := startServer(t)
	runFamilies(t, families(), tally, func(c testCase, timeout time.Duration) error {
		return play(srv.Addr, c, timeout)
	})
}

// runFamilies runs fams one after the other, the cases of a family in
// parallel, each with play, and counts the outcomes in r.
func runFamilies(t *testing.T, fams []family, r *results, play func(c testCase, timeout time.Duration) error) {
	for _, fam := range fams {
		start := time.Now()
		t.Run(fam.id, func(t *testing.T) {
			var slots chan struct{}
			if fam.parallel > 0 {
				slots = make(chan struct{}, fam.parallel)
			}
			for _, c := range fam.cases() {
				t.Run(c.id, func(t *testing.T) {
					t.Parallel()
					if slots != nil {
						slots <- struct{}{}
						defer func() { <-slots }()
					}
					err := play(c, fam.timeout)
					r.record(fam.id, fam.name, err == nil)
					if err != nil {
						t.Errorf("case %s (%s): %v", c.id, c.desc, err)
					}
				})
			}
		})
		// t.Run returns once the family's parallel cases are done.
		r.took(fam.id, time.Since(start))
	}
}

// play runs one case with its own deadline, and closes whatever it left
// open.
func play(addr string, c testCase, timeout time.Duration) (err error) {
	e := &env{addr: addr, deadline: time.Now().Add(timeout)}
	defer e.cleanup()
	start := time.Now()
	err = c.run(e)
	if err != nil && time.Now().After(e.deadline) {
		err = fmt.Errorf("timed out after %v: %w", time.Since(start).Round(time.Millisecond), err)
	}
	return err
}

// results counts passes and failures per family for the closing report
// of one side of the suite.
type results struct {
	label    string   // "" for the server, "client" for the client side
	ranks    []string // the families in report order
	mu       sync.Mutex
	order    []string
	names    map[string]string
	passed   map[string]int
	failed   map[string]int
	elapsed  map[string]time.Duration
	anything bool
}

var (
	tally       = newResults("", families())
	clientTally = newResults("client", clientFamilies())
)

func newResults(label string, fams []family) *results {
	r := &results{label: label, names: map[string]string{}, passed: map[string]int{}, failed: map[string]int{}, elapsed: map[string]time.Duration{}}
	for _, f := range fams {
		r.ranks = append(r.ranks, f.id)
	}
	return r
}

func (r *results) took(id string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.elapsed[id] = d
}

func (r *results) record(id, name string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.names[id]; !seen {
		r.names[id] = name
		r.order = append(r.order, id)
	}
	r.anything = true
	if ok {
		r.passed[id]++
	} else {
		r.failed[id]++
	}
}

// print writes one line per family that ran and the closing line; nothing
// when no case ran (another test was selected). The client side's lines
// read "autobahn client 1.x ..." and "conformance (client): ...".
func (r *results) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.anything {
		return
	}
	rank := map[string]int{}
	for i, id := range r.ranks {
		rank[id] = i
	}
	prefix, closing := "autobahn", "conformance:"
	if r.label != "" {
		prefix, closing = "autobahn "+r.label, "conformance ("+r.label+"):"
	}
	order := append([]string(nil), r.order...)
	sort.Slice(order, func(i, j int) bool { return rank[order[i]] < rank[order[j]] })
	var pass, fail int
	for _, id := range order {
		p, f := r.passed[id], r.failed[id]
		pass, fail = pass+p, fail+f
		label := id + ".x"
		fmt.Fprintf(w, "%s %-5s %-30s %4d cases %4d passed %4d failed %7.1fs\n", prefix, label, r.names[id], p+f, p, f, r.elapsed[id].Seconds())
	}
	if *full {
		fmt.Fprintf(w, "%s: full sizes (-autobahn.full)\n", prefix)
	} else {
		fmt.Fprintf(w, "%s: scaled sizes (case 9 at 1/16; cases 12 and 13 send up to 64 messages, about 128 KiB, each)\n", prefix)
	}
	fmt.Fprintf(w, "%s %d passed, %d failed\n", closing, pass, fail)
}
