// Package deflatetest is an independent DEFLATE decoder (RFC 1951) for
// tests. It is written from the RFC alone and shares no code with
// compress/flate, so a test that compresses with one implementation and
// inflates with this one checks the bit stream, not a shared bug.
//
// It favours plainness over speed: Huffman codes are decoded one bit at a
// time against canonical code counts (RFC 1951 section 3.2.2), and output
// grows a byte at a time. Output is capped at MaxOutput.
package deflatetest

import (
	"errors"
	"fmt"
)

// ErrTruncated reports that the data ended inside a block.
var ErrTruncated = errors.New("deflatetest: data ends inside a block")

// ErrTooLarge reports output beyond MaxOutput.
var ErrTooLarge = errors.New("deflatetest: output exceeds MaxOutput")

// MaxOutput bounds what Inflate produces, so that a test fed hostile data
// (a fuzzer's) fails instead of exhausting memory. DEFLATE expands at most
// 1032 times, so this is reached only from about 64 KiB of input.
const MaxOutput = 64 << 20

// FormatError reports data that violates RFC 1951; Offset is the byte
// offset at which the violation was noticed.
type FormatError struct {
	Offset int
	Reason string
}

// Error describes where the data went wrong.
func (e *FormatError) Error() string {
	return fmt.Sprintf("deflatetest: invalid DEFLATE data at byte %d: %s", e.Offset, e.Reason)
}

// Inflate decodes data as a sequence of DEFLATE blocks and returns the bytes
// they produce. history is the sliding window carried over from earlier
// messages (RFC 7692 context takeover): back-references may reach into it,
// but it is not part of out. maxDistance is the largest back-reference
// distance the data used, so a caller can check that an encoder stayed
// within a negotiated window.
//
// The stream ends where the data ends, provided that is right after a block
// (only padding bits of the last byte left). A block with BFINAL set does
// not end the decoding: as RFC 7692 section 7.2.3.4 allows, further blocks
// may follow at the next byte boundary, with the window carried on.
// InflateMessage decodes a permessage-deflate payload.
func Inflate(data []byte, history []byte) (out []byte, maxDistance int, err error) {
	return inflate(data, history, -1)
}

// InflateMessage decodes a permessage-deflate payload the way
// ws/permessagedeflate reads it: with the 00 00 ff ff of RFC 7692 section
// 7.2.2 appended, then an empty final stored block. A payload whose last
// block has BFINAL set ends there (section 7.2.3.4,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.3.4): its stream is
// over, and the appended octets are not read.
func InflateMessage(payload []byte, history []byte) (out []byte, maxDistance int, err error) {
	data := append(payload[:len(payload):len(payload)], 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff)
	return inflate(data, history, len(payload))
}

// inflate is Inflate, stopping after a final block that ends at byte
// offset end (none if end is negative).
func inflate(data []byte, history []byte, end int) (out []byte, maxDistance int, err error) {
	d := decoder{in: data, win: append([]byte(nil), history...)}
	base := len(d.win)
	d.limit = base + MaxOutput
	for {
		if d.pos >= len(d.in) {
			// Only the padding bits of a finished byte remain.
			break
		}
		final, err := d.block()
		if err != nil {
			return d.win[base:], d.maxDist, err
		}
		if final {
			d.align()
			if d.pos == end {
				break
			}
		}
	}
	return d.win[base:], d.maxDist, nil
}

// decoder reads bits least significant first (RFC 1951 section 3.1.1).
type decoder struct {
	in      []byte
	pos     int  // next byte to load
	bit     uint // bits of in[pos-1] not yet used are in acc
	acc     uint32
	win     []byte // history followed by everything decoded
	limit   int    // len(win) past which decoding stops
	maxDist int
}

func (d *decoder) errorf(reason string) error {
	return &FormatError{Offset: d.pos, Reason: reason}
}

// bits returns the next n (<= 16) bits as an integer, first bit lowest.
func (d *decoder) bits(n uint) (int, error) {
	for d.bit < n {
		if d.pos >= len(d.in) {
			return 0, ErrTruncated
		}
		d.acc |= uint32(d.in[d.pos]) << d.bit
		d.pos++
		d.bit += 8
	}
	v := int(d.acc & (1<<n - 1))
	d.acc >>= n
	d.bit -= n
	return v, nil
}

// align drops the bits left in the current byte (section 3.2.4).
func (d *decoder) align() {
	d.acc = 0
	d.bit = 0
}

// block decodes one block and reports whether it had BFINAL set.
func (d *decoder) block() (final bool, err error) {
	hdr, err := d.bits(3)
	if err != nil {
		return false, err
	}
	final = hdr&1 == 1
	switch hdr >> 1 {
	case 0:
		err = d.stored()
	case 1:
		err = d.codes(&fixedLit, &fixedDist)
	case 2:
		var lit, dist huffman
		if err = d.dynamicTables(&lit, &dist); err == nil {
			err = d.codes(&lit, &dist)
		}
	default:
		err = d.errorf("reserved block type 11")
	}
	return final, err
}

// stored copies a block without compression (section 3.2.4).
func (d *decoder) stored() error {
	d.align()
	if len(d.in)-d.pos < 4 {
		return ErrTruncated
	}
	n := int(d.in[d.pos]) | int(d.in[d.pos+1])<<8
	nn := int(d.in[d.pos+2]) | int(d.in[d.pos+3])<<8
	if n != ^nn&0xffff {
		return d.errorf("stored block LEN does not match NLEN")
	}
	d.pos += 4
	if len(d.in)-d.pos < n {
		return ErrTruncated
	}
	d.win = append(d.win, d.in[d.pos:d.pos+n]...)
	d.pos += n
	if len(d.win) > d.limit {
		return ErrTooLarge
	}
	return nil
}

// huffman is a canonical code given by how many codes have each length and
// the symbols in code order (section 3.2.2).
type huffman struct {
	count  [16]int
	symbol []int
}

// build makes the canonical code for lengths. A code must be complete,
// except that a single code of length one is allowed (what zlib and other
// decoders accept) and that a code may be empty (a block that uses no
// distances may send none); decoding a bit pattern no code has fails.
func (h *huffman) build(lengths []int) bool {
	*h = huffman{}
	for _, n := range lengths {
		h.count[n]++
	}
	used := len(lengths) - h.count[0]
	left := 1
	for n := 1; n < 16; n++ {
		left = left*2 - h.count[n]
		if left < 0 {
			return false // over-subscribed
		}
	}
	if left > 0 && used > 1 {
		return false // incomplete
	}
	if left > 0 && used == 1 && h.count[1] != 1 {
		return false // a lone code must have length one
	}
	var offs [16]int
	for n := 1; n < 15; n++ {
		offs[n+1] = offs[n] + h.count[n]
	}
	h.symbol = make([]int, used)
	for sym, n := range lengths {
		if n != 0 {
			h.symbol[offs[n]] = sym
			offs[n]++
		}
	}
	return true
}

// decode reads one symbol. Huffman codes are packed starting with their
// most significant bit (section 3.1.1), so the code is built bit by bit.
func (d *decoder) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for n := 1; n < 16; n++ {
		b, err := d.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[n]
		if code-first < count {
			return h.symbol[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, d.errorf("no Huffman code matches")
}

// Base values and extra bits of length codes 257..285 and distance codes
// 0..29 (section 3.2.5).
var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// codes decodes the compressed data of a Huffman block until end-of-block.
func (d *decoder) codes(lit, dist *huffman) error {
	for {
		sym, err := d.decode(lit)
		if err != nil {
			return err
		}
		switch {
		case len(d.win) > d.limit:
			return ErrTooLarge
		case sym < 256:
			d.win = append(d.win, byte(sym))
			continue
		case sym == 256:
			return nil
		case sym > 285:
			return d.errorf("length symbol 286 or 287")
		}
		sym -= 257
		extra, err := d.bits(lengthExtra[sym])
		if err != nil {
			return err
		}
		length := lengthBase[sym] + extra
		dsym, err := d.decode(dist)
		if err != nil {
			return err
		}
		if dsym > 29 {
			return d.errorf("distance symbol 30 or 31")
		}
		extra, err = d.bits(distExtra[dsym])
		if err != nil {
			return err
		}
		distance := distBase[dsym] + extra
		if distance > len(d.win) {
			return d.errorf("distance reaches before the start of the window")
		}
		d.maxDist = max(d.maxDist, distance)
		// Copy byte by byte: a distance shorter than the length repeats
		// bytes this copy has just written (section 3.2.3).
		from := len(d.win) - distance
		for i := range length {
			d.win = append(d.win, d.win[from+i])
		}
	}
}

// Order in which code length code lengths are sent (section 3.2.7).
var clenOrder = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamicTables reads the code definitions of a dynamic block (3.2.7).
func (d *decoder) dynamicTables(lit, dist *huffman) error {
	hlit, err := d.bits(5)
	if err != nil {
		return err
	}
	hdist, err := d.bits(5)
	if err != nil {
		return err
	}
	hclen, err := d.bits(4)
	if err != nil {
		return err
	}
	nlit, ndist, nclen := hlit+257, hdist+1, hclen+4
	// Codes 286, 287 and distance codes 30, 31 never occur in data, so
	// a header that declares them is invalid.
	if nlit > 286 || ndist > 30 {
		return d.errorf("too many literal/length or distance codes")
	}
	var clens [19]int
	for i := range nclen {
		if clens[clenOrder[i]], err = d.bits(3); err != nil {
			return err
		}
	}
	var clcode huffman
	if !clcode.build(clens[:]) {
		return d.errorf("invalid code length code")
	}
	lengths := make([]int, nlit+ndist)
	for i := 0; i < len(lengths); {
		sym, err := d.decode(&clcode)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = sym
			i++
			continue
		}
		var rep, val int
		switch sym {
		case 16:
			if i == 0 {
				return d.errorf("repeat with no previous length")
			}
			val = lengths[i-1]
			rep, err = d.bits(2)
			rep += 3
		case 17:
			rep, err = d.bits(3)
			rep += 3
		default:
			rep, err = d.bits(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		if i+rep > len(lengths) {
			return d.errorf("code lengths repeat past the end")
		}
		for range rep {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return d.errorf("no end-of-block code")
	}
	if !lit.build(lengths[:nlit]) {
		return d.errorf("invalid literal/length code")
	}
	if !dist.build(lengths[nlit:]) {
		return d.errorf("invalid distance code")
	}
	return nil
}

// The fixed codes of section 3.2.6.
var fixedLit, fixedDist = func() (lit, dist huffman) {
	var l [288]int
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	lit.build(l[:])
	var dl [30]int
	for i := range dl {
		dl[i] = 5
	}
	// Thirty codes of five bits leave two patterns unused (codes 30 and
	// 31), so build the code from all 32 and reject 30 and 31 on use.
	var full [32]int
	copy(full[:], dl[:])
	full[30], full[31] = 5, 5
	dist.build(full[:])
	return lit, dist
}()
