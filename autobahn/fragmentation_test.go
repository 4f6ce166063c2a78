package autobahn

import (
	"bytes"
	"time"
)

// fragmentationCases are Autobahn's 5.x: control frames may not be
// fragmented; a continuation needs a message to continue and a new
// message may not start inside one (1002 at once, after echoing what was
// complete); pings between fragments are answered at once, before the
// message is complete.
func fragmentationCases() []testCase {
	f := func(fin bool, op byte, s string) []byte { return frame(fin, 0, op, b(s)) }
	ping := f(true, 9, "ping payload")
	frag1, frag2 := f(false, 1, "fragment1"), f(true, 0, "fragment2")
	pongThenEcho := []want{pong(b("ping payload")), text("fragment1fragment2")}
	noStartFin := [][]byte{f(true, 0, "non-continuation payload"), f(true, 1, "Hello, world!")}
	noStartMore := [][]byte{f(false, 0, "non-continuation payload"), f(true, 1, "Hello, world!")}
	twice := func(first []byte) []byte {
		one := bytes.Join([][]byte{first, f(false, 1, "fragment2"), f(true, 0, "fragment3")}, nil)
		return bytes.Repeat(one, 2)
	}
	return []testCase{
		scripted("5.1", "ping in two fragments", whole(f(false, 9, "fragment1"), f(true, 0, "fragment2")), 1002),
		scripted("5.2", "pong in two fragments", whole(f(false, 10, "fragment1"), f(true, 0, "fragment2")), 1002),
		scripted("5.3", "text in two fragments", whole(frag1, frag2), clean, text("fragment1fragment2")),
		scripted("5.4", "text in two fragments, frame-wise", frameWise(frag1, frag2), clean, text("fragment1fragment2")),
		scripted("5.5", "text in two fragments, octet-wise", octetWise(frag1, frag2), clean, text("fragment1fragment2")),
		scripted("5.6", "text in two fragments with a ping between: pong, then echo", whole(frag1, ping, frag2), clean, pongThenEcho...),
		scripted("5.7", "as 5.6, frame-wise", frameWise(frag1, ping, frag2), clean, pongThenEcho...),
		scripted("5.8", "as 5.6, octet-wise", octetWise(frag1, ping, frag2), clean, pongThenEcho...),
		scripted("5.9", "final continuation with nothing to continue, then text", whole(noStartFin...), 1002),
		scripted("5.10", "as 5.9, frame-wise", frameWise(noStartFin...), 1002),
		scripted("5.11", "as 5.9, octet-wise", octetWise(noStartFin...), 1002),
		scripted("5.12", "non-final continuation with nothing to continue, then text", whole(noStartMore...), 1002),
		scripted("5.13", "as 5.12, frame-wise", frameWise(noStartMore...), 1002),
		scripted("5.14", "as 5.12, octet-wise", octetWise(noStartMore...), 1002),
		scripted("5.15", "a fragmented text, then a continuation with nothing to continue: echo, then 1002",
			whole(frag1, f(true, 0, "fragment2"), f(false, 0, "fragment3"), f(true, 1, "fragment4")), 1002, text("fragment1fragment2")),
		scripted("5.16", "twice: non-final continuation with nothing to continue, then a fragmented text",
			whole(twice(f(false, 0, "fragment1"))), 1002),
		scripted("5.17", "twice: final continuation with nothing to continue, then a fragmented text",
			whole(twice(f(true, 0, "fragment1"))), 1002),
		scripted("5.18", "a text whose second fragment is a text frame again", whole(frag1, f(true, 1, "fragment2")), 1002),
		pausedFragments("5.19", "fragmented text with pings; the first pong must come during the pause", whole),
		pausedFragments("5.20", "as 5.19, frame-wise", frameWise),
	}
}

// pausedFragments is 5.19 and 5.20: two fragments and a ping, a pause
// during which the pong must arrive, then the rest of the message with
// another ping.
func pausedFragments(id, desc string, how func(...[]byte) sender) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dial(nil)
		if err != nil {
			return err
		}
		f := func(fin bool, op byte, s string) []byte { return frame(fin, 0, op, b(s)) }
		if err := how(f(false, 1, "fragment1"), f(false, 0, "fragment2"), f(true, 9, "pongme 1!"))(p); err != nil {
			return err
		}
		start := time.Now()
		if err := p.expectBy(start.Add(pause), pong(b("pongme 1!"))); err != nil {
			return err
		}
		if err := p.quiet(time.Until(start.Add(pause))); err != nil {
			return err
		}
		if err := how(f(false, 0, "fragment3"), f(false, 0, "fragment4"), f(true, 9, "pongme 2!"), f(true, 0, "fragment5"))(p); err != nil {
			return err
		}
		if err := p.expect(pong(b("pongme 2!")), text("fragment1fragment2fragment3fragment4fragment5")); err != nil {
			return err
		}
		return p.closeNormally()
	}}
}
