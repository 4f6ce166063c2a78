package fanout

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"unievent.dev/internal/wstest"
	"unievent.dev/internal/wstest/servertest"
	"unievent.dev/ws"
	"unievent.dev/ws/server"
)

const wait = 5 * time.Second

// Every message from any connection reaches every connection, the sender
// included, in one order (the order the server received them), as the
// same type; with -deflate compressed once for all of them.
func TestEveryMessageReachesEveryConnectionInOrder(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		t.Run(fmt.Sprint("deflate=", deflate), func(t *testing.T) {
			r := servertest.Start(t, servertest.Options{}, func(loop *ws.Loop) (*server.Server, error) {
				return New(server.Location{Host: "127.0.0.1"}, deflate, loop)
			})
			var hdr http.Header
			if deflate {
				hdr = http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}}
			}
			var clients []*wstest.Client
			for range 3 {
				clients = append(clients, r.Dial("/", hdr))
			}
			deadline := time.Now().Add(wait)
			for r.Server.Subscribers(Topic) < len(clients) {
				if time.Now().After(deadline) {
					t.Fatal("the connections did not all subscribe")
				}
				time.Sleep(time.Millisecond)
			}
			long := strings.Repeat("payload that compresses well ", 10)
			sent := 0
			for k := range 5 {
				for i, c := range clients {
					op := byte(1)
					if k%2 == 1 {
						op = 2
					}
					if err := c.WriteMessage(op, []byte(fmt.Sprintf("c%d-%d %s", i, k, long))); err != nil {
						t.Fatal(err)
					}
					sent++
				}
			}
			var orders [][]string
			for i, c := range clients {
				in := &wstest.Inflater{NoContextTakeover: true}
				var order []string
				last := map[byte]int{}
				for range sent {
					op, p, rsv1, err := c.ReadMessage(wait)
					if err != nil {
						t.Fatalf("client %d: %v", i, err)
					}
					if rsv1 != deflate {
						t.Fatalf("client %d: compressed %v, want %v", i, rsv1, deflate)
					}
					if rsv1 {
						if p, _, err = in.Inflate(p); err != nil {
							t.Fatalf("client %d: inflate: %v", i, err)
						}
					}
					var from, k int
					if _, err := fmt.Sscanf(string(p), "c%d-%d", &from, &k); err != nil || !strings.HasSuffix(string(p), long) {
						t.Fatalf("client %d: got %q", i, p)
					}
					if want := byte(1 + k%2); op != want {
						t.Fatalf("client %d: %q came as opcode %d, want %d", i, p, op, want)
					}
					if n, seen := last[byte(from)]; seen && k != n+1 {
						t.Fatalf("client %d: from c%d, %d after %d", i, from, k, n)
					}
					last[byte(from)] = k
					order = append(order, fmt.Sprintf("c%d-%d", from, k))
				}
				orders = append(orders, order)
			}
			for i := 1; i < len(orders); i++ {
				if diff := cmp.Diff(orders[0], orders[i]); diff != "" {
					t.Errorf("clients 0 and %d saw different orders (-0 +%d):\n%s", i, i, diff)
				}
			}
		})
	}
}
