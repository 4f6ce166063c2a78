package utf8stream

// Validator checks text that arrives in pieces, such as the fragments of a
// WebSocket text message. Its zero value is ready to use; it holds no
// pointers and takes one byte, so it can live inside a connection value.
type Validator struct {
	state uint8
}

// States of the RFC 3629 recogniser. Each state stands for the exact set of
// bytes that may come next, so the machine rejects at the first byte after
// which no completion can be valid.
const (
	stAccept  uint8 = iota // between sequences
	stReject               // a byte ruled out every completion; sticky
	stTail1                // one more byte 80..BF
	stTail2                // two more bytes 80..BF
	stTail3                // three more bytes 80..BF
	stAfterE0              // A0..BF, then one more: no overlong 3-byte forms
	stAfterED              // 80..9F, then one more: no surrogates D800..DFFF
	stAfterF0              // 90..BF, then two more: no overlong 4-byte forms
	stAfterF4              // 80..8F, then two more: nothing above U+10FFFF
)

// Byte classes: the RFC 3629 table only distinguishes these ranges.
const (
	clASCII  uint8 = iota // 00..7F
	clCont80              // 80..8F
	clCont90              // 90..9F
	clContA0              // A0..BF
	clNever               // C0, C1, F5..FF: never appear in UTF-8
	clLead2               // C2..DF
	clE0                  // E0
	clLead3               // E1..EC, EE, EF
	clED                  // ED
	clF0                  // F0
	clLead4               // F1..F3
	clF4                  // F4
)

var (
	byteClass = makeByteClass()
	// transition is indexed by state<<4 | class; with both below 16 a
	// uint8 index never leaves the array, so lookups need no bounds check.
	transition = makeTransition()
)

func makeByteClass() (t [256]uint8) {
	for b := range 256 {
		var c uint8
		switch {
		case b < 0x80:
			c = clASCII
		case b < 0x90:
			c = clCont80
		case b < 0xA0:
			c = clCont90
		case b < 0xC0:
			c = clContA0
		case b < 0xC2:
			c = clNever
		case b < 0xE0:
			c = clLead2
		case b == 0xE0:
			c = clE0
		case b == 0xED:
			c = clED
		case b < 0xF0:
			c = clLead3
		case b == 0xF0:
			c = clF0
		case b < 0xF4:
			c = clLead4
		case b == 0xF4:
			c = clF4
		default:
			c = clNever
		}
		t[b] = c
	}
	return t
}

func makeTransition() (t [256]uint8) {
	for i := range t {
		t[i] = stReject
	}
	set := func(from uint8, to uint8, classes ...uint8) {
		for _, c := range classes {
			t[from<<4|c] = to
		}
	}
	set(stAccept, stAccept, clASCII)
	set(stAccept, stTail1, clLead2)
	set(stAccept, stAfterE0, clE0)
	set(stAccept, stTail2, clLead3)
	set(stAccept, stAfterED, clED)
	set(stAccept, stAfterF0, clF0)
	set(stAccept, stTail3, clLead4)
	set(stAccept, stAfterF4, clF4)
	set(stTail1, stAccept, clCont80, clCont90, clContA0)
	set(stTail2, stTail1, clCont80, clCont90, clContA0)
	set(stTail3, stTail2, clCont80, clCont90, clContA0)
	set(stAfterE0, stTail1, clContA0)
	set(stAfterED, stTail1, clCont80, clCont90)
	set(stAfterF0, stTail2, clCont90, clContA0)
	set(stAfterF4, stTail2, clCont80)
	return t
}

func step(s, b uint8) uint8 {
	return transition[s<<4|byteClass[b]]
}

// Write feeds the next bytes of the text. It returns false as soon as the
// bytes fed so far cannot be the start of valid UTF-8, so a caller can fail
// the connection (RFC 6455 section 8.1) without waiting for more data; the
// bytes after the offending one are not examined. Once false, Write keeps
// returning false until Reset. A sequence split between calls, at any byte,
// is carried over.
func (v *Validator) Write(p []byte) bool {
	s := v.state
	i := 0
	// Finish a sequence left open by the previous call.
	for s != stAccept && s != stReject && i < len(p) {
		s = step(s, p[i])
		i++
	}
	if s == stAccept {
		i += scanWhole(p[i:])
		// What is left begins with a sequence that is either invalid (the
		// machine rejects it within four bytes) or cut off by the end of p.
		for ; i < len(p) && s != stReject; i++ {
			s = step(s, p[i])
		}
	}
	v.state = s
	return s != stReject
}

// Done reports whether everything fed since the last Reset is valid UTF-8
// with no sequence left unfinished: call it at the end of a message.
func (v *Validator) Done() bool {
	return v.state == stAccept
}

// Reset forgets everything fed so far, readying v for the next message.
func (v *Validator) Reset() {
	v.state = stAccept
}
