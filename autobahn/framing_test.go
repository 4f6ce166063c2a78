package autobahn

import "fmt"

// framingCases are Autobahn's 1.1 (text) and 1.2 (binary): a message at
// each length boundary of the frame header (7-bit, 16-bit, 64-bit
// lengths), the last one written in chops of 997 bytes.
func framingCases() []testCase {
	var cases []testCase
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536, 65536}
	for sub, kind := range []struct {
		name    string
		op      byte
		pattern string
	}{{"text", 1, "*"}, {"binary", 2, "\xfe"}} {
		for i, n := range sizes {
			desc := fmt.Sprintf("%s message of %d bytes", kind.name, n)
			chop := 0
			if i == len(sizes)-1 {
				chop = 997
				desc += ", written in chops of 997"
			}
			payload := repeat(kind.pattern, n)
			send := whole(frame(true, 0, kind.op, payload))
			if chop > 0 {
				send = chopped(chop, frame(true, 0, kind.op, payload))
			}
			id := fmt.Sprintf("1.%d.%d", sub+1, i+1)
			cases = append(cases, scripted(id, desc, send, clean, echo(kind.op, payload)))
		}
	}
	return cases
}

// autoFragmentationCases is Autobahn's 10.1.1: a 64 KiB text message in
// frames of 1300 bytes comes back whole.
func autoFragmentationCases() []testCase {
	payload := repeat("*", 65536)
	return []testCase{
		scripted("10.1.1", "65536-byte text message in fragments of 1300 bytes",
			whole(fragments(1, payload, 1300)), clean, echo(1, payload)),
	}
}
