package permessagedeflate

import (
	"errors"
	"math"
	"sync"
)

// ErrMessageTooBig reports a message whose inflated size exceeds the limit
// given to Decompress or Begin. The connection closes with 1009 (message
// too big, RFC 6455 section 7.4.1).
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

// errNoMessage reports Feed or End without Begin.
var errNoMessage = errors.New("permessagedeflate: Feed or End outside a message (call Begin first)")

// Decompressor inflates the messages a server receives on one connection
// (RFC 7692 section 7.2.2). It is not safe for concurrent use.
//
// A message is inflated either whole, with Decompress once all its frames
// have arrived, or as it arrives: Begin, then Feed for each piece of
// payload (a frame's, or any part of one), then End. Both give the same
// output and the same errors for the same bytes.
//
// The decoder's state for a message (its Huffman tables, about 14 KiB)
// comes from a pool. Between messages a connection holds only its window:
// with context takeover the last 2^ClientMaxWindowBits bytes of output (32
// KiB at 15 bits), which later messages may refer back to; without it,
// nothing. A message inflated with Feed also needs that window between
// calls, taken from a pool when context takeover is off.
//
// Back-references farther than 2^ClientMaxWindowBits bytes are corrupt
// data, within a message as well as into earlier ones: a client that
// agreed to client_max_window_bits never makes them (section 7.1.2.2).
//
// After an error the Decompressor stays failed: every later call returns
// that error, since with context takeover the window would be wrong.
type Decompressor struct {
	window    int // how much history a back-reference may reach
	bits      int
	takeover  bool
	released  bool
	inMessage bool
	err       error     // sticky
	inf       *inflater // during a message
	hist      *history  // window; with context takeover kept between messages
}

// NewDecompressor returns the decompressor for a connection with the
// agreed parameters p.
func NewDecompressor(p Params) *Decompressor {
	bits := bitsOr15(p.ClientMaxWindowBits)
	return &Decompressor{
		window:   1 << bits,
		bits:     bits,
		takeover: !p.ClientNoContextTakeover,
	}
}

// Release returns the Decompressor's buffers to the pools. The
// Decompressor must not be used afterwards; its methods then fail.
func (d *Decompressor) Release() {
	if d.released {
		return
	}
	d.released = true
	d.finish()
	d.putHistory()
}

// tail ends every message: the 00 00 ff ff that section 7.2.2 puts back,
// then an empty stored block with BFINAL set. The message must end at a
// block boundary: its payload with 00 00 ff ff must leave the decoder
// between blocks, so that the final empty block ends the stream exactly
// at the end of tail; anything else is corrupt. (This is the condition
// compress/flate applies to the same bytes; a final block inside the
// payload is followed by more blocks at the next byte, section 7.2.3.4.)
var tail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// maxLimit keeps limit arithmetic far from overflow (a quarter of the int
// range on 64-bit and 32-bit platforms alike); no message gets near.
const maxLimit = math.MaxInt >> 2

var inflaterPool = sync.Pool{New: func() any { return new(inflater) }}

// historyPools hold window rings by window bits (index bits-8).
var historyPools [maxWindowBits - minWindowBits + 1]sync.Pool

// noHistory is the empty window of a message that has none yet. It is
// never written.
var noHistory history

// Begin starts a message whose inflated size may be at most limit bytes (a
// negative limit counts as 0). It abandons a message in progress, if any.
func (d *Decompressor) Begin(limit int) {
	if d.released || d.err != nil {
		return
	}
	if d.inf == nil {
		d.inf = inflaterPool.Get().(*inflater)
	}
	if !d.takeover {
		d.putHistory()
	}
	h := d.hist
	if h == nil {
		h = &noHistory
	}
	d.inf.reset(d.window, min(max(limit, 0), maxLimit), h)
	d.inMessage = true
}

// Feed inflates the next piece of the message's compressed payload and
// appends to dst what can be inflated so far, which may be less than chunk
// holds: the decoder keeps the few bits of an incomplete code, or of a
// block header, until the rest arrives. Pieces may split the payload
// anywhere. It returns ErrMessageTooBig as soon as the message's output
// exceeds the limit, and an error wrapping ErrCorrupt as soon as the data
// is invalid; dst is then returned unchanged in content, and the message
// (and the Decompressor) is over.
//
// Each call's output is final: bytes already returned never change, so a
// caller can validate them (UTF-8) as they come. Output goes straight into
// dst; what later calls may refer back to is also copied into the window.
func (d *Decompressor) Feed(dst, chunk []byte) ([]byte, error) {
	if err := d.usable(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst, err := d.inflate(dst, start, chunk, false)
	if err != nil {
		return dst[:start], d.fail(err)
	}
	d.remember(dst[start:])
	return dst, nil
}

// End finishes the message: it feeds the 00 00 ff ff of section 7.2.2,
// appends any output that completes, and checks that the payload ended at
// a block boundary (ErrCorrupt otherwise). After End the next message
// starts with Begin.
func (d *Decompressor) End(dst []byte) ([]byte, error) {
	if err := d.usable(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst, err := d.inflate(dst, start, tail[:], true)
	if err != nil {
		return dst[:start], d.fail(err)
	}
	if d.takeover {
		d.remember(dst[start:])
	}
	d.finish()
	return dst, nil
}

// Decompress inflates one whole compressed message, payload being all its
// frames' payloads joined, without the 00 00 ff ff tail (section 7.2.2),
// and appends the result to dst. It stops with ErrMessageTooBig as soon as
// the output would exceed limit bytes, so memory stays near the limit
// whatever the payload claims to hold; a negative limit counts as 0. dst
// grows at most to the limit. On an error dst is returned unchanged in
// content, and the Decompressor fails every later call.
//
// A block with BFINAL set inside the payload is accepted: RFC 7692 section
// 7.2.3.4 allows it, and the next block starts at the next byte with the
// window carried on.
func (d *Decompressor) Decompress(dst, payload []byte, limit int) ([]byte, error) {
	if d.released {
		return dst, errReleased
	}
	if d.err != nil {
		return dst, d.err
	}
	start := len(dst)
	d.Begin(limit)
	// Both calls see the whole message's output in dst, so no window is
	// needed within the message.
	dst, err := d.inflate(dst, start, payload, false)
	if err == nil {
		dst, err = d.inflate(dst, start, tail[:], true)
	}
	if err != nil {
		return dst[:start], d.fail(err)
	}
	if d.takeover {
		d.remember(dst[start:])
	}
	d.finish()
	return dst, nil
}

func (d *Decompressor) usable() error {
	switch {
	case d.released:
		return errReleased
	case d.err != nil:
		return d.err
	case !d.inMessage:
		return errNoMessage
	}
	return nil
}

// inflate runs the decoder over in, appending to dst; dst[hs:] is output
// of this message that back-references may reach directly. It grows dst
// as needed but never past the message's limit.
func (d *Decompressor) inflate(dst []byte, hs int, in []byte, final bool) ([]byte, error) {
	f := d.inf
	for {
		left := f.limit - f.produced
		op0 := len(dst)
		buf := dst[:cap(dst)]
		end, atLimit := len(buf), false
		if op0+left <= end {
			end, atLimit = op0+left, true
		}
		op, ip, st := f.run(buf, hs, op0, end, atLimit, in, final)
		f.produced += op - op0
		dst = buf[:op]
		in = in[ip:]
		switch st {
		case sInput, sDone:
			if len(in) != 0 {
				// The decoder stops for input only once it has all of
				// it; anything else would lose data.
				return dst, ErrCorrupt
			}
			return dst, nil
		case sSpace:
			// Double the buffer (or make room for four times the input
			// left), never past the limit; once past half the limit the
			// next doubling would be followed by one to the limit, so
			// go there at once: a bomb then allocates about 1.5 times
			// the limit in all.
			room := left - (op - op0) // what the limit still allows
			grow := min(room, max(len(dst), 4*len(in), 512))
			if len(dst)+grow >= (len(dst)+room)/2 {
				grow = room
			}
			// Not slices.Grow: append's growth steps would overshoot.
			nb := make([]byte, len(dst), len(dst)+grow)
			copy(nb, dst)
			dst = nb
		case sTooBig:
			return dst, ErrMessageTooBig
		default:
			return dst, ErrCorrupt
		}
	}
}

// remember copies output that later calls may refer back to into the
// window.
func (d *Decompressor) remember(p []byte) {
	if len(p) == 0 {
		return
	}
	if d.hist == nil {
		d.hist = getHistory(d.bits)
		if d.inf != nil {
			d.inf.hist = d.hist
		}
	}
	d.hist.write(p)
}

// fail makes err sticky and gives the buffers back.
func (d *Decompressor) fail(err error) error {
	d.err = err
	d.finish()
	d.putHistory()
	return err
}

// finish ends the message: the decoder state goes back to its pool, and
// so does the window unless context takeover keeps it.
func (d *Decompressor) finish() {
	d.inMessage = false
	if d.inf != nil {
		d.inf.hist = nil
		inflaterPool.Put(d.inf)
		d.inf = nil
	}
	if !d.takeover {
		d.putHistory()
	}
}

func getHistory(bits int) *history {
	if v := historyPools[bits-minWindowBits].Get(); v != nil {
		h := v.(*history)
		h.pos, h.n = 0, 0
		return h
	}
	return &history{b: make([]byte, 1<<bits)}
}

func (d *Decompressor) putHistory() {
	if d.hist != nil {
		historyPools[d.bits-minWindowBits].Put(d.hist)
		d.hist = nil
	}
}
