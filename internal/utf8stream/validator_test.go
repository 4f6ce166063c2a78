package utf8stream

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// verdict is everything the package says about one input, fed whole, byte
// by byte and split in two at every position.
type verdict struct {
	Valid    bool // Valid(in)
	Whole    byte // one Write: 'F' failed, 'D' done, 'O' open (valid so far, unfinished)
	ByteFail int  // index of the byte whose Write returned false, -1 if none
	ByteDone bool // Done after byte-by-byte feeding
	// Recovered is set if, byte by byte, a Write returned true after one
	// returned false: failure must be sticky.
	Recovered bool
	// Splits has one letter per split position s (0..len(in)): 'F' when
	// Write(in[:s]) failed, 'S' when Write(in[s:]) failed, else 'D' or 'O';
	// '!' if Done reported success after a failed Write.
	Splits string
}

func observe(in []byte) verdict {
	end := func(ok bool, v *Validator) byte {
		switch {
		case !ok:
			return 'F'
		case v.Done():
			return 'D'
		}
		return 'O'
	}
	var got verdict
	got.Valid = Valid(in)

	var v Validator
	got.Whole = end(v.Write(in), &v)

	v.Reset()
	got.ByteFail = -1
	for i := range in {
		ok := v.Write(in[i : i+1])
		switch {
		case !ok && got.ByteFail < 0:
			got.ByteFail = i
		case ok && got.ByteFail >= 0:
			got.Recovered = true
		}
	}
	got.ByteDone = v.Done()

	var splits strings.Builder
	for s := 0; s <= len(in); s++ {
		v.Reset()
		switch {
		case !v.Write(in[:s]):
			v.Write(in[s:]) // must stay failed
			if v.Done() {
				splits.WriteByte('!')
			} else {
				splits.WriteByte('F')
			}
		case !v.Write(in[s:]):
			splits.WriteByte('S')
		default:
			splits.WriteByte(end(true, &v))
		}
	}
	got.Splits = splits.String()
	return got
}

// expect derives the verdict from unicode/utf8 and the brute-force
// reference.
func expect(in []byte) verdict {
	valid := utf8.Valid(in)
	fail := refFailAt(in)
	want := verdict{Valid: valid, ByteFail: fail, ByteDone: valid}
	end := byte('O')
	if valid {
		end = 'D'
	}
	want.Whole = end
	if fail >= 0 {
		want.Whole = 'F'
	}
	splits := make([]byte, len(in)+1)
	for s := range splits {
		switch {
		case fail < 0:
			splits[s] = end
		case fail < s:
			splits[s] = 'F'
		default:
			splits[s] = 'S'
		}
	}
	want.Splits = string(splits)
	return want
}

// checkAgainstReference reports a mismatch for in, if any.
func checkAgainstReference(t *testing.T, in []byte) bool {
	t.Helper()
	got, want := observe(in), expect(in)
	if got != want {
		t.Errorf("input % x: mismatch (-want +got):\n%s", in, cmp.Diff(want, got))
		return false
	}
	return true
}

// kuhnCases are the cases of Markus Kuhn's UTF-8 decoder stress test
// (UTF-8-test.txt), numbered as there, with the byte at which a fail-fast
// validator must stop (-1: none) and whether the whole input is valid.
var kuhnCases = []struct {
	name  string
	in    string
	valid bool
	fail  int
}{
	{"1 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true, -1},

	{"2.1.1 U+0000", "\x00", true, -1},
	{"2.1.2 U+0080", "\xc2\x80", true, -1},
	{"2.1.3 U+0800", "\xe0\xa0\x80", true, -1},
	{"2.1.4 U+10000", "\xf0\x90\x80\x80", true, -1},
	{"2.1.5 5-byte U+200000", "\xf8\x88\x80\x80\x80", false, 0},
	{"2.1.6 6-byte U+4000000", "\xfc\x84\x80\x80\x80\x80", false, 0},
	{"2.2.1 U+007F", "\x7f", true, -1},
	{"2.2.2 U+07FF", "\xdf\xbf", true, -1},
	{"2.2.3 U+FFFF", "\xef\xbf\xbf", true, -1},
	{"2.2.4 4-byte U+1FFFFF", "\xf7\xbf\xbf\xbf", false, 0},
	{"2.2.5 5-byte U+3FFFFFF", "\xfb\xbf\xbf\xbf\xbf", false, 0},
	{"2.2.6 6-byte U+7FFFFFFF", "\xfd\xbf\xbf\xbf\xbf\xbf", false, 0},
	{"2.3.1 U+D7FF", "\xed\x9f\xbf", true, -1},
	{"2.3.2 U+E000", "\xee\x80\x80", true, -1},
	{"2.3.3 U+FFFD", "\xef\xbf\xbd", true, -1},
	{"2.3.4 U+10FFFF", "\xf4\x8f\xbf\xbf", true, -1},
	{"2.3.5 U+110000", "\xf4\x90\x80\x80", false, 1},

	{"3.1.1 first continuation byte", "\x80", false, 0},
	{"3.1.2 last continuation byte", "\xbf", false, 0},
	{"3.1.3 2 continuation bytes", "\x80\xbf", false, 0},
	{"3.1.4 3 continuation bytes", "\x80\xbf\x80", false, 0},
	{"3.1.5 4 continuation bytes", "\x80\xbf\x80\xbf", false, 0},
	{"3.1.6 5 continuation bytes", "\x80\xbf\x80\xbf\x80", false, 0},
	{"3.1.7 6 continuation bytes", "\x80\xbf\x80\xbf\x80\xbf", false, 0},
	{"3.1.8 7 continuation bytes", "\x80\xbf\x80\xbf\x80\xbf\x80", false, 0},
	{"3.1.9 all 64 continuation bytes", byteRange(0x80, 0xbf, ""), false, 0},
	{"3.1 continuation after ASCII", "ab\x80", false, 2},
	{"3.1 continuation after a whole sequence", "\xc2\xa9\xa9", false, 2},
	{"3.2.1 2-byte leads, each followed by a space", byteRange(0xc0, 0xdf, " "), false, 0},
	{"3.2.1 C2 followed by a space", "\xc2 ", false, 1},
	{"3.2.1 DF followed by a space", "\xdf ", false, 1},
	{"3.2.2 3-byte leads, each followed by a space", byteRange(0xe0, 0xef, " "), false, 1},
	{"3.2.2 ED followed by a space", "\xed ", false, 1},
	{"3.2.3 4-byte leads, each followed by a space", byteRange(0xf0, 0xf7, " "), false, 1},
	{"3.2.3 F4 followed by a space", "\xf4 ", false, 1},
	{"3.2.3 F5 followed by a space", "\xf5 ", false, 0},
	{"3.2.4 5-byte leads, each followed by a space", byteRange(0xf8, 0xfb, " "), false, 0},
	{"3.2.5 6-byte leads, each followed by a space", byteRange(0xfc, 0xfd, " "), false, 0},
	{"3.3.1 2-byte U+0000 missing last byte", "\xc0", false, 0},
	{"3.3.2 3-byte U+0000 missing last byte", "\xe0\x80", false, 1},
	{"3.3.3 4-byte U+0000 missing last byte", "\xf0\x80\x80", false, 1},
	{"3.3.4 5-byte U+0000 missing last byte", "\xf8\x80\x80\x80", false, 0},
	{"3.3.5 6-byte U+0000 missing last byte", "\xfc\x80\x80\x80\x80", false, 0},
	{"3.3.6 U+07FF missing last byte", "\xdf", false, -1},
	{"3.3.7 U+FFFF missing last byte", "\xef\xbf", false, -1},
	{"3.3.8 4-byte U+1FFFFF missing last byte", "\xf7\xbf\xbf", false, 0},
	{"3.3.9 5-byte U+3FFFFFF missing last byte", "\xfb\xbf\xbf\xbf", false, 0},
	{"3.3.10 6-byte U+7FFFFFFF missing last byte", "\xfd\xbf\xbf\xbf\xbf", false, 0},
	{"3.3 U+10FFFF missing last byte", "\xf4\x8f\xbf", false, -1},
	{"3.3 U+10000 missing two bytes", "\xf0\x90", false, -1},
	{"3.4 concatenation of 3.3", "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80" +
		"\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf", false, 0},
	{"3.4 concatenation of the valid incomplete ones", "\xdf\xef\xbf\xf4\x8f\xbf", false, 1},
	{"3.5.1 FE", "\xfe", false, 0},
	{"3.5.2 FF", "\xff", false, 0},
	{"3.5.3 FE FE FF FF", "\xfe\xfe\xff\xff", false, 0},

	{"4.1.1 overlong 2-byte /", "\xc0\xaf", false, 0},
	{"4.1.2 overlong 3-byte /", "\xe0\x80\xaf", false, 1},
	{"4.1.3 overlong 4-byte /", "\xf0\x80\x80\xaf", false, 1},
	{"4.1.4 overlong 5-byte /", "\xf8\x80\x80\x80\xaf", false, 0},
	{"4.1.5 overlong 6-byte /", "\xfc\x80\x80\x80\x80\xaf", false, 0},
	{"4.2.1 maximum overlong 2-byte", "\xc1\xbf", false, 0},
	{"4.2.2 maximum overlong 3-byte", "\xe0\x9f\xbf", false, 1},
	{"4.2.3 maximum overlong 4-byte", "\xf0\x8f\xbf\xbf", false, 1},
	{"4.2.4 maximum overlong 5-byte", "\xf8\x87\xbf\xbf\xbf", false, 0},
	{"4.2.5 maximum overlong 6-byte", "\xfc\x83\xbf\xbf\xbf\xbf", false, 0},
	{"4.3.1 overlong 2-byte NUL", "\xc0\x80", false, 0},
	{"4.3.2 overlong 3-byte NUL", "\xe0\x80\x80", false, 1},
	{"4.3.3 overlong 4-byte NUL", "\xf0\x80\x80\x80", false, 1},
	{"4.3.4 overlong 5-byte NUL", "\xf8\x80\x80\x80\x80", false, 0},
	{"4.3.5 overlong 6-byte NUL", "\xfc\x80\x80\x80\x80\x80", false, 0},

	{"5.1.1 U+D800", "\xed\xa0\x80", false, 1},
	{"5.1.2 U+DB7F", "\xed\xad\xbf", false, 1},
	{"5.1.3 U+DB80", "\xed\xae\x80", false, 1},
	{"5.1.4 U+DBFF", "\xed\xaf\xbf", false, 1},
	{"5.1.5 U+DC00", "\xed\xb0\x80", false, 1},
	{"5.1.6 U+DF80", "\xed\xbe\x80", false, 1},
	{"5.1.7 U+DFFF", "\xed\xbf\xbf", false, 1},
	{"5.2.1 U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", false, 1},
	{"5.2.2 U+D800 U+DFFF", "\xed\xa0\x80\xed\xbf\xbf", false, 1},
	{"5.2.3 U+DB7F U+DC00", "\xed\xad\xbf\xed\xb0\x80", false, 1},
	{"5.2.4 U+DB7F U+DFFF", "\xed\xad\xbf\xed\xbf\xbf", false, 1},
	{"5.2.5 U+DB80 U+DC00", "\xed\xae\x80\xed\xb0\x80", false, 1},
	{"5.2.6 U+DB80 U+DFFF", "\xed\xae\x80\xed\xbf\xbf", false, 1},
	{"5.2.7 U+DBFF U+DC00", "\xed\xaf\xbf\xed\xb0\x80", false, 1},
	{"5.2.8 U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf", false, 1},
	{"5.3.1 U+FFFE", "\xef\xbf\xbe", true, -1},
	{"5.3.2 U+FFFF", "\xef\xbf\xbf", true, -1},
	{"5.3.3 U+FDD0", "\xef\xb7\x90", true, -1},
	{"5.3.4 U+1FFFE", "\xf0\x9f\xbf\xbe", true, -1},

	// Autobahn 6.3 and 6.4 send these payloads, the latter in fragments.
	{"autobahn 6.3.1 surrogate inside text", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", false, 12},
	{"autobahn 6.4.1 above U+10FFFF inside text", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited", false, 12},
}

// byteRange returns the bytes lo..hi, each followed by sep.
func byteRange(lo, hi byte, sep string) string {
	var b strings.Builder
	for c := int(lo); c <= int(hi); c++ {
		b.WriteByte(byte(c))
		b.WriteString(sep)
	}
	return b.String()
}

func TestKuhnStress(t *testing.T) {
	// Each case also runs behind ASCII of several lengths, so the word-wise
	// fast paths hand over to the byte rules at different offsets, and
	// with text after it.
	prefixes := []string{"", "a", "0123456", "01234567", "0123456789abcdef0123456789abcdef012345678", strings.Repeat("0123456789", 10)}
	for _, tc := range kuhnCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			// Pin the reference to the hand-derived answer first, so it
			// cannot drift into agreeing with a wrong implementation.
			if diff := cmp.Diff([2]any{tc.valid, tc.fail}, [2]any{utf8.Valid(in), refFailAt(in)}); diff != "" {
				t.Fatalf("reference disagrees with the table (-table +reference):\n%s", diff)
			}
			for _, pre := range prefixes {
				for _, post := range []string{"", "z", "\xc3\xa9 and more text after it"} {
					checkAgainstReference(t, []byte(pre+tc.in+post))
				}
			}
		})
	}
}

// interesting are second, third and fourth bytes worth trying after a lead
// byte: every continuation byte and the bytes around that range.
var interesting = func() []byte {
	b := []byte{0x00, 0x41, 0x7f, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff}
	for c := 0x80; c <= 0xbf; c++ {
		b = append(b, byte(c))
	}
	return b
}()

func TestExhaustive(t *testing.T) {
	// tails for the last bytes of four-byte inputs, where RFC 3629 only
	// asks for 80..BF: both ends of that range and both sides of them.
	tails := []byte{0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xff}
	var leads3 []byte
	for c := 0x80; c <= 0xff; c++ {
		leads3 = append(leads3, byte(c))
	}
	leads3 = append(leads3, 0x00, 0x41, 0x7f)
	leads4 := []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4}
	notLeads4 := []byte{0xf5, 0xf7, 0xf8, 0xe0, 0xed, 0xef, 0xc2, 0xdf, 0x80, 0xbf, 0x41, 0xff}

	tests := []struct {
		name  string
		bytes [][]byte // candidates for each position
	}{
		{"1 byte", [][]byte{allBytes()}},
		{"2 bytes", [][]byte{allBytes(), allBytes()}},
		{"3 bytes", [][]byte{leads3, interesting, interesting}},
		{"4 bytes", [][]byte{leads4, interesting, interesting, tails}},
		{"4 bytes, other leads", [][]byte{notLeads4, interesting, tails, tails}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && len(tc.bytes) > 2 {
				t.Skip("millions of inputs; run without -short")
			}
			in := make([]byte, len(tc.bytes))
			failures, count := 0, 0
			var walk func(pos int)
			walk = func(pos int) {
				if failures >= 10 {
					return
				}
				if pos == len(in) {
					count++
					if !checkAgainstReference(t, in) {
						failures++
					}
					return
				}
				for _, b := range tc.bytes[pos] {
					in[pos] = b
					walk(pos + 1)
				}
			}
			walk(0)
			t.Logf("%d inputs", count)
		})
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestEveryRune(t *testing.T) {
	// Every valid rune, alone and packed into one long input, must pass;
	// the three-byte form of every surrogate must be rejected.
	var all []byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		enc := []byte{0xed, byte(0x80 | (r>>6)&0x3f), byte(0x80 | r&0x3f)} // what a surrogate would look like
		if utf8.ValidRune(r) {
			enc = utf8.AppendRune(nil, r)
		}
		var v Validator
		got := [3]bool{Valid(enc), v.Write(enc), v.Done()}
		want := [3]bool{utf8.ValidRune(r), utf8.ValidRune(r), utf8.ValidRune(r)}
		if got != want {
			t.Fatalf("U+%04X % x: got Valid, Write, Done = %v, want %v", r, enc, got, want)
		}
		if utf8.ValidRune(r) {
			all = append(all, enc...)
		}
	}
	var v Validator
	if got := [3]bool{Valid(all), v.Write(all), v.Done()}; got != [3]bool{true, true, true} {
		t.Errorf("all runes in one input: got Valid, Write, Done = %v, want all true", got)
	}
}

func TestValidatorFragments(t *testing.T) {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	tests := []struct {
		name      string
		fragments []string
		want      []bool // result of each Write
		done      bool
	}{
		{"no data", nil, nil, true},
		{"empty fragments", []string{"", ""}, []bool{true, true}, true},
		{"2-byte split", []string{"\xce", "\xba"}, []bool{true, true}, true},
		{"4-byte split at every byte", []string{"\xf0", "\x9f", "\x98", "\x80"}, []bool{true, true, true, true}, true},
		{"empty fragment inside a sequence", []string{"\xe2\x82", "", "\xac"}, []bool{true, true, true}, true},
		{"ends inside a sequence", []string{"ok \xe2\x82"}, []bool{true}, false},
		{"autobahn 6.4.1: bad code point in its own fragment", []string{kosme, "\xf4\x90\x80\x80", "edited"}, []bool{true, false, false}, false},
		{"autobahn 6.4.2: bad code point split after F4", []string{kosme + "\xf4", "\x90\x80\x80", "edited"}, []bool{true, false, false}, false},
		{"autobahn 6.4.3: byte by byte", []string{kosme, "\xf4", "\x90", "\x80\x80edited"}, []bool{true, true, false, false}, false},
		{"surrogate split after ED", []string{"a\xed", "\xa0\x80"}, []bool{true, false}, false},
		{"last byte missing, then ASCII", []string{"\xe2\x82", "x"}, []bool{true, false}, false},
		{"sticky after failure", []string{"\xff", "valid text"}, []bool{false, false}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v Validator
			var got []bool
			for _, f := range tc.fragments {
				got = append(got, v.Write([]byte(f)))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Write results (-want +got):\n%s", diff)
			}
			if v.Done() != tc.done {
				t.Errorf("Done() = %v, want %v", v.Done(), tc.done)
			}
		})
	}
}

func TestValidatorReset(t *testing.T) {
	tests := []struct {
		name  string
		first string
	}{
		{"after a failure", "\xc0\xaf"},
		{"inside a sequence", "\xf0\x9f"},
		{"after valid text", "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v Validator
			v.Write([]byte(tc.first))
			v.Reset()
			got := [2]bool{v.Write([]byte("\xc3\xa9t\xc3\xa9")), v.Done()}
			if got != [2]bool{true, true} {
				t.Errorf("after Reset, Write and Done = %v, want both true", got)
			}
		})
	}
}

func TestFastPathOffsets(t *testing.T) {
	// One sequence, valid or not, placed behind and before ASCII runs of
	// every length around the 8- and 64-byte steps of the fast paths, so
	// that every hand-over between word-wise and byte-wise checking is
	// exercised; then the same inside a long mixed text.
	seqs := []string{
		"\xc3\xa9", "\xe4\xb8\x96", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", // valid
		"\x80", "\xc0", "\xed\xa0", "\xf4\x90", "\xe2\x82", "\xf0\x9f\x98", "\xff", // invalid or cut off
	}
	for _, seq := range seqs {
		for pre := 0; pre <= 150; pre++ {
			for post := 0; post <= 17; post++ {
				in := []byte(strings.Repeat("x", pre) + seq + strings.Repeat("y", post))
				if !checkAgainstReference(t, in) {
					return
				}
			}
		}
	}
	base := strings.Repeat("plain ascii, \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 and more ", 12)
	for _, seq := range seqs {
		for at := 0; at <= len(base); at += 7 {
			checkAgainstReference(t, []byte(base[:at]+seq+base[at:]))
		}
	}
}

func TestValidatorIsSmall(t *testing.T) {
	// A connection embeds a Validator; it must add no pointer for the
	// garbage collector to scan and almost no size.
	typ := reflect.TypeFor[Validator]()
	for f := range typ.Fields() {
		switch f.Type.Kind() {
		case reflect.Bool, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Int, reflect.Int64:
		default:
			t.Errorf("field %s has kind %v, want a plain integer", f.Name, f.Type.Kind())
		}
	}
	if size := unsafe.Sizeof(Validator{}); size > 8 {
		t.Errorf("Validator is %d bytes, want at most 8", size)
	}
}

func TestNoAllocations(t *testing.T) {
	in := []byte(strings.Repeat("h\xc3\xa9llo w\xc3\xb6rld \xe4\xb8\x96\xe7\x95\x8c ", 100))
	var v Validator
	allocs := testing.AllocsPerRun(100, func() {
		v.Reset()
		v.Write(in[:501])
		v.Write(in[501:])
		_ = v.Done()
		_ = Valid(in)
	})
	if allocs != 0 {
		t.Errorf("Write and Valid allocate %v times per run, want 0", allocs)
	}
}
