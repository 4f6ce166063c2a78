package ws

import (
	"net"
	"testing"
	"time"
)

// Without a pong timeout a keepalive ping is not answered by anything the
// connection waits for: the next one follows PingInterval after it, and
// the idle timeout still ends the connection. Pings must not follow each
// other at once, on either driver.
func TestKeepaliveTimers(t *testing.T) {
	const interval = 20 * time.Millisecond
	cfg := &Config{PingInterval: interval, PongTimeout: -1, IdleTimeout: 10 * interval, CloseTimeout: 50 * time.Millisecond}
	for _, tc := range []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{
		{"socket", func(c net.Conn) net.Conn { return c }},                        // the poller on Linux
		{"goroutine", func(c net.Conn) net.Conn { return struct{ net.Conn }{c} }}, // always the I/O goroutine
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := tcpPair(t)
			_, wc := startConn(t, tc.wrap(srv), cli, cfg, connOptions{Loop: runningLoop(t)}, nil)
			pings := 0
			for {
				f, err := wc.ReadFrame(5 * time.Second)
				if err != nil {
					t.Fatalf("after %d pings: %v", pings, err)
				}
				if f.Opcode == 9 {
					pings++
					if pings > 100 {
						t.Fatalf("%d pings before the idle timeout of %d intervals", pings, 10)
					}
					continue
				}
				if f.Opcode != 8 {
					t.Fatalf("opcode %d, want pings then a close", f.Opcode)
				}
				break
			}
			if pings < 2 {
				t.Errorf("%d pings in an idle timeout of 10 ping intervals, want more than one", pings)
			}
		})
	}
}

// The deadlines' arithmetic: which deadline comes next, and which timer is
// due, in the order that ends the connection first.
func TestDeadlinesNextAndExpired(t *testing.T) {
	const ms = mono(time.Millisecond)
	s := &settings{ping: 10 * time.Millisecond, pong: 5 * time.Millisecond, idle: 100 * time.Millisecond, closeTimeout: 50 * time.Millisecond}
	noPong := *s
	noPong.pong = 0
	for _, tc := range []struct {
		name    string
		s       *settings
		set     func(d *deadlines)
		now     mono
		next    mono
		expired timer
	}{
		{"quiet", s, func(d *deadlines) {}, 1000 * ms, 1010 * ms, timerNone},
		{"ping due", s, func(d *deadlines) {}, 1010 * ms, 1010 * ms, timerPing},
		{"pong awaited", s, func(d *deadlines) { d.pinged(1010 * ms) }, 1012 * ms, 1015 * ms, timerNone},
		{"pong missing", s, func(d *deadlines) { d.pinged(1010 * ms) }, 1015 * ms, 1015 * ms, timerPong},
		{"no pong timeout: the next ping an interval later", &noPong, func(d *deadlines) { d.pinged(1010 * ms) }, 1012 * ms, 1020 * ms, timerNone},
		{"no pong timeout: ping again", &noPong, func(d *deadlines) { d.pinged(1010 * ms) }, 1020 * ms, 1020 * ms, timerPing},
		{"idle before pong", s, func(d *deadlines) { d.pinged(1098 * ms) }, 1100 * ms, 1100 * ms, timerIdle},
		{"message", s, func(d *deadlines) { d.messageBy = 1003 * ms }, 1003 * ms, 1003 * ms, timerMessage},
		{"closing hides the rest", s, func(d *deadlines) { d.startClose(s, 1095*ms) }, 1100 * ms, 1145 * ms, timerNone},
		{"close timeout", s, func(d *deadlines) { d.startClose(s, 1000*ms) }, 1050 * ms, 1050 * ms, timerClose},
		{"grace read", s, func(d *deadlines) { d.startClose(s, 1000*ms); d.graceRead(1050 * ms) }, 1055 * ms, 1060 * ms, timerNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d deadlines
			d.read(1000 * ms)
			tc.set(&d)
			if got := d.next(tc.s, false); got != tc.next {
				t.Errorf("next = %v ms, want %v", got/ms, tc.next/ms)
			}
			if got := d.expired(tc.s, tc.now); got != tc.expired {
				t.Errorf("expired = %d, want %d", got, tc.expired)
			}
		})
	}
}
