package nats

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// natsServerBin is the nats-server the tests run: $UNIEVENT_NATS_SERVER
// when .ci/run built one, else one TestMain builds from the module's tool
// dependency (github.com/nats-io/nats-server/v2, cached by the go build
// cache).
var natsServerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "unievent-nats-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	natsServerBin = os.Getenv("UNIEVENT_NATS_SERVER")
	if natsServerBin == "" {
		natsServerBin = filepath.Join(dir, "nats-server")
		cmd := exec.Command("go", "build", "-o", natsServerBin, "github.com/nats-io/nats-server/v2")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build nats-server:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// natsServer is a nats-server process on 127.0.0.1: clients on port,
// monitoring (/varz) on httpPort.
type natsServer struct {
	t              testing.TB
	port, httpPort int
	conf           string
	cmd            *exec.Cmd
	exited         chan struct{}
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNATS runs a nats-server on free ports of 127.0.0.1, stopped by the
// test's cleanup.
func startNATS(t testing.TB) *natsServer {
	t.Helper()
	n := &natsServer{t: t, port: freePort(t), httpPort: freePort(t)}
	n.conf = filepath.Join(t.TempDir(), "nats.conf")
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n", n.port, n.httpPort)
	if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.start()
	t.Cleanup(n.stop)
	return n
}

// start runs the process and waits until it answers on its monitoring
// port.
func (n *natsServer) start() {
	n.t.Helper()
	n.cmd = exec.Command(natsServerBin, "-c", n.conf)
	if os.Getenv("UNIEVENT_NATS_LOG") != "" {
		n.cmd.Stderr = os.Stderr
	}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	exited := make(chan struct{})
	n.exited = exited
	go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(n.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := n.varz(); err == nil {
			return
		}
		select {
		case <-exited:
			n.t.Fatal("nats-server exited at start")
		default:
		}
		if time.Now().After(deadline) {
			n.stop()
			n.t.Fatal("nats-server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop kills the process (by its PID: SIGKILL, as a crash) and waits for
// it to end.
func (n *natsServer) stop() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// varz is the part of nats-server's /varz the tests read.
type varz struct {
	InMsgs        uint64 `json:"in_msgs"`
	OutMsgs       uint64 `json:"out_msgs"`
	Connections   int    `json:"connections"`
	Subscriptions uint64 `json:"subscriptions"`
}

func (n *natsServer) varz() (varz, error) {
	var v varz
	// No keep-alive: the leak checks count goroutines and descriptors.
	c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", n.httpPort))
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("/varz: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v, err
}

// mustVarz is varz for a test that needs it.
func (n *natsServer) mustVarz() varz {
	n.t.Helper()
	v, err := n.varz()
	if err != nil {
		n.t.Fatal(err)
	}
	return v
}
