package autobahn

import "fmt"

// pingCases are Autobahn's 2.x. Every ping is answered with a pong that
// carries its payload, in order (Autobahn notes that ten pings in a row
// need not all be answered by the RFC, but checks it anyway; so do we);
// a 126-byte ping is a protocol error; unsolicited pongs get nothing.
func pingCases() []testCase {
	ping := func(p []byte) []byte { return frame(true, 0, 9, p) }
	pongFrame := func(p []byte) []byte { return frame(true, 0, 10, p) }
	binaryPayload := b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")
	cases := []testCase{
		scripted("2.1", "ping without payload", whole(ping(nil)), clean, pong(nil)),
		scripted("2.2", "ping with a small text payload", whole(ping(b("Hello, world!"))), clean, pong(b("Hello, world!"))),
		scripted("2.3", "ping with a small binary payload", whole(ping(binaryPayload)), clean, pong(binaryPayload)),
		scripted("2.4", "ping with 125 bytes", whole(ping(repeat("\xfe", 125))), clean, pong(repeat("\xfe", 125))),
		scripted("2.5", "ping with 126 bytes: protocol error, no pong", whole(ping(repeat("\xfe", 126))), 1002),
		scripted("2.6", "ping with 125 bytes written octet-wise", octetWise(ping(repeat("\xfe", 125))), clean, pong(repeat("\xfe", 125))),
		scripted("2.7", "unsolicited pong without payload, then close: nothing but the close comes back",
			whole(pongFrame(nil)), clean),
		scripted("2.8", "unsolicited pong with payload, then close: nothing but the close comes back",
			whole(pongFrame(b("unsolicited pong payload"))), clean),
		scripted("2.9", "unsolicited pong, then a ping: one pong, for the ping",
			whole(pongFrame(b("unsolicited pong payload")), ping(b("ping payload"))), clean, pong(b("ping payload"))),
	}
	var pings [][]byte
	var pongs []want
	for i := range 10 {
		p := b(fmt.Sprintf("payload-%d", i))
		pings = append(pings, ping(p))
		pongs = append(pongs, pong(p))
	}
	cases = append(cases,
		scripted("2.10", "ten pings with payloads in one write: ten pongs, in order", whole(pings...), clean, pongs...),
		scripted("2.11", "ten pings written octet-wise: ten pongs, in order", octetWise(pings...), clean, pongs...),
	)
	return cases
}

// reservedBitCases are Autobahn's 3.x: a reserved bit that no negotiated
// extension defines fails the connection with 1002 at once: whatever came
// before it is echoed, nothing after it is answered.
func reservedBitCases() []testCase {
	hello := b("Hello, world!")
	msg := frame(true, 0, 1, hello)
	with := func(rsv byte) []byte { return frame(true, rsv, 1, hello) }
	ping := frame(true, 0, 9, nil)
	return []testCase{
		scripted("3.1", "text message with RSV = 1", whole(with(1)), 1002),
		scripted("3.2", "text, text with RSV = 2, ping: echo, then 1002, no pong",
			whole(msg, with(2), ping), 1002, text("Hello, world!")),
		scripted("3.3", "as 3.2 with RSV = 3, frame-wise", frameWise(msg, with(3), ping), 1002, text("Hello, world!")),
		scripted("3.4", "as 3.2 with RSV = 4, octet-wise", octetWise(msg, with(4), ping), 1002, text("Hello, world!")),
		scripted("3.5", "binary message with RSV = 5", whole(frame(true, 5, 2, b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"))), 1002),
		// Autobahn's 3.6 is described as a ping but sends a binary frame
		// (3.5 covers that); the ping is what its report promises.
		scripted("3.6", "ping with RSV = 6", whole(frame(true, 6, 9, hello)), 1002),
		scripted("3.7", "close with RSV = 7", whole(frame(true, 7, 8, nil)), 1002),
	}
}

// opcodeCases are Autobahn's 4.x: the reserved opcodes 3-7 (data) and
// 11-15 (control) fail the connection with 1002, after echoing what came
// before and without answering the ping behind them.
func opcodeCases() []testCase {
	hello := b("Hello, world!")
	msg := frame(true, 0, 1, hello)
	ping := frame(true, 0, 9, nil)
	var cases []testCase
	for sub, base := range []byte{3, 11} {
		kind := "non-control"
		if base == 11 {
			kind = "control"
		}
		id := func(i int) string { return fmt.Sprintf("4.%d.%d", sub+1, i) }
		cases = append(cases,
			scripted(id(1), fmt.Sprintf("reserved %s opcode %d", kind, base), whole(frame(true, 0, base, nil)), 1002),
			scripted(id(2), fmt.Sprintf("reserved %s opcode %d with payload", kind, base+1),
				whole(frame(true, 0, base+1, b("reserved opcode payload"))), 1002),
			scripted(id(3), fmt.Sprintf("text, opcode %d, ping: echo, then 1002, no pong", base+2),
				whole(msg, frame(true, 0, base+2, nil), ping), 1002, text("Hello, world!")),
			scripted(id(4), fmt.Sprintf("text, opcode %d with payload, ping", base+3),
				whole(msg, frame(true, 0, base+3, hello), ping), 1002, text("Hello, world!")),
			scripted(id(5), fmt.Sprintf("text, opcode %d with payload, ping, octet-wise", base+4),
				octetWise(msg, frame(true, 0, base+4, hello), ping), 1002, text("Hello, world!")),
		)
	}
	return cases
}
