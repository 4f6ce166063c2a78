package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
)

// startEcho builds and starts examples/echo on a free port of 127.0.0.1
// with args, and returns its URL; the cleanup stops the process.
func startEcho(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echo")
	build := exec.Command("go", "build", "-o", bin, "unievent.dev/examples/echo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/echo: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(wstest.WaitTimeout):
			cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		url, ok := strings.CutPrefix(strings.TrimSpace(s), "listening on ")
		if !ok {
			t.Fatalf("echo printed %q", s)
		}
		return url
	case <-time.After(wstest.WaitTimeout):
		t.Fatal("echo did not start listening")
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for the command's goroutines and the
// test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// session runs the command with args against url: it writes lines to its
// input, waits until they all came back, then ends the input; it returns
// the exit status, the output and the diagnostics.
func session(t *testing.T, url string, lines []string, args ...string) (int, string, string) {
	t.Helper()
	in, inw := io.Pipe()
	var out, errs syncBuffer
	status := make(chan int, 1)
	go func() { status <- run(append(args, url), in, &out, &errs) }()
	for _, l := range lines {
		io.WriteString(inw, l+"\n")
	}
	want := strings.Join(lines, "\n") + "\n"
	wstest.WaitFor(t, "the echoes", func() bool { return out.String() == want || strings.Contains(errs.String(), "closed") })
	inw.Close()
	select {
	case s := <-status:
		return s, out.String(), errs.String()
	case <-time.After(wstest.WaitTimeout):
		t.Fatalf("the command did not exit; diagnostics:\n%s", errs.String())
	}
	return 0, "", ""
}

func TestLinesEchoed(t *testing.T) {
	url := startEcho(t)
	lines := []string{"hello", "", "ünïcödé", strings.Repeat("long ", 20000)}
	status, out, errs := session(t, url, lines, "-wait", "10ms", "-H", "X-Test: 1", "-protocol", "a,b")
	if status != 0 {
		t.Errorf("exit status %d, want 0; diagnostics:\n%s", status, errs)
	}
	if want := strings.Join(lines, "\n") + "\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	if !strings.Contains(errs, "closed: 1000") || !strings.Contains(errs, "permessage-deflate off") {
		t.Errorf("diagnostics %q, want the connection and its close 1000", errs)
	}
}

func TestDeflate(t *testing.T) {
	url := startEcho(t, "-deflate")
	status, out, errs := session(t, url, []string{strings.Repeat("compress me ", 1000)}, "-wait", "10ms", "-deflate")
	if status != 0 || !strings.Contains(errs, "permessage-deflate on") || !strings.HasPrefix(out, "compress me") {
		t.Errorf("status %d, output %d bytes, diagnostics %q; want 0, the echo, deflate on", status, len(out), errs)
	}
}

func TestUsage(t *testing.T) {
	var errs bytes.Buffer
	if s := run(nil, strings.NewReader(""), io.Discard, &errs); s != 2 || !strings.Contains(errs.String(), "usage") {
		t.Errorf("no URL: status %d, %q; want 2 and the usage", s, errs.String())
	}
	errs.Reset()
	if s := run([]string{"http://127.0.0.1:1/"}, strings.NewReader(""), io.Discard, &errs); s != 1 || !strings.Contains(errs.String(), "invalid WebSocket URL") {
		t.Errorf("bad URL: status %d, %q; want 1 and the reason", s, errs.String())
	}
}
