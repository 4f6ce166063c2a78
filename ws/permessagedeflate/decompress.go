package permessagedeflate

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
)

// ErrMessageTooBig reports a message whose inflated size exceeds the limit
// given to Decompress. The connection closes with 1009 (message too big,
// RFC 6455 section 7.4.1).
var ErrMessageTooBig = errors.New("permessagedeflate: inflated message exceeds the limit")

// ErrCorrupt reports a compressed payload that is not valid DEFLATE data,
// ends inside a block, or reaches back further than the agreed window.
// The connection closes with 1007 (invalid frame payload data, RFC 6455
// section 7.4.1): the frames themselves were well formed, so it is not a
// protocol error (1002), but their payload is not consistent with the
// compression the RSV1 bit declared, the same kind of failure as a text
// message that is not UTF-8. Errors returned wrap ErrCorrupt; test with
// errors.Is.
var ErrCorrupt = errors.New("permessagedeflate: invalid compressed data")

// Decompressor inflates the messages a server receives on one connection
// (RFC 7692 section 7.2.2). It is not safe for concurrent use.
//
// The compress/flate reader comes from a pool for every message. With
// context takeover the Decompressor keeps the last 2^ClientMaxWindowBits
// bytes of output and hands them to the reader as its dictionary for the
// next message; that copy, 32 KiB at 15 bits, is all a connection holds
// between messages. Without context takeover it holds nothing.
type Decompressor struct {
	window   int // how much history a back-reference may reach
	takeover bool
	released bool
	hist     []byte // the last window bytes of output, with context takeover
}

// NewDecompressor returns the decompressor for a connection with the
// agreed parameters p.
func NewDecompressor(p Params) *Decompressor {
	return &Decompressor{
		window:   1 << bitsOr15(p.ClientMaxWindowBits),
		takeover: !p.ClientNoContextTakeover,
	}
}

// Release drops the history. The Decompressor must not be used
// afterwards; Decompress then fails.
func (d *Decompressor) Release() {
	d.released = true
	d.hist = nil
}

// tail ends every payload: the 00 00 ff ff that section 7.2.2 puts back,
// then an empty stored block with BFINAL set, so that compress/flate
// reports io.EOF exactly when the message ended at a block boundary and an
// error when it ended inside a block.
var tail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// source reads a payload followed by tail. It implements io.ByteReader,
// so compress/flate reads from it directly, never ahead of what it decodes.
type source struct {
	payload []byte
	off     int // bytes read, of payload then tail
}

func (s *source) ReadByte() (byte, error) {
	if s.off < len(s.payload) {
		b := s.payload[s.off]
		s.off++
		return b, nil
	}
	if i := s.off - len(s.payload); i < len(tail) {
		s.off++
		return tail[i], nil
	}
	return 0, io.EOF
}

func (s *source) Read(b []byte) (int, error) {
	n := 0
	if s.off < len(s.payload) {
		n = copy(b, s.payload[s.off:])
		s.off += n
	}
	if i := s.off - len(s.payload); n < len(b) && i >= 0 && i < len(tail) {
		m := copy(b[n:], tail[i:])
		s.off += m
		n += m
	}
	if n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (s *source) remaining() int { return len(s.payload) + len(tail) - s.off }

// inflater is a pooled compress/flate reader with its source. The reader's
// own 32 KiB window and tables (about 40 KiB) are never held by an idle
// connection.
type inflater struct {
	src source
	fr  io.ReadCloser
}

var inflaterPool = sync.Pool{New: func() any {
	inf := new(inflater)
	inf.fr = flate.NewReader(&inf.src)
	return inf
}}

// Restarts after a block with BFINAL set each cost a reader reset (a
// dictionary copy plus about 8 KiB of tables). They are allowed up to a
// budget proportional to the input, so a payload of tiny final blocks
// cannot make inflating cost much more than its size.
const (
	restartCost        = 8 << 10
	restartBudgetBase  = 1 << 20
	restartBudgetPerIn = 32
)

// Decompress inflates one whole compressed message, payload being all its
// frames' payloads joined, without the 00 00 ff ff tail (section 7.2.2),
// and appends the result to dst. It stops with ErrMessageTooBig as soon as
// the output would exceed limit bytes, so memory stays near the limit
// whatever the payload claims to hold; a negative limit counts as 0. On an
// error dst is returned unchanged in content, and the Decompressor must
// not be used for further messages (the connection is failing anyway).
//
// A block with BFINAL set inside the payload is accepted: RFC 7692 section
// 7.2.3.4 allows it, and the next block starts at the next byte with the
// window carried on.
func (d *Decompressor) Decompress(dst, payload []byte, limit int) ([]byte, error) {
	if d.released {
		return dst, errReleased
	}
	limit = min(max(limit, 0), math.MaxInt-1)
	start := len(dst)
	inf := inflaterPool.Get().(*inflater)
	defer func() {
		inf.src = source{}
		inflaterPool.Put(inf)
	}()
	inf.src = source{payload: payload}
	var dict []byte
	if d.takeover {
		dict = d.hist
	}
	if err := inf.fr.(flate.Resetter).Reset(&inf.src, dict); err != nil {
		return dst[:start], fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	merged := 0 // output already moved into d.hist by a restart
	spent := 0  // restart cost so far
	for {
		produced := len(dst) - start
		if len(dst) == cap(dst) {
			// Grow by what was produced so far, but never past the
			// limit: a bomb then costs about limit bytes.
			dst = slices.Grow(dst, min(limit+1-produced, max(produced, 4*len(payload), 512)))
		}
		room := dst[len(dst):cap(dst)]
		room = room[:min(len(room), limit+1-produced)]
		n, err := inf.fr.Read(room)
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start], ErrMessageTooBig
		}
		if err == nil {
			continue
		}
		if err != io.EOF {
			return dst[:start], fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if inf.src.remaining() == 0 {
			break // the final block of tail: the message ended cleanly
		}
		// A final block inside the payload: go on from the next byte.
		out := dst[start:]
		if d.takeover {
			d.remember(out[merged:])
			merged = len(out)
			dict = d.hist
		} else {
			dict = out[max(0, len(out)-d.window):]
		}
		spent += restartCost + len(dict)
		if spent > restartBudgetBase+restartBudgetPerIn*inf.src.off {
			return dst[:start], fmt.Errorf("%w: too many blocks with BFINAL set", ErrCorrupt)
		}
		if err := inf.fr.(flate.Resetter).Reset(&inf.src, dict); err != nil {
			return dst[:start], fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	if d.takeover {
		d.remember(dst[start+merged:])
	}
	return dst, nil
}

// remember appends b to the history, keeping the last window bytes: a
// client that agreed to a window of 2^bits never refers back further
// (section 7.1.2.2), and compress/flate rejects one that does.
func (d *Decompressor) remember(b []byte) {
	if d.hist == nil {
		d.hist = make([]byte, 0, d.window)
	}
	if len(b) >= d.window {
		d.hist = append(d.hist[:0], b[len(b)-d.window:]...)
		return
	}
	if over := len(d.hist) + len(b) - d.window; over > 0 {
		d.hist = d.hist[:copy(d.hist, d.hist[over:])]
	}
	d.hist = append(d.hist, b...)
}
