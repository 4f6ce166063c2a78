package autobahn

import (
	"fmt"
	"strings"
)

// sample returns n bytes of text with repeats at every distance up to
// n, so that a compressor reaches as far back as its window lets it.
func sample(seed, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		out = fmt.Appendf(out, "{\"seq\":%d,\"seed\":%d,\"word\":\"%s\"}\n", i%97, seed, strings.Repeat("ab", i%13))
	}
	return out[:n]
}

// offerCase dials with header as the offer, checks the answer (nil: the
// offer must be declined) and echoes messages: compressed ones when the
// offer was taken (the peer's reader checks the window and the context
// takeover of every echo), plain ones otherwise.
func offerCase(id, desc, header string, answer []string, msgs ...[]byte) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dialDeflate(header)
		if err != nil {
			return err
		}
		if err := checkAnswer(p, answer); err != nil {
			return err
		}
		for i, m := range msgs {
			var f []byte
			if p.pmd != nil {
				f = p.compressed(2, m, 0)
			} else {
				f = frame(true, 0, 2, m)
			}
			if err := p.write(f); err != nil {
				return err
			}
			ev, err := p.next(p.deadline)
			if err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
			if err := echo(2, m).check(ev); err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
			if ev.compressed != (p.pmd != nil) {
				return fmt.Errorf("message %d of %d bytes: compressed %v with the extension %v", i+1, len(m), ev.compressed, p.pmd != nil)
			}
		}
		return p.closeNormally()
	}}
}

// offerCases are family P, the permessage-deflate negotiation of RFC 7692
// that Autobahn's few offers leave out: offers that must be declined,
// every window size in both directions, quoted values, context takeover
// in both directions, and uncompressed messages between compressed ones.
func offerCases() []testCase {
	msgs := [][]byte{sample(1, 20000), sample(2, 40000), sample(1, 20000)}
	var cases []testCase
	for i, o := range []string{
		"permessage-deflate; bogus",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
		"permessage-deflate; server_max_window_bits=7",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits=08",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; server_max_window_bits=abc",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; client_max_window_bits=16",
		"permessage-deflate; server_no_context_takeover=1",
		`permessage-deflate; client_no_context_takeover="x"`,
		"x-webkit-deflate-frame",
		"permessage-deflate; bogus, permessage-deflate; server_max_window_bits=20",
	} {
		cases = append(cases, offerCase(fmt.Sprintf("P.1.%d", i+1), "declined: "+o, o, nil, msgs...))
	}
	for bits := 8; bits <= 15; bits++ {
		o := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d", bits)
		cases = append(cases, offerCase(fmt.Sprintf("P.2.%d", bits-7),
			fmt.Sprintf("server window of %d bits: no back-reference beyond %d bytes", bits, 1<<bits),
			o, []string{fmt.Sprintf("server_max_window_bits=%d", bits)}, msgs...))
	}
	for bits := 8; bits <= 15; bits++ {
		o := fmt.Sprintf("permessage-deflate; client_max_window_bits=%d", bits)
		answer := []string{fmt.Sprintf("client_max_window_bits=%d", bits)}
		if bits == 15 {
			answer = []string{} // the testee does not lower it, and 15 needs no answer
		}
		cases = append(cases, offerCase(fmt.Sprintf("P.3.%d", bits-7),
			fmt.Sprintf("client window of %d bits offered", bits), o, answer, msgs...))
	}
	cases = append(cases,
		offerCase("P.4.1", "client_max_window_bits without a value", "permessage-deflate; client_max_window_bits", []string{}, msgs...),
		offerCase("P.4.2", "a quoted value (RFC 6455 section 9.1 allows it)", `permessage-deflate; server_max_window_bits="10"`,
			[]string{"server_max_window_bits=10"}, msgs...),
		offerCase("P.4.3", "an invalid offer first, a valid one second: the second is taken",
			"permessage-deflate; server_max_window_bits=0, permessage-deflate; server_max_window_bits=11",
			[]string{"server_max_window_bits=11"}, msgs...),
		offerCase("P.4.4", "parameters in another order, with white space",
			"permessage-deflate ;server_max_window_bits=12 ;  server_no_context_takeover",
			[]string{"server_max_window_bits=12", "server_no_context_takeover"}, msgs...),
		offerCase("P.5.1", "context takeover both ways: the client's and the server's messages refer to earlier ones",
			"permessage-deflate", []string{}, msgs...),
		offerCase("P.5.2", "server_no_context_takeover: each of the server's messages inflates alone",
			"permessage-deflate; server_no_context_takeover", []string{"server_no_context_takeover"}, msgs...),
		offerCase("P.5.3", "client_no_context_takeover: answered, the client resets its compressor",
			"permessage-deflate; client_no_context_takeover", []string{"client_no_context_takeover"}, msgs...),
		offerCase("P.5.4", "no context takeover both ways, small windows both ways",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
			[]string{"server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits=9", "client_max_window_bits=9"}, msgs...),
		mixedCompression(),
		emptyCompressed("P.6.1", "a compressed message of the single byte 00 (RFC 7692 section 7.2.3.6: an empty block): an empty echo",
			func(*peer) [][]byte { return [][]byte{frame(true, 4, 1, []byte{0})} }, nil),
		emptyCompressed("P.6.2", "a compressed empty message as a compressor writes it",
			func(p *peer) [][]byte { return [][]byte{p.compressed(1, nil, 0)} }, nil),
		emptyCompressed("P.6.3", "a compressed message whose first frame (with RSV1) is empty",
			func(p *peer) [][]byte {
				return [][]byte{frame(false, 4, 2, nil), frame(true, 0, 0, p.deflater.Deflate(sample(6, 5000)))}
			}, sample(6, 5000)),
	)
	return cases
}

// emptyCompressed is a P.6 case: the frames (built once the extension is
// agreed with context takeover both ways) carry one compressed message
// that must come back as want.
func emptyCompressed(id, desc string, frames func(*peer) [][]byte, want []byte) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dialDeflate("permessage-deflate")
		if err != nil {
			return err
		}
		if err := checkAnswer(p, []string{}); err != nil {
			return err
		}
		if err := whole(frames(p)...)(p); err != nil {
			return err
		}
		op := byte(1)
		if want != nil {
			op = 2
		}
		if err := p.expect(echo(op, want)); err != nil {
			return err
		}
		return p.closeNormally()
	}}
}

// mixedCompression is P.5.5: with context takeover both ways, an
// uncompressed message (RSV1 clear, RFC 7692 section 6) between compressed
// ones is echoed, and leaves both windows as they were; a compressed
// message in fragments with a ping between them is answered at once.
func mixedCompression() testCase {
	return testCase{id: "P.5.5", desc: "uncompressed messages and control frames between compressed ones", run: func(e *env) error {
		p, err := e.dialDeflate("permessage-deflate")
		if err != nil {
			return err
		}
		if err := checkAnswer(p, []string{}); err != nil {
			return err
		}
		a, plain := sample(3, 30000), sample(4, 1000)
		if err := p.write(p.compressed(1, a, 0)); err != nil {
			return err
		}
		if err := p.write(frame(true, 0, 1, plain)); err != nil {
			return err
		}
		z := p.deflater.Deflate(a)
		split := len(z) / 2
		if err := p.write(frame(false, 4, 1, z[:split])); err != nil {
			return err
		}
		if err := p.write(frame(true, 0, 9, b("between"))); err != nil {
			return err
		}
		if err := p.write(frame(true, 0, 0, z[split:])); err != nil {
			return err
		}
		if err := p.expect(echo(1, a), echo(1, plain), pong(b("between")), echo(1, a)); err != nil {
			return err
		}
		return p.closeNormally()
	}}
}
