package autobahn

import "fmt"

// scale divides the sizes of case 9 unless -autobahn.full is given.
func scale() int {
	if *full {
		return 1
	}
	return 16
}

// size describes n bytes the way Autobahn's reports do.
func size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitCases are Autobahn's 9.x: large messages in one frame, in many
// fragments, written in small chops, and many small messages one round
// trip at a time, every echo byte for byte. The sizes are Autobahn's
// divided by scale().
func limitCases() []testCase {
	k := scale()
	var cases []testCase
	kinds := []struct {
		name    string
		op      byte
		pattern string // 9.1, 9.2, 9.5, 9.6
		fill    string // 9.3, 9.4, 9.7, 9.8
	}{{"text", 1, "BAsd7&jh23", "*"}, {"binary", 2, "\x00\xfe\x23\xfa\xf0", "\xfe"}}
	for i, kind := range kinds {
		for j, n := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20} {
			cases = append(cases, largeEcho(fmt.Sprintf("9.%d.%d", 1+i, j+1),
				fmt.Sprintf("%s message of %s", kind.name, size(n/k)),
				kind.op, kind.pattern, n/k, func(m []byte) sender { return whole(frame(true, 0, kind.op, m)) }))
		}
	}
	for i, kind := range kinds {
		n := (4 << 20) / k
		for j, f := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
			f = max(f/k, 1)
			cases = append(cases, largeEcho(fmt.Sprintf("9.%d.%d", 3+i, j+1),
				fmt.Sprintf("%s message of %s in fragments of %s", kind.name, size(n), size(f)),
				kind.op, kind.fill, n, func(m []byte) sender { return whole(fragments(kind.op, m, f)) }))
		}
	}
	for i, kind := range kinds {
		n := (1 << 20) / k
		for j, chop := range []int{64, 128, 256, 512, 1024, 2048} {
			cases = append(cases, largeEcho(fmt.Sprintf("9.%d.%d", 5+i, j+1),
				fmt.Sprintf("%s message of %s written in chops of %d", kind.name, size(n), chop),
				kind.op, kind.pattern, n, func(m []byte) sender { return chopped(chop, frame(true, 0, kind.op, m)) }))
		}
	}
	count := 250
	if *full {
		count = 1000
	}
	for i, kind := range kinds {
		for j, n := range []int{0, 16, 64, 256, 1024, 4096} {
			cases = append(cases, roundTrips(fmt.Sprintf("9.%d.%d", 7+i, j+1),
				fmt.Sprintf("%d %s messages of %d bytes, one round trip each", count, kind.name, n),
				kind.op, repeat(kind.fill, n), count))
		}
	}
	return cases
}

// largeEcho is a case of 9.1 to 9.6: n bytes of pattern, written as
// send says, come back byte for byte. The frames are built when the case
// runs, so that the case table holds no megabytes.
func largeEcho(id, desc string, op byte, pattern string, n int, send func([]byte) sender) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		m := repeat(pattern, n)
		return scripted(id, desc, send(m), clean, echo(op, m)).run(e)
	}}
}

// roundTrips is 9.7.x and 9.8.x: count messages, each sent once the
// previous echo is back.
func roundTrips(id, desc string, op byte, payload []byte, count int) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dial(nil)
		if err != nil {
			return err
		}
		msg := frame(true, 0, op, payload)
		for i := range count {
			if err := p.write(msg); err != nil {
				return err
			}
			if err := p.expect(echo(op, payload)); err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
		}
		return p.closeNormally()
	}}
}
