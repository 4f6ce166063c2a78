package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// run is a small raw.jsonl: e3 with three repetitions of unievent and two
// peers, an idle row (lower is better), and a fan-out scenario unievent
// does not support.
const run = `
{"scenario":"e3","server":"gorilla","rep":1,"mode":"echo","status":"ok","conns":500,"window":1,"size":1024,"msgs_per_s":100,"mb_per_s":10,"srv_us_per_msg":20}
{"scenario":"e3","server":"gws","rep":1,"mode":"echo","status":"ok","conns":500,"window":1,"size":1024,"msgs_per_s":200,"mb_per_s":20,"srv_us_per_msg":10}
{"scenario":"e3","server":"unievent","rep":1,"mode":"echo","status":"ok","conns":500,"window":1,"size":1024,"msgs_per_s":180,"mb_per_s":18,"srv_us_per_msg":8}
{"scenario":"e3","server":"unievent","rep":2,"mode":"echo","status":"ok","conns":500,"window":1,"size":1024,"msgs_per_s":300,"mb_per_s":30,"srv_us_per_msg":5}
{"scenario":"e3","server":"unievent","rep":3,"mode":"echo","status":"ok","conns":500,"window":1,"size":1024,"msgs_per_s":240,"mb_per_s":24,"srv_us_per_msg":20}
not json: the bench's log lines are skipped
{"scenario":"idle","server":"nbio","rep":1,"mode":"idle","status":"ok","conns":2000,"idle_bytes_per_conn":1000,"active_bytes_per_conn":2000}
{"scenario":"idle","server":"gws","rep":1,"mode":"idle","status":"ok","conns":2000,"idle_bytes_per_conn":4000,"active_bytes_per_conn":1000}
{"scenario":"idle","server":"unievent","rep":1,"mode":"idle","status":"ok","conns":2000,"idle_bytes_per_conn":2000,"active_bytes_per_conn":500}
{"scenario":"f1","server":"gws","rep":1,"mode":"fanout","status":"ok","subscribers":1000,"size":64,"deliveries_per_s":1000,"srv_us_per_delivery":2,"lat_p99_us":10}
{"scenario":"f1","server":"unievent","rep":1,"mode":"fanout","status":"unsupported"}
`

func TestRows(t *testing.T) {
	rs, err := read(strings.NewReader(run))
	if err != nil {
		t.Fatal(err)
	}
	got := rows(rs)
	want := []row{
		// msg/s ↑: median 240 against gws's 200; reps 180..300.
		{scenario: "e3", label: "e3 500 conns, 1 in flight, 1 KiB · msg/s ↑", best: "gws", ratio: 1.2, lo: 0.9, hi: 1.5},
		{scenario: "e3", label: "e3 500 conns, 1 in flight, 1 KiB · MB/s ↑", best: "gws", ratio: 1.2, lo: 0.9, hi: 1.5},
		// CPU ↓: best peer gws (10 µs) against median 8 µs; reps 5..20.
		{scenario: "e3", label: "e3 500 conns, 1 in flight, 1 KiB · server CPU µs/msg ↓", best: "gws", ratio: 1.25, lo: 0.5, hi: 2},
		// ↓ rows pick the lowest peer, which differs per metric.
		{scenario: "idle", label: "idle 2000 idle conns · RSS/conn idle ↓", best: "nbio", ratio: 0.5, lo: 0.5, hi: 0.5},
		{scenario: "idle", label: "idle 2000 idle conns · RSS/conn after 1 msg ↓", best: "gws", ratio: 2, lo: 2, hi: 2},
		{scenario: "f1", label: "f1 1000 subs, 64 B · deliveries/s ↑"},
		{scenario: "f1", label: "f1 1000 subs, 64 B · server CPU µs/delivery ↓"},
		{scenario: "f1", label: "f1 1000 subs, 64 B · latency p99 ↓"},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(row{}), cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
}

func TestReadRejectsBadJSON(t *testing.T) {
	if _, err := read(strings.NewReader(`{"scenario":`)); err == nil {
		t.Error("read accepted a truncated JSON object")
	}
}

func TestDrawIsValidSVG(t *testing.T) {
	rs, err := read(strings.NewReader(run))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	draw(&b, rows(rs), []string{`run of <today> & "now"`, "second run"})
	d := xml.NewDecoder(strings.NewReader(b.String()))
	var circles, texts int
	var root string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v\n%s", err, b.String())
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Space + " " + se.Name.Local
			}
			switch se.Name.Local {
			case "circle":
				circles++
			case "text":
				texts++
			}
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q, want svg in the SVG namespace", root)
	}
	if circles != 5 {
		t.Errorf("%d dots, want one per row with a figure (5)", circles)
	}
	if !strings.Contains(b.String(), "1.20× vs gws") || !strings.Contains(b.String(), "no figure") {
		t.Errorf("SVG lacks the ratio or the no-figure label:\n%s", b.String())
	}
}

func TestTick(t *testing.T) {
	for v, want := range map[float64]string{0.25: "1/4", 1: "1", 8: "8"} {
		if got := tick(v); got != want {
			t.Errorf("tick(%g) = %q, want %q", v, got, want)
		}
	}
}

// Servers a run added with --server are unievent's own builds, not peers.
func TestExtraServersAreNotPeers(t *testing.T) {
	dir := t.TempDir()
	facts := "date:     2026-12-08 04:21:44 UTC\ncommand:  ../shared/bench/run.sh --project . --server old=/tmp/echo-old --server=p1=/tmp/p1 --out /tmp/x\n"
	if err := os.WriteFile(filepath.Join(dir, "facts.txt"), []byte(facts), 0o644); err != nil {
		t.Fatal(err)
	}
	got := extraServers(filepath.Join(dir, "raw.jsonl"))
	if len(got) != 2 || !got["old"] || !got["p1"] {
		t.Errorf("extraServers = %v, want old and p1", got)
	}
	if got := extraServers(filepath.Join(t.TempDir(), "raw.jsonl")); len(got) != 0 {
		t.Errorf("without facts.txt: %v", got)
	}
}
