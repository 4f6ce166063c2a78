package permessagedeflate

import (
	"errors"
	"math"
	"sync"

	"unievent.dev/internal/deflate"
)

// ErrMessageTooBig reports a message whose inflated size exceeds the limit
// given to Decompress or Begin. The connection closes with 1009 (message too
// big, RFC 6455 section 7.4.1,
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1).
var ErrMessageTooBig = errors.New("permessagedeflate: inflated message exceeds the limit")

// ErrCorrupt reports a compressed payload that is not valid DEFLATE data,
// ends inside a block, or reaches back further than the agreed window. The
// connection closes with 1007 (invalid frame payload data, RFC 6455
// section 7.4.1, https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1): the
// frames themselves were well formed, so it is not a protocol error (1002),
// but their payload is not consistent with the compression the RSV1 bit
// declared, the same kind of failure as a text message that is not UTF-8.
// Errors returned wrap ErrCorrupt; test with errors.Is.
var ErrCorrupt = errors.New("permessagedeflate: invalid compressed data")

// errNoMessage reports Feed or End without Begin.
var errNoMessage = errors.New("permessagedeflate: Feed or End outside a message (call Begin first)")

// Decompressor inflates the messages a server receives on one connection
// (RFC 7692 section 7.2.2,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2). It is not safe for
// concurrent use.
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
// Back-references farther than 2^ClientMaxWindowBits bytes are corrupt data,
// within a message as well as into earlier ones: a client that agreed to
// client_max_window_bits never makes them (section 7.1.2.2,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.2).
//
// After an error the Decompressor stays failed: every later call returns
// that error, since with context takeover the window would be wrong.
type Decompressor struct {
	window    int // how much history a back-reference may reach
	bits      int
	takeover  bool
	released  bool
	inMessage bool
	err       error             // sticky
	inf       *deflate.Inflater // during a message
	hist      *deflate.Window   // with context takeover kept between messages
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

// tail ends every message: the 00 00 ff ff that section 7.2.2
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2) puts back, then an
// empty stored block with BFINAL set. The message must end at a block
// boundary: its payload with 00 00 ff ff must leave the decoder between
// blocks, so that the final empty block ends the stream exactly at the end
// of tail; anything else is corrupt. (This is the condition compress/flate
// applies to the same bytes.)
//
// A payload whose last block has BFINAL set (section 7.2.3.4,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.3.4) has ended its
// DEFLATE stream already: a decoder stops there, and the 00 00 ff ff put
// back after it are not read. Such a message is complete without tail.
var tail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// maxLimit keeps limit arithmetic far from overflow (a quarter of the int
// range on 64-bit and 32-bit platforms alike); no message gets near.
const maxLimit = math.MaxInt >> 2

var inflaterPool = sync.Pool{New: func() any { return new(deflate.Inflater) }}

// historyPools hold window rings by window bits (index bits-8).
var historyPools [maxWindowBits - minWindowBits + 1]sync.Pool

// Begin starts a message whose inflated size may be at most limit bytes (a
// negative limit counts as 0). It abandons a message in progress, if any.
func (d *Decompressor) Begin(limit int) {
	if d.released || d.err != nil {
		return
	}
	if d.inf == nil {
		d.inf = inflaterPool.Get().(*deflate.Inflater)
	}
	if !d.takeover {
		d.putHistory()
	}
	d.inf.Reset(d.window, min(limit, maxLimit), d.hist)
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

// End finishes the message: it feeds the 00 00 ff ff of section 7.2.2
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2), appends any output
// that completes, and checks that the payload ended at a block boundary
// (ErrCorrupt otherwise). A payload that ended with a block with BFINAL set
// is complete already. After End the next message starts with Begin.
func (d *Decompressor) End(dst []byte) ([]byte, error) {
	if err := d.usable(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst, err := d.end(dst, start)
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
// frames' payloads joined, without the 00 00 ff ff tail (section 7.2.2,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2), and appends the
// result to dst. It stops with ErrMessageTooBig as soon as the output would
// exceed limit bytes, so memory stays near the limit whatever the payload
// claims to hold; a negative limit counts as 0. dst grows at most to the
// limit. On an error dst is returned unchanged in content, and the
// Decompressor fails every later call.
//
// A block with BFINAL set is accepted (RFC 7692 section 7.2.3.4,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.3.4): at the end of the
// payload it ends the message; inside it, the next block starts at the next
// byte with the window carried on.
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
		dst, err = d.end(dst, start)
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
func (d *Decompressor) inflate(dst []byte, hs int, in []byte, last bool) ([]byte, error) {
	dst, err := d.inf.Inflate(dst, hs, in, last)
	switch err {
	case nil:
		return dst, nil
	case deflate.ErrTooBig:
		return dst, ErrMessageTooBig
	default:
		return dst, ErrCorrupt
	}
}

// end feeds tail unless the payload's last block had BFINAL set.
func (d *Decompressor) end(dst []byte, hs int) ([]byte, error) {
	if d.inf.Ended() {
		return dst, nil
	}
	return d.inflate(dst, hs, tail[:], true)
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
			d.inf.SetHistory(d.hist)
		}
	}
	d.hist.Write(p)
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
		d.inf.SetHistory(nil)
		inflaterPool.Put(d.inf)
		d.inf = nil
	}
	if !d.takeover {
		d.putHistory()
	}
}

func getHistory(bits int) *deflate.Window {
	if v := historyPools[bits-minWindowBits].Get(); v != nil {
		h := v.(*deflate.Window)
		h.Reset()
		return h
	}
	return deflate.NewWindow(1 << bits)
}

func (d *Decompressor) putHistory() {
	if d.hist != nil {
		historyPools[d.bits-minWindowBits].Put(d.hist)
		d.hist = nil
	}
}
