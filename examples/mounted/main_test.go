package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws/frame"
)

const wait = 5 * time.Second

func TestMounted(t *testing.T) {
	r := servertest.Start(t, servertest.Options{}, newEcho)
	srv := r.Server
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: routes(srv), ReadHeaderTimeout: wait}
	go hs.Serve(ln)
	defer hs.Close()
	addr := ln.Addr().String()

	client := &http.Client{Timeout: wait, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "The echo endpoint is ws://" + addr + "/ws"},
		{"/ws", http.StatusUpgradeRequired, ""},
		{"/other", 404, ""},
	} {
		resp, err := client.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}

	c, err := wstest.Dial(addr, "/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, op := range []byte{1, 2} {
		p := bytes.Repeat([]byte("echo"), 1000)
		if err := c.WriteMessage(op, p); err != nil {
			t.Fatal(err)
		}
		gotOp, got, _, err := c.ReadMessage(wait)
		if err != nil || gotOp != op || !bytes.Equal(got, p) {
			t.Fatalf("opcode %d: got opcode %d, %d bytes, %v", op, gotOp, len(got), err)
		}
	}

	hs.Close()
	srv.Stop(frame.CloseAway)
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1001 {
		t.Fatalf("after Stop: close %d, %v; want 1001", code, err)
	}
	c.WriteFrame(true, 8, wstest.ClosePayload(1001, ""))
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
}
