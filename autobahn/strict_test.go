package autobahn

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"

	"unievent.dev/internal/wstest"
)

// rawHeader returns a frame header written by hand: the first byte, the
// length field as given (7-bit value, then its extension bytes), a
// zero masking key when masked (which leaves the payload as it is).
func rawHeader(b0 byte, masked bool, length byte, ext ...byte) []byte {
	b1 := length
	if masked {
		b1 |= 0x80
	}
	h := append([]byte{b0, b1}, ext...)
	if masked {
		h = append(h, 0, 0, 0, 0)
	}
	return h
}

func len64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// failsWith is a case on a connection with the given offer ("" for none)
// where the frames must fail the connection with code, and nothing else
// comes back.
func failsWith(id, desc, offer string, code int, frames ...[]byte) testCase {
	return testCase{id: id, desc: desc, run: func(e *env) error {
		var p *peer
		var err error
		if offer == "" {
			p, err = e.dial(nil)
		} else {
			p, err = e.dialDeflate(offer)
		}
		if err != nil {
			return err
		}
		if offer != "" && p.pmd == nil {
			return fmt.Errorf("offer %q declined", offer)
		}
		if err := whole(frames...)(p); err != nil {
			return err
		}
		return p.expectFailure(code)
	}}
}

// fromDictionary compresses p with p itself as a preset dictionary the
// server never saw: its back-references reach before the start of the
// message.
func fromDictionary(p []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriterDict(&buf, flate.BestCompression, p)
	w.Write(p)
	w.Flush()
	return buf.Bytes()[:buf.Len()-4]
}

// strictCases are family F, what Autobahn leaves out of framing,
// permessage-deflate data and close codes.
func strictCases() []testCase {
	hello := b("Hello, world!")
	z := wstest.Deflate(hello)
	closeFrame := func(code int) []byte { return frame(true, 0, 8, wstest.ClosePayload(code, "")) }
	pmd := "permessage-deflate"
	beforeStart := fromDictionary(sample(5, 2000))
	if _, _, err := (&wstest.Inflater{NoContextTakeover: true}).Inflate(beforeStart); err == nil {
		panic("autobahn: F.2.8's payload inflates on its own") // the case would test nothing
	}
	cases := []testCase{
		failsWith("F.1.1", "a 64-bit length with its most significant bit set", "", 1002,
			rawHeader(0x82, true, 127, len64(1<<63|5)...), []byte("hello")),
		failsWith("F.1.2", "an unmasked client frame", "", 1002, rawHeader(0x81, false, 5), []byte("hello")),
		failsWith("F.1.3", "a length in 16 bits where 7 would do (RFC 6455 section 5.2: minimal encoding)", "", 1002,
			rawHeader(0x81, true, 126, 0, 5), []byte("hello")),
		failsWith("F.1.4", "a length in 64 bits where 16 would do", "", 1002,
			rawHeader(0x82, true, 127, len64(200)...), make([]byte, 200)),
		failsWith("F.1.5", "a frame announcing one byte more than MaxFrameSize: 1009 from its header", "", 1009,
			rawHeader(0x82, true, 127, len64(maxMessageSize+1)...)),
		failsWith("F.1.6", "fragments adding up to one byte more than MaxMessageSize: 1009 from the last header", "", 1009,
			frame(false, 0, 2, b("x")), rawHeader(0x80, true, 127, len64(maxMessageSize)...)),
		failsWith("F.2.1", "RSV1 on a ping with permessage-deflate agreed", pmd, 1002, frame(true, 4, 9, nil)),
		failsWith("F.2.2", "RSV1 on a pong with permessage-deflate agreed", pmd, 1002, frame(true, 4, 10, nil)),
		failsWith("F.2.3", "RSV1 on a close with permessage-deflate agreed", pmd, 1002, frame(true, 4, 8, wstest.ClosePayload(1000, ""))),
		failsWith("F.2.4", "RSV1 on a continuation frame", pmd, 1002, frame(false, 4, 1, z), frame(true, 4, 0, nil)),
		failsWith("F.2.5", "RSV2 with permessage-deflate agreed", pmd, 1002, frame(true, 6, 1, z)),
		failsWith("F.2.6", "corrupt DEFLATE data: 1007", pmd, 1007, frame(true, 4, 2, []byte{0xff, 0xff, 0xff, 0xff})),
		failsWith("F.2.7", "a reserved DEFLATE block type: 1007", pmd, 1007, frame(true, 4, 2, []byte{0x07, 0x00})),
		failsWith("F.2.8", "a back-reference before the start of the message: 1007", pmd, 1007,
			frame(true, 4, 2, beforeStart)),
		failsWith("F.2.9", "a compressed text that inflates to invalid UTF-8: 1007", pmd, 1007,
			frame(true, 4, 1, wstest.Deflate(append(append([]byte(nil), kosme...), 0xed, 0xa0, 0x80)))),
		failsWith("F.2.10", "a compressed message inflating past MaxMessageSize: 1009 while inflating", pmd, 1009,
			frame(true, 4, 2, wstest.DeflateBomb(maxMessageSize>>20+1))),
		// With 00 00 ff ff appended (RFC 7692 section 7.2.2), an empty
		// payload is a stored block header cut short: not DEFLATE data.
		failsWith("F.2.11", "RSV1 with an empty payload: DEFLATE data that ends inside a block, 1007", pmd, 1007,
			frame(true, 4, 1, nil)),
		closing("F.3.1", "close code 1012 (IANA: service restart) echoed", [][]byte{closeFrame(1012)}, 1012),
		closing("F.3.2", "close code 1013 (IANA: try again later) echoed", [][]byte{closeFrame(1013)}, 1013),
		closing("F.3.3", "close code 1014 (IANA: bad gateway) echoed", [][]byte{closeFrame(1014)}, 1014),
		closing("F.3.4", "close code 1015 (reporting only)", [][]byte{closeFrame(1015)}, 1002),
		{id: "F.4.1", desc: "a close, then the client's FIN at once: the close echoed, then the end", run: halfClose},
		scripted("F.4.2", "a text split inside a code point with a ping between the halves: pong, then the echo",
			whole(frame(false, 0, 1, kosme[:3]), frame(true, 0, 9, b("mid")), frame(true, 0, 0, kosme[3:])),
			clean, pong(b("mid")), echo(1, kosme)),
		{id: "F.4.3", desc: "a close with a reason written octet-wise", run: func(e *env) error {
			p, err := e.dial(nil)
			if err != nil {
				return err
			}
			if err := octetWise(frame(true, 0, 8, wstest.ClosePayload(1001, "going away")))(p); err != nil {
				return err
			}
			return p.expect(closed(1001), eof)
		}},
	}
	return cases
}

// halfClose is F.4.1: a client that writes its close and shuts its side of
// the TCP connection down in the same breath still gets the close echoed
// (on the client side: a server doing so, which RFC 6455 section 7.1.1
// has it do once the handshake is over, gets the echo and then the
// client's end).
func halfClose(e *env) error {
	p, err := e.dial(nil)
	if err != nil {
		return err
	}
	if err := p.write(frame(true, 0, 8, wstest.ClosePayload(1000, ""))); err != nil {
		return err
	}
	if err := p.closeWrite(); err != nil {
		return err
	}
	return p.expect(closed(1000), eof)
}
