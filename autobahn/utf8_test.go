package autobahn

import (
	"bytes"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"
)

// kosme is the Greek word κόσμε, Autobahn's favourite valid sample.
var kosme = b("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")

// utf8Group is one of Autobahn's 6.5 to 6.23 groups: Markus Kuhn's UTF-8
// decoder stress sequences and a few more, each case one sequence.
type utf8Group struct {
	name string
	seqs [][]byte
}

// hexes turns "ce ba, e1 bd b9" into two byte sequences.
func hexes(s string) [][]byte {
	var out [][]byte
	for _, seq := range bytes.Split([]byte(s), []byte(",")) {
		var cur []byte
		for _, h := range bytes.Fields(seq) {
			var v byte
			fmt.Sscanf(string(h), "%02x", &v)
			cur = append(cur, v)
		}
		out = append(out, cur)
	}
	return out
}

// utf8Groups returns the sequences of cases 6.5.x to 6.23.x in Autobahn's
// order. Whether each one is valid is not written down here: unicode/utf8
// (RFC 3629, no surrogates, nothing above U+10FFFF) decides, independently
// of the server's validator.
func utf8Groups() []utf8Group {
	var prefixes [][]byte
	for i := 1; i <= len(kosme); i++ {
		prefixes = append(prefixes, kosme[:i])
	}
	var unexpected [][]byte
	unexpected = append(unexpected, hexes("80, bf, 80 bf, 80 bf 80, 80 bf 80 bf, 80 bf 80 bf 80, 80 bf 80 bf 80 bf")...)
	var all []byte
	for c := 0x80; c < 0xbf; c++ {
		all = append(all, byte(c))
	}
	unexpected = append(unexpected, all)
	var lonely [][]byte
	for _, r := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var s []byte
		for c := r[0]; c < r[1]; c++ {
			s = append(s, byte(c), ' ')
		}
		lonely = append(lonely, s)
	}
	missing := hexes("c0, e0 80, f0 80 80, f8 80 80 80, fc 80 80 80 80, df, ef bf, f7 bf bf, fb bf bf bf, fd bf bf bf bf")
	var surrogatePairs [][]byte
	for _, hi := range hexes("ed a0 80, ed ad bf, ed ae 80, ed af bf") {
		for _, lo := range hexes("ed b0 80, ed bf bf") {
			surrogatePairs = append(surrogatePairs, append(append([]byte(nil), hi...), lo...))
		}
	}
	nonchars := hexes("ef bf be, ef bf bf")
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f || z1 == 0xf0 && z2 == 0x8f {
				continue // above U+10FFFF, or overlong
			}
			for _, z3 := range []byte{0xbe, 0xbf} {
				nonchars = append(nonchars, []byte{z1, z2, 0xbf, z3})
			}
		}
	}
	return []utf8Group{
		{"some valid UTF-8 sequences", append(hexes("68 65 6c 6c 6f 24 77 6f 72 6c 64, 68 65 6c 6c 6f c2 a2 77 6f 72 6c 64, "+
			"68 65 6c 6c 6f e2 82 ac 77 6f 72 6c 64, 68 65 6c 6c 6f f0 a4 ad a2 77 6f 72 6c 64"), kosme)},
		{"all prefixes of a valid string with multi-byte code points", prefixes},
		{"first possible sequence of each length", hexes("00, c2 80, e0 a0 80, f0 90 80 80")},
		{"first possible sequence of length 5 and 6 (invalid code points)", hexes("f8 88 80 80 80, fc 84 80 80 80 80")},
		{"last possible sequence of each length", hexes("7f, df bf, ef bf bf, f4 8f bf bf")},
		{"last possible sequence of length 4, 5, 6 (invalid code points)", hexes("f7 bf bf bf, fb bf bf bf bf, fd bf bf bf bf bf")},
		{"other boundary conditions", hexes("ed 9f bf, ee 80 80, ef bf bd, f4 8f bf bf, f4 90 80 80")},
		{"unexpected continuation bytes", unexpected},
		{"lonely start characters", lonely},
		{"sequences with the last continuation byte missing", missing},
		{"concatenation of incomplete sequences", [][]byte{bytes.Join(missing, nil)}},
		{"impossible bytes", hexes("fe, ff, fe fe ff ff")},
		{"overlong ASCII character", hexes("c0 af, e0 80 af, f0 80 80 af, f8 80 80 80 af, fc 80 80 80 80 af")},
		{"maximum overlong sequences", hexes("c1 bf, e0 9f bf, f0 8f bf bf, f8 87 bf bf bf, fc 83 bf bf bf bf")},
		{"overlong NUL", hexes("c0 80, e0 80 80, f0 80 80 80, f8 80 80 80 80, fc 80 80 80 80 80")},
		{"single UTF-16 surrogates", hexes("ed a0 80, ed ad bf, ed ae 80, ed af bf, ed b0 80, ed be 80, ed bf bf")},
		{"paired UTF-16 surrogates", surrogatePairs},
		{"non-characters (valid UTF-8)", nonchars},
		{"Unicode specials", hexes("ef bf b9, ef bf ba, ef bf bb, ef bf bc, ef bf bd, ef bf be, ef bf bf")},
	}
}

// firstInvalid returns the index of the first byte at which p stops being
// the start of any valid UTF-8 text, following the table of RFC 3629
// section 4, or -1 when p is valid or only ends inside a sequence. A
// fail-fast server closes as soon as that byte arrives.
func firstInvalid(p []byte) int {
	for i := 0; i < len(p); {
		c := p[i]
		n, lo, hi := 0, byte(0x80), byte(0xbf) // continuation bytes, range of the first one
		switch {
		case c < 0x80:
			i++
			continue
		case c >= 0xc2 && c <= 0xdf:
			n = 1
		case c == 0xe0:
			n, lo = 2, 0xa0
		case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
			n = 2
		case c == 0xed:
			n, hi = 2, 0x9f
		case c == 0xf0:
			n, lo = 3, 0x90
		case c >= 0xf1 && c <= 0xf3:
			n = 3
		case c == 0xf4:
			n, hi = 3, 0x8f
		default:
			return i
		}
		for k := 1; k <= n; k++ {
			if i+k == len(p) {
				return -1
			}
			d := p[i+k]
			if k == 1 && (d < lo || d > hi) || k > 1 && (d < 0x80 || d > 0xbf) {
				return i + k
			}
		}
		i += n + 1
	}
	return -1
}

// utf8Cases are Autobahn's 6.x. On top of Autobahn's single frame, every
// sequence of 6.5 to 6.23 is also played on a second connection: a valid
// one in 1-byte fragments (split inside code points) must come back
// whole; an invalid one is sent up to the byte that makes it invalid, in
// a non-final fragment, and the 1007 must arrive during the pause that
// follows, or, when only the end of the message makes it invalid, must
// not arrive before that end.
func utf8Cases() []testCase {
	f := func(fin bool, op byte, p []byte) []byte { return frame(fin, 0, op, p) }
	hello := b("Hello-µ@ßöäüàá-UTF-8!!")
	invalid := append(append(append([]byte(nil), kosme...), 0xed, 0xa0, 0x80), b("edited")...)
	cases := []testCase{
		scripted("6.1.1", "empty text message", whole(f(true, 1, nil)), clean, text("")),
		scripted("6.1.2", "text message of three empty fragments", whole(f(false, 1, nil), f(false, 0, nil), f(true, 0, nil)), clean, text("")),
		scripted("6.1.3", "empty first and last fragment, non-empty middle",
			whole(f(false, 1, nil), f(false, 0, b("middle frame payload")), f(true, 0, nil)), clean, text("middle frame payload")),
		scripted("6.2.1", "valid UTF-8 in one frame", whole(f(true, 1, hello)), clean, text(string(hello))),
		scripted("6.2.2", "valid UTF-8 in two fragments split between code points",
			whole(f(false, 1, b("Hello-µ@ßöä")), f(true, 0, b("üàá-UTF-8!!"))), clean, text(string(hello))),
		scripted("6.2.3", "valid UTF-8 in 1-byte fragments", whole(fragments(1, hello, 1)), clean, text(string(hello))),
		scripted("6.2.4", "κόσμε in 1-byte fragments", whole(fragments(1, kosme, 1)), clean, echo(1, kosme)),
		scripted("6.3.1", "invalid UTF-8 (a surrogate) in one frame", whole(f(true, 1, invalid)), 1007),
		scripted("6.3.2", "invalid UTF-8 in 1-byte fragments", whole(fragments(1, invalid, 1)), 1007),
	}
	// 6.4: κόσμε, then U+110000 written as f4 90 80 80, which is invalid
	// from its second byte (index 12 of the payload), then "edited".
	bad := append(append(append([]byte(nil), kosme...), 0xf4, 0x90, 0x80, 0x80), b("edited")...)
	cases = append(cases,
		failFast("6.4.1", "fail fast: valid fragment, pause, fragment with the invalid code point",
			f(false, 1, bad[:11]), f(false, 0, bad[11:15])),
		failFast("6.4.2", "fail fast: as 6.4.1, the second fragment ending at the invalid byte",
			f(false, 1, bad[:12]), f(false, 0, bad[12:13])),
		failFastChops("6.4.3", "fail fast: one frame written in three chops, the second holding the invalid code point", bad, 11, 15),
		failFastChops("6.4.4", "fail fast: one frame in three chops, the second ending at the invalid byte", bad, 12, 13),
	)
	for g, group := range utf8Groups() {
		for i, seq := range group.seqs {
			id := fmt.Sprintf("6.%d.%d", g+5, i+1)
			cases = append(cases, sequenceCase(id, group.name, seq))
		}
	}
	return cases
}

// sequenceCase is one of 6.5.x to 6.23.x (see utf8Cases).
func sequenceCase(id, group string, seq []byte) testCase {
	valid := utf8.Valid(seq)
	desc := fmt.Sprintf("%s: % x (valid: %v)", group, seq, valid)
	return testCase{id: id, desc: desc, run: func(e *env) error {
		end := 1007
		var ws []want
		if valid {
			end, ws = clean, []want{echo(1, seq)}
		}
		single := scripted("", "", whole(frame(true, 0, 1, seq)), end, ws...)
		if err := single.run(e); err != nil {
			return fmt.Errorf("in one frame: %w", err)
		}
		if valid {
			split := scripted("", "", whole(fragments(1, seq, 1)), clean, ws...)
			if err := split.run(e); err != nil {
				return fmt.Errorf("in 1-byte fragments: %w", err)
			}
			return nil
		}
		p, err := e.dial(nil)
		if err != nil {
			return err
		}
		if k := firstInvalid(seq); k >= 0 {
			if err := p.write(frame(false, 0, 1, seq[:k+1])); err != nil {
				return err
			}
			if err := p.expectBy(time.Now().Add(pause), closed(1007)); err != nil {
				return fmt.Errorf("fail fast on byte %d: %w", k, err)
			}
		} else {
			// Only the message's end makes it invalid: the server must
			// wait for it.
			if err := p.write(frame(false, 0, 1, seq)); err != nil {
				return err
			}
			if err := p.quiet(pause); err != nil {
				return fmt.Errorf("incomplete but not yet invalid: %w", err)
			}
			if err := p.write(frame(true, 0, 0, nil)); err != nil {
				return err
			}
			if err := p.expect(closed(1007)); err != nil {
				return fmt.Errorf("at the end of the message: %w", err)
			}
		}
		return p.answerClose(1007)
	}}
}

// failFastChops is 6.4.3 and 6.4.4: failFast with one frame written in
// pieces cut at payload offsets cut1 and cut2 (the rest is never needed).
func failFastChops(id, desc string, payload []byte, cut1, cut2 int) testCase {
	whole := frame(true, 0, 1, payload)
	hdr := len(whole) - len(payload)
	return failFast(id, desc, whole[:hdr+cut1], whole[hdr+cut1:hdr+cut2])
}

// failFast is 6.4.1 and 6.4.2: first (valid) is accepted in silence
// during a pause; the close 1007 must arrive during the pause after
// second, which makes the text invalid. Autobahn would then send the
// rest of the message; a strict server has closed before.
func failFast(id, desc string, first, second []byte) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dial(nil)
		if err != nil {
			return err
		}
		if err := p.write(first); err != nil {
			return err
		}
		if err := p.quiet(pause); err != nil {
			return fmt.Errorf("after the valid part: %w", err)
		}
		if err := p.write(second); err != nil {
			return err
		}
		if err := p.expectBy(time.Now().Add(pause), closed(1007)); err != nil {
			return err
		}
		return p.answerClose(1007)
	}}
}

// TestUTF8Table checks the transcription of Autobahn's 6.5 to 6.23: how
// many sequences each group has and how many of them are valid.
func TestUTF8Table(t *testing.T) {
	want := [][2]int{ // sequences, valid ones
		{5, 5}, {11, 5}, {4, 4}, {2, 0}, {4, 4}, {3, 0}, {5, 4}, {8, 0}, {5, 0}, {10, 0},
		{1, 0}, {3, 0}, {5, 0}, {5, 0}, {5, 0}, {7, 0}, {8, 0}, {34, 34}, {7, 7},
	}
	groups := utf8Groups()
	if len(groups) != len(want) {
		t.Fatalf("%d groups, want %d", len(groups), len(want))
	}
	for i, g := range groups {
		valid := 0
		for _, s := range g.seqs {
			if utf8.Valid(s) {
				valid++
			}
		}
		if got := [2]int{len(g.seqs), valid}; got != want[i] {
			t.Errorf("6.%d (%s): %d sequences, %d valid; want %d, %d", i+5, g.name, got[0], got[1], want[i][0], want[i][1])
		}
	}
}

// TestFirstInvalid compares firstInvalid with a brute-force search over
// short sequences of boundary bytes: a prefix is still viable when
// unicode/utf8 accepts it with some continuation bytes added.
func TestFirstInvalid(t *testing.T) {
	edges := []byte{0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	conts := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	viable := func(q []byte) bool {
		if utf8.Valid(q) {
			return true
		}
		var try func(s []byte, depth int) bool
		try = func(s []byte, depth int) bool {
			if utf8.Valid(s) {
				return true
			}
			if depth == 3 {
				return false
			}
			for _, c := range conts {
				if try(append(s[:len(s):len(s)], c), depth+1) {
					return true
				}
			}
			return false
		}
		return try(q, 0)
	}
	var walk func(p []byte)
	walk = func(p []byte) {
		want := -1
		for k := range p {
			if !viable(p[:k+1]) {
				want = k
				break
			}
		}
		if got := firstInvalid(p); got != want {
			t.Errorf("firstInvalid(% x) = %d, want %d", p, got, want)
		}
		if len(p) < 3 {
			for _, c := range edges {
				walk(append(p[:len(p):len(p)], c))
			}
		}
	}
	walk(nil)
}
