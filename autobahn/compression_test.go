package autobahn

import (
	"fmt"
	"slices"
	"strings"

	"unievent.dev/ws/permessagedeflate"
)

// messageSizes are Autobahn's 12.x and 13.x sizes: message length and the
// size of the frames the client cuts its compressed payload into (0: one
// frame).
var messageSizes = []struct{ n, frag int }{
	{16, 0}, {64, 0}, {256, 0}, {1024, 0}, {4096, 0}, {8192, 0}, {16384, 0}, {32768, 0}, {65536, 0}, {131072, 0},
	{8192, 256}, {16384, 256}, {32768, 256}, {65536, 256}, {131072, 256},
	{131072, 1024}, {131072, 4096}, {131072, 32768},
}

// messageCount is how many messages a compression case sends: Autobahn's
// 1000 with -autobahn.full, otherwise about 128 KiB worth, at most 64 and
// never fewer than two, so that every case carries context over from one
// message to the next.
func messageCount(n int) int {
	if *full {
		return 1000
	}
	return min(64, max(2, (128<<10)/n))
}

// An offer is what the client sends in Sec-WebSocket-Extensions, in the
// form of Autobahn's PerMessageDeflateOffer, and the parameters the
// testee must answer with (it takes the first valid offer as asked, and
// echoes the client's client_no_context_takeover hint).
type offer struct {
	header string
	answer []string
}

// autobahnOffer spells an offer as Autobahn's client does: it always
// accepts no context takeover and a limited window for its own messages,
// and may ask the server for either.
func autobahnOffer(serverNoContextTakeover bool, serverBits int) string {
	s := "permessage-deflate; client_no_context_takeover; client_max_window_bits"
	if serverNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if serverBits != 0 {
		s += fmt.Sprintf("; server_max_window_bits=%d", serverBits)
	}
	return s
}

// compressionPayloadCases are Autobahn's 12.x: the default offer, five
// corpora, every size.
func compressionPayloadCases() []testCase {
	o := offer{autobahnOffer(false, 0), []string{"client_no_context_takeover"}}
	var cases []testCase
	for i, c := range corpora() {
		for j, s := range messageSizes {
			cases = append(cases, compressionCase(fmt.Sprintf("12.%d.%d", i+1, j+1), c, o, s.n, s.frag))
		}
	}
	return cases
}

// compressionParameterCases are Autobahn's 13.x: the JSON corpus with
// each of Autobahn's offers, the last one a list of three.
func compressionParameterCases() []testCase {
	offers := []offer{
		{autobahnOffer(false, 0), []string{"client_no_context_takeover"}},
		{autobahnOffer(true, 0), []string{"client_no_context_takeover", "server_no_context_takeover"}},
		{autobahnOffer(false, 9), []string{"client_no_context_takeover", "server_max_window_bits=9"}},
		{autobahnOffer(false, 15), []string{"client_no_context_takeover", "server_max_window_bits=15"}},
		{autobahnOffer(true, 9), []string{"client_no_context_takeover", "server_no_context_takeover", "server_max_window_bits=9"}},
		{autobahnOffer(true, 15), []string{"client_no_context_takeover", "server_no_context_takeover", "server_max_window_bits=15"}},
		{strings.Join([]string{autobahnOffer(true, 9), autobahnOffer(true, 0), autobahnOffer(false, 0)}, ", "),
			[]string{"client_no_context_takeover", "server_no_context_takeover", "server_max_window_bits=9"}},
	}
	json := corpora()[0]
	var cases []testCase
	for i, o := range offers {
		for j, s := range messageSizes {
			cases = append(cases, compressionCase(fmt.Sprintf("13.%d.%d", i+1, j+1), json, o, s.n, s.frag))
		}
	}
	return cases
}

// compressionCase sends messageCount(n) compressed messages of about n
// bytes, each once the previous echo is back, and checks the answer to
// the offer, every echo byte for byte, that the server compressed what
// is worth compressing, and (in the peer's reader) that its messages
// inflate as the agreed context takeover says, within its agreed window.
func compressionCase(id string, c corpus, o offer, n, frag int) testCase {
	count := messageCount(n)
	desc := fmt.Sprintf("%d messages of %d bytes from %s, frames of %d, offer %q", count, n, c.name, frag, o.header)
	return testCase{id: id, desc: desc, run: func(e *env) error {
		p, err := e.dialDeflate(o.header)
		if err != nil {
			return err
		}
		if err := checkAnswer(p, o.answer); err != nil {
			return err
		}
		op := byte(1)
		if c.binary {
			op = 2
		}
		src := &slicer{c: c}
		threshold := permessagedeflate.DefaultThreshold // the testee's Threshold is 0
		for i := range count {
			msg := src.next(n)
			if err := p.write(p.compressed(op, msg, frag)); err != nil {
				return err
			}
			ev, err := p.next(p.deadline)
			if err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
			if err := echo(op, msg).check(ev); err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
			if want := len(msg) >= threshold; ev.compressed != want {
				return fmt.Errorf("message %d of %d bytes: compressed %v, want %v (threshold %d)", i+1, len(msg), ev.compressed, want, threshold)
			}
		}
		return p.closeNormally()
	}}
}

// checkAnswer compares the parameters of the server's permessage-deflate
// answer with want, in any order (RFC 7692 gives them none).
func checkAnswer(p *peer, want []string) error {
	got := p.resp.Header.Values("Sec-WebSocket-Extensions")
	if want == nil {
		if len(got) != 0 {
			return fmt.Errorf("extension answered %q, want none", got)
		}
		return nil
	}
	if len(got) != 1 {
		return fmt.Errorf("extension answered %q, want one permessage-deflate", got)
	}
	params := strings.Split(got[0], ";")
	for i := range params {
		params[i] = strings.TrimSpace(params[i])
	}
	if params[0] != "permessage-deflate" {
		return fmt.Errorf("answer %q is not permessage-deflate", got[0])
	}
	gotParams := slices.Sorted(slices.Values(params[1:]))
	wantParams := slices.Sorted(slices.Values(want))
	if !slices.Equal(gotParams, wantParams) {
		return fmt.Errorf("answer %q, want permessage-deflate with %q", got[0], wantParams)
	}
	return nil
}
