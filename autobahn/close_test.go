package autobahn

import (
	"fmt"

	"unievent.dev/internal/wstest"
)

// closeCases are Autobahn's 7.x, graded strictly: the server answers a
// close by echoing its code (RFC 6455 section 5.5.1) and then closes the
// TCP connection itself; it sends nothing after its close frame and
// answers nothing the client sends after its own; a close that breaks
// the rules gets 1002, or 1007 for a reason that is not UTF-8 (section
// 7.4.1: data inconsistent with its type; Autobahn also takes 1002).
func closeCases() []testCase {
	closeFrame := func(code int, reason string) []byte { return frame(true, 0, 8, wstest.ClosePayload(code, reason)) }
	hello := "Hello World!"
	bigText := repeat("BAsd7&jh23", 256<<10)
	invalidReason := string(append(append([]byte(nil), kosme...), b("\xed\xa0\x80edited")...))
	cases := []testCase{
		scripted("7.1.1", "a message, then a close: echo, then the close echoed", whole(frame(true, 0, 1, b(hello))), clean, text(hello)),
		closing("7.1.2", "two close frames: one close back, the second ignored",
			[][]byte{closeFrame(1000, ""), frame(true, 0, 8, nil)}, 1000),
		closing("7.1.3", "a ping after the close: no pong", [][]byte{closeFrame(1000, ""), frame(true, 0, 9, nil)}, 1000),
		closing("7.1.4", "a text after the close: no echo", [][]byte{closeFrame(1000, ""), frame(true, 0, 1, b(hello))}, 1000),
		closing("7.1.5", "the first fragment, a close, the last fragment: nothing but the close",
			[][]byte{frame(false, 0, 1, b("fragment1")), closeFrame(1000, ""), frame(true, 0, 0, b("fragment2"))}, 1000),
		// Autobahn grades 7.1.6 informational; the strict outcome is
		// that the server processes frames in order: both echoes, the
		// close, no pong.
		closing("7.1.6", "256 KiB text, a text, a close, a ping: both echoes, the close, no pong",
			[][]byte{frame(true, 0, 1, bigText), frame(true, 0, 1, b(hello)), closeFrame(1000, ""), frame(true, 0, 9, nil)},
			1000, echo(1, bigText), text(hello)),
		closing("7.3.1", "close without payload: answered without a code", [][]byte{frame(true, 0, 8, nil)}, 1005),
		closing("7.3.2", "close with a 1-byte payload", [][]byte{frame(true, 0, 8, b("a"))}, 1002),
		closing("7.3.3", "close with a code", [][]byte{closeFrame(1000, "")}, 1000),
		closing("7.3.4", "close with a code and a reason", [][]byte{closeFrame(1000, hello)}, 1000),
		closing("7.3.5", "close with a 123-byte reason (125-byte payload)", [][]byte{closeFrame(1000, string(repeat("*", 123)))}, 1000),
		closing("7.3.6", "close with a 124-byte reason (126-byte payload)", [][]byte{closeFrame(1000, string(repeat("*", 124)))}, 1002),
		closing("7.5.1", "close with a reason that is not UTF-8", [][]byte{closeFrame(1000, invalidReason)}, 1007),
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, closing(fmt.Sprintf("7.7.%d", i+1), fmt.Sprintf("close with valid code %d: echoed", code),
			[][]byte{closeFrame(code, "")}, code))
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		cases = append(cases, closing(fmt.Sprintf("7.9.%d", i+1), fmt.Sprintf("close with invalid code %d", code),
			[][]byte{closeFrame(code, "")}, 1002))
	}
	// Autobahn grades 7.13 informational; RFC 6455 section 7.4.2 defines
	// no code above 4999, so the strict answer is 1002.
	for i, code := range []int{5000, 65535} {
		cases = append(cases, closing(fmt.Sprintf("7.13.%d", i+1), fmt.Sprintf("close with code %d, outside every range", code),
			[][]byte{closeFrame(code, "")}, 1002))
	}
	return cases
}
