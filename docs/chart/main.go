// Command chart draws docs/performance.svg: for every row of a
// ../shared/bench run (scenario × metric), unievent's median over the
// repetitions divided by the best peer's median, oriented so that a ratio
// above 1 means unievent is better, with a whisker for the spread of
// unievent's repetitions.
//
//	go run ./docs/chart [results/<timestamp>/raw.jsonl ...] > docs/performance.svg
//
// Several runs are drawn one below the other. Without an argument it reads
// the newest
// $XDG_CACHE_HOME/unievent-bench/results/*/raw.jsonl. The medians and the
// metrics of each scenario are those of the bench's report.md.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// project is the server name the bench gives unievent's examples/echo.
const project = "unievent"

// result is the part of one raw.jsonl line (one scenario, server and
// repetition) that the chart reads.
type result struct {
	Scenario           string  `json:"scenario"`
	Server             string  `json:"server"`
	Mode               string  `json:"mode"`
	Status             string  `json:"status"`
	Conns              int     `json:"conns"`
	Window             int     `json:"window"`
	Size               int     `json:"size"`
	Payload            string  `json:"payload"`
	Deflate            bool    `json:"deflate"`
	Subscribers        int     `json:"subscribers"`
	MsgsPerSec         float64 `json:"msgs_per_s"`
	MBPerSec           float64 `json:"mb_per_s"`
	SrvUsPerMsg        float64 `json:"srv_us_per_msg"`
	IdleBytesPerConn   float64 `json:"idle_bytes_per_conn"`
	ActiveBytesPerConn float64 `json:"active_bytes_per_conn"`
	ConnsPerSec        float64 `json:"conns_per_s"`
	SrvUsPerConn       float64 `json:"srv_us_per_conn"`
	DeliveriesPerSec   float64 `json:"deliveries_per_s"`
	SrvUsPerDelivery   float64 `json:"srv_us_per_delivery"`
	LatP99Us           float64 `json:"lat_p99_us"`
}

// metric is one figure of a scenario, as report.md lists it.
type metric struct {
	name   string
	higher bool // higher is better (↑); otherwise lower is (↓)
	get    func(result) float64
}

func metricsFor(r result) []metric {
	switch r.Mode {
	case "echo":
		ms := []metric{{"msg/s ↑", true, func(r result) float64 { return r.MsgsPerSec }}}
		if r.Size >= 1024 {
			ms = append(ms, metric{"MB/s ↑", true, func(r result) float64 { return r.MBPerSec }})
		}
		return append(ms, metric{"server CPU µs/msg ↓", false, func(r result) float64 { return r.SrvUsPerMsg }})
	case "idle":
		return []metric{
			{"RSS/conn idle ↓", false, func(r result) float64 { return r.IdleBytesPerConn }},
			{"RSS/conn after 1 msg ↓", false, func(r result) float64 { return r.ActiveBytesPerConn }},
		}
	case "churn":
		return []metric{
			{"conn/s ↑", true, func(r result) float64 { return r.ConnsPerSec }},
			{"server CPU µs/conn ↓", false, func(r result) float64 { return r.SrvUsPerConn }},
		}
	case "fanout":
		return []metric{
			{"deliveries/s ↑", true, func(r result) float64 { return r.DeliveriesPerSec }},
			{"server CPU µs/delivery ↓", false, func(r result) float64 { return r.SrvUsPerDelivery }},
			{"latency p99 ↓", false, func(r result) float64 { return r.LatP99Us }},
		}
	}
	return nil
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func describe(r result) string {
	switch r.Mode {
	case "echo":
		d := fmt.Sprintf("%d conns, %d in flight, %s", r.Conns, r.Window, sizeName(r.Size))
		if r.Deflate {
			d += " deflate"
		}
		return d
	case "idle":
		return fmt.Sprintf("%d idle conns", r.Conns)
	case "churn":
		return fmt.Sprintf("%d workers", r.Conns)
	case "fanout":
		d := fmt.Sprintf("%d subs, %s", r.Subscribers, sizeName(r.Size))
		if r.Deflate {
			d += " deflate"
		}
		return d
	}
	return r.Mode
}

// row is one line of the chart.
type row struct {
	scenario, label string
	best            string  // the best peer; "" when unievent or every peer lacks a figure
	ratio           float64 // unievent's median against the best peer's, > 1 is better
	lo, hi          float64 // the same for unievent's worst and best repetition
}

// figures returns a server's values of m in scenario sc: repetitions that
// succeeded, and those with errors that still measured something, as
// report.md counts them.
func figures(rs []result, m metric) []float64 {
	var v []float64
	for _, r := range rs {
		if x := m.get(r); r.Status == "ok" || (r.Status != "unsupported" && x > 0) {
			v = append(v, x)
		}
	}
	return v
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rows computes the chart's rows from a run's results, in the order the
// scenarios appear.
func rows(results []result) []row {
	var scenarios []string
	first := map[string]result{}
	by := map[string]map[string][]result{} // scenario → server → repetitions
	for _, r := range results {
		if by[r.Scenario] == nil {
			scenarios = append(scenarios, r.Scenario)
			by[r.Scenario] = map[string][]result{}
		}
		if f, ok := first[r.Scenario]; !ok || (f.Status != "ok" && r.Status == "ok") {
			first[r.Scenario] = r
		}
		by[r.Scenario][r.Server] = append(by[r.Scenario][r.Server], r)
	}
	var out []row
	for _, sc := range scenarios {
		servers := slices.Sorted(func(yield func(string) bool) {
			for s := range by[sc] {
				if !yield(s) {
					return
				}
			}
		})
		for _, m := range metricsFor(first[sc]) {
			// better orients a pair of values so that > 1 favours a.
			better := func(a, b float64) float64 {
				if m.higher {
					return a / b
				}
				return b / a
			}
			rw := row{scenario: sc, label: fmt.Sprintf("%s %s · %s", sc, describe(first[sc]), m.name)}
			var bestMed float64
			for _, s := range servers {
				v := figures(by[sc][s], m)
				if s == project || len(v) == 0 {
					continue
				}
				if med := median(v); med > 0 && (rw.best == "" || better(med, bestMed) > 1) {
					rw.best, bestMed = s, med
				}
			}
			own := figures(by[sc][project], m)
			if rw.best == "" || len(own) == 0 || slices.Min(own) <= 0 {
				rw.best = ""
				out = append(out, rw)
				continue
			}
			rw.ratio = better(median(own), bestMed)
			a, b := better(slices.Min(own), bestMed), better(slices.Max(own), bestMed)
			rw.lo, rw.hi = min(a, b), max(a, b)
			out = append(out, rw)
		}
	}
	return out
}

func read(in io.Reader) ([]result, error) {
	var rs []result
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

// newest returns the raw.jsonl of the newest bench results directory.
func newest() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	// The directories are named by UTC timestamp, so the last sorts newest.
	found, _ := filepath.Glob(filepath.Join(cache, "unievent-bench", "results", "*", "raw.jsonl"))
	if len(found) == 0 {
		return "", errors.New("no raw.jsonl under " + filepath.Join(cache, "unievent-bench", "results"))
	}
	return slices.Max(found), nil
}

// extraServers returns the servers the run's command added with
// --server NAME=BIN, read from the facts.txt beside raw.jsonl.
func extraServers(path string) map[string]bool {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "facts.txt"))
	if err != nil {
		return nil
	}
	extra := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		if k != "command" {
			continue
		}
		f := strings.Fields(v)
		for i, a := range f {
			spec, ok := strings.CutPrefix(a, "--server=")
			if !ok && a == "--server" && i+1 < len(f) {
				spec, ok = f[i+1], true
			}
			if name, _, found := strings.Cut(spec, "="); ok && found {
				extra[name] = true
			}
		}
	}
	return extra
}

// caption returns the run's date, project revision and command from the
// facts.txt the bench writes beside raw.jsonl, or the path when it is absent.
func caption(path string) string {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "facts.txt"))
	if err != nil {
		return filepath.Base(filepath.Dir(path))
	}
	var date, rev, cmd string
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "date":
			date = v
		case "command":
			cmd = v
		case "project":
			if i := strings.LastIndex(v, "("); i >= 0 {
				rev = strings.Trim(v[i:], "()")
			}
		}
	}
	return fmt.Sprintf("run of %s at %s: %s", date, rev, cmd)
}

func main() {
	paths := os.Args[1:]
	if len(paths) == 0 {
		p, err := newest()
		if err != nil {
			fmt.Fprintln(os.Stderr, "chart:", err)
			os.Exit(1)
		}
		paths = []string{p}
	}
	// Several runs (say, the echo run and the fan-out run of record) are
	// drawn one below the other, each row against peers of its own run.
	var all []row
	var captions []string
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chart:", err)
			os.Exit(1)
		}
		rs, err := read(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "chart: %s: %v\n", path, err)
			os.Exit(1)
		}
		// Servers the run added with --server NAME=BIN (an older build of
		// unievent, say) are not peers.
		extra := extraServers(path)
		rs = slices.DeleteFunc(rs, func(r result) bool { return extra[r.Server] })
		all = append(all, rows(rs)...)
		captions = append(captions, caption(path))
	}
	w := bufio.NewWriter(os.Stdout)
	draw(w, all, captions)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}
