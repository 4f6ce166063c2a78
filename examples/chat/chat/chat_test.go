package chat

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/metrics"
	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

const wait = 5 * time.Second

func TestParseMessage(t *testing.T) {
	cases := []struct {
		in      string
		want    message
		wantErr bool
	}{
		{in: `{"name":"alice","text":"hi"}`, want: message{Name: "alice", Text: "hi"}},
		{in: `{"text":"hi"}`, want: message{Name: "anonymous", Text: "hi"}},
		{in: ` {"name":"  bob ","text":"  two\nlines\t "} `, want: message{Name: "bob", Text: "two\nlines"}},
		{in: `{"name":"a\u0000b\nc","text":"x\u0007y"}`, want: message{Name: "abc", Text: "xy"}},
		{in: `{"name":"` + strings.Repeat("é", 32) + `","text":"ok"}`, want: message{Name: strings.Repeat("é", 32), Text: "ok"}},
		{in: `{"name":"` + strings.Repeat("é", 33) + `","text":"ok"}`, wantErr: true},
		{in: `{"text":"` + strings.Repeat("ü", 1000) + `"}`, want: message{Name: "anonymous", Text: strings.Repeat("ü", 1000)}},
		{in: `{"text":"` + strings.Repeat("ü", 1001) + `"}`, wantErr: true},
		{in: `{"name":"alice","text":"   "}`, wantErr: true},
		{in: `{"name":"alice"}`, wantErr: true},
		{in: `null`, wantErr: true},
		{in: `{"name":"alice","text":"hi","admin":true}`, wantErr: true},
		{in: `{"name":"alice","text":"hi"} {}`, wantErr: true},
		{in: `{"name":1,"text":"hi"}`, wantErr: true},
		{in: `["alice","hi"]`, wantErr: true},
		{in: `not json`, wantErr: true},
		{in: ``, wantErr: true},
	}
	for _, tc := range cases {
		got, err := parseMessage([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("parseMessage(%q): error %v, want error: %v", tc.in, err, tc.wantErr)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("parseMessage(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

// chat runs the chat server on a loop of its own (servertest).
func chat(t *testing.T) *servertest.Running[*server.Server] {
	t.Helper()
	return servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
		return New(server.Location{Host: "127.0.0.1"}, loop)
	})
}

// next reads the next message and checks that it is text in the room's
// JSON form, encoded by encoding/json (so equal to encode's output).
func next(t *testing.T, c *wstest.Client) message {
	t.Helper()
	op, p, _, err := c.ReadMessage(wait)
	if err != nil {
		t.Fatal(err)
	}
	if op != 1 {
		t.Fatalf("got opcode %d, want a text message", op)
	}
	var m message
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatalf("%q: %v", p, err)
	}
	if string(encode(m)) != string(p) {
		t.Fatalf("got %s, not re-encoded by the server", p)
	}
	return m
}

func send(t *testing.T, c *wstest.Client, s string) {
	t.Helper()
	if err := c.WriteMessage(1, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestRoom(t *testing.T) {
	r := chat(t)
	alice := r.Dial("/ws", nil)
	if d := cmp.Diff(message{Text: "#1 joined (1 online)"}, next(t, alice)); d != "" {
		t.Fatalf("alice's join (-want +got):\n%s", d)
	}
	bob := r.Dial("/ws", nil)
	for _, c := range []*wstest.Client{alice, bob} {
		if d := cmp.Diff(message{Text: "#2 joined (2 online)"}, next(t, c)); d != "" {
			t.Fatalf("bob's join (-want +got):\n%s", d)
		}
	}

	send(t, alice, `{ "text" : "<b>hi</b>", "name": "alice" }`)
	for _, c := range []*wstest.Client{alice, bob} {
		if d := cmp.Diff(message{Name: "alice", Text: "<b>hi</b>"}, next(t, c)); d != "" {
			t.Fatalf("broadcast (-want +got):\n%s", d)
		}
	}

	// A refused line is answered to its sender only: alice gets the
	// refusal, bob's next message is carol's line.
	send(t, alice, `not json`)
	got := next(t, alice)
	if got.Name != "" || !strings.HasPrefix(got.Text, "not sent: ") {
		t.Fatalf("alice got %+v, want a refusal", got)
	}
	send(t, bob, `{"name":"carol","text":"hello"}`)
	for _, c := range []*wstest.Client{alice, bob} {
		if d := cmp.Diff(message{Name: "carol", Text: "hello"}, next(t, c)); d != "" {
			t.Fatalf("after the refusal (-want +got):\n%s", d)
		}
	}

	// Bob leaves (the closing handshake from his side); alice hears of
	// it under the name he last used.
	if err := bob.WriteFrame(true, 8, wstest.ClosePayload(1000, "")); err != nil {
		t.Fatal(err)
	}
	if code, _, err := bob.ExpectClose(wait); err != nil || code != 1000 {
		t.Fatalf("bob's close: %d, %v", code, err)
	}
	bob.Close()
	if d := cmp.Diff(message{Text: "carol (#2) left (1 online)"}, next(t, alice)); d != "" {
		t.Fatalf("leave (-want +got):\n%s", d)
	}

	if err := alice.WriteMessage(2, []byte("binary")); err != nil {
		t.Fatal(err)
	}
	if code, _, err := alice.ExpectClose(wait); err != nil || code != 1003 {
		t.Fatalf("after a binary message: close %d, %v; want 1003", code, err)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	r := chat(t)
	c := r.Dial("/ws", nil)
	next(t, c)
	send(t, c, `{"text":"`+strings.Repeat("x", maxMessageSize)+`"}`)
	if code, _, err := c.ExpectClose(wait); err != nil || code != 1009 {
		t.Fatalf("close %d, %v; want 1009", code, err)
	}
}

// status sends raw as an HTTP request on a new connection to r and
// returns the answer's status.
func status(t *testing.T, r *servertest.Running[*server.Server], raw []byte) int {
	t.Helper()
	nc := r.DialTCP()
	defer nc.Close()
	resp, err := wstest.RoundTrip(nc, raw)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHTTP(t *testing.T) {
	r := chat(t)
	addr := r.Addr
	client := &http.Client{Timeout: wait, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range []struct {
		path     string
		status   int
		contains []string
	}{
		{"/", 200, []string{`id="log"`, `id="name"`, `id="text"`, `id="send"`, `src="chat.js"`}},
		{"/chat.js", 200, []string{"ws://${location.host}/ws", "JSON.stringify"}},
		{"/chat.css", 200, []string{"#log"}},
		{"/nothing", 404, nil},
	} {
		resp, err := client.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		for _, s := range tc.contains {
			if !strings.Contains(string(body), s) {
				t.Errorf("GET %s: body lacks %q", tc.path, s)
			}
		}
	}

	for _, tc := range []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"same origin", "/ws", http.Header{"Origin": {"http://" + addr}}, 101},
		{"no origin", "/ws", nil, 101},
		{"other origin", "/ws", http.Header{"Origin": {"http://evil.example"}}, 403},
		{"null origin", "/ws", http.Header{"Origin": {"null"}}, 403},
		{"other path", "/", nil, 404},
	} {
		req, _ := wstest.Request(addr, tc.path, tc.header)
		if got := status(t, r, req); got != tc.status {
			t.Errorf("%s: upgrade status %d, want %d", tc.name, got, tc.status)
		}
	}
	plain := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"
	if got := status(t, r, []byte(plain)); got < 400 {
		t.Errorf("plain GET /ws: status %d, want a refusal", got)
	}
}

// Rooms are apart: a line reaches the connections of its own room only,
// joins count the room's members, and a room name that is not one is
// refused with 400.
func TestRooms(t *testing.T) {
	r := chat(t)
	red := r.Dial("/ws?room=red", nil)
	if d := cmp.Diff(message{Text: "#1 joined (1 online)"}, next(t, red)); d != "" {
		t.Fatalf("red's join (-want +got):\n%s", d)
	}
	blue := r.Dial("/ws?room=blue", nil)
	if d := cmp.Diff(message{Text: "#2 joined (1 online)"}, next(t, blue)); d != "" {
		t.Fatalf("blue's join (-want +got):\n%s", d)
	}
	red2 := r.Dial("/ws?room=red", nil)
	for _, c := range []*wstest.Client{red, red2} {
		if d := cmp.Diff(message{Text: "#3 joined (2 online)"}, next(t, c)); d != "" {
			t.Fatalf("the second red join (-want +got):\n%s", d)
		}
	}
	send(t, blue, `{"name":"b","text":"in blue"}`)
	send(t, red, `{"name":"r","text":"in red"}`)
	if d := cmp.Diff(message{Name: "b", Text: "in blue"}, next(t, blue)); d != "" {
		t.Fatalf("blue (-want +got):\n%s", d)
	}
	for _, c := range []*wstest.Client{red, red2} {
		if d := cmp.Diff(message{Name: "r", Text: "in red"}, next(t, c)); d != "" {
			t.Fatalf("red: the blue line leaked or the red one is missing (-want +got):\n%s", d)
		}
	}
	for _, q := range []string{"room=", "room=a%20b", "room=" + strings.Repeat("x", 33)} {
		nc := r.DialTCP()
		req, _ := wstest.Request(r.Addr, "/ws?"+q, nil)
		resp, err := wstest.RoundTrip(nc, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 {
			t.Errorf("?%s: status %d, want 400", q, resp.StatusCode)
		}
	}
}

// /debug/vars serves expvar's JSON with the server's metrics published in
// it, to loopback clients only.
func TestDebugVars(t *testing.T) {
	r := chat(t)
	// expvar keeps what is published for good: a name per server, for
	// -count.
	name := fmt.Sprintf("chat_%p", r.Server)
	if err := metrics.Publish(name, r.Server); err != nil {
		t.Fatal(err)
	}
	c := r.Dial("/ws", nil)
	next(t, c) // the join
	resp, err := http.Get("http://" + r.Addr + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vars map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatalf("/debug/vars: %s, %v", resp.Status, err)
	}
	var m struct {
		Open     int `json:"open"`
		Accepted int `json:"accepted"`
		Topics   struct {
			Published int `json:"Published"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(vars[name], &m); err != nil {
		t.Fatalf("%s: %v in %s", name, err, vars[name])
	}
	if m.Open != 1 || m.Accepted != 1 || m.Topics.Published != 1 || len(vars["memstats"]) == 0 {
		t.Errorf("/debug/vars: %+v, memstats %d bytes", m, len(vars["memstats"]))
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/debug/vars", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	routes(r.Server).ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "memstats") {
		t.Errorf("/debug/vars from another machine: %d %q", rec.Code, rec.Body)
	}
}
