package autobahn

import (
	"bytes"
	"time"
)

// pause is how long the client waits in the cases Autobahn grades on
// timing (5.19, 5.20, 6.4.x, the fail-fast half of 6.5 to 6.23): what
// the server owes (a pong, a close) must arrive before the pause is over,
// not when the client writes again.
const pause = time.Second

// b is a string's bytes, for payloads.
func b(s string) []byte { return []byte(s) }

// sender writes a case's frames in one of the ways Autobahn chops them.
type sender func(p *peer) error

// whole writes the frames in one write.
func whole(frames ...[]byte) sender {
	return func(p *peer) error { return p.write(bytes.Join(frames, nil)) }
}

// frameWise writes each frame on its own (Autobahn's sync = True).
func frameWise(frames ...[]byte) sender {
	return func(p *peer) error { return p.writeEach(frames...) }
}

// octetWise writes the frames one byte at a time (chopsize = 1).
func octetWise(frames ...[]byte) sender {
	return func(p *peer) error { return p.writeChops(bytes.Join(frames, nil), 1) }
}

// chopped writes the frames in writes of size bytes (Autobahn's
// chopsize).
func chopped(size int, frames ...[]byte) sender {
	return func(p *peer) error { return p.writeChops(bytes.Join(frames, nil), size) }
}

// clean ends a case with the client's close 1000; any other value of a
// script's end is the close code the server must fail the connection
// with.
const clean = 0

// scripted is the common shape of a case: one connection without
// extensions, send writes, exactly the events ws arrive, and the
// connection ends as end says (clean, or a failure code). Anything the
// server sends beyond ws (an echo, a pong, a second close) fails the case.
func scripted(id, desc string, send sender, end int, ws ...want) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dial(nil)
		if err != nil {
			return err
		}
		if err := send(p); err != nil {
			return err
		}
		if err := p.expect(ws...); err != nil {
			return err
		}
		if end == clean {
			return p.closeNormally()
		}
		return p.expectFailure(end)
	}}
}

// closing is a case whose frames include the client's close: exactly the
// events ws, then the server's close with code (its echo, or its failure
// when the close broke the rules), then the end of the connection.
func closing(id, desc string, frames [][]byte, code int, ws ...want) testCase {
	ws = append(ws, closed(code), eof)
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dial(nil)
		if err != nil {
			return err
		}
		if err := whole(frames...)(p); err != nil {
			return err
		}
		return p.expect(ws...)
	}}
}
