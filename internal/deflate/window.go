package deflate

// Window is a ring holding the last bytes of a decoder's output: the
// sliding window (RFC 1951 section 2) that back-references of later output
// reach into, across Inflate calls and, when the caller keeps it, across
// streams. The Inflater only reads it; the caller writes to it what the
// next call may refer back to.
type Window struct {
	b   []byte
	pos int // where the next byte goes
	n   int // valid bytes, at most len(b)
}

// NewWindow returns an empty window of size bytes.
func NewWindow(size int) *Window { return &Window{b: make([]byte, size)} }

// Reset empties the window.
func (h *Window) Reset() { h.pos, h.n = 0, 0 }

// Write appends p to the window, keeping its last len(b) bytes.
func (h *Window) Write(p []byte) {
	w := len(h.b)
	if len(p) >= w {
		copy(h.b, p[len(p)-w:])
		h.pos, h.n = 0, w
		return
	}
	k := copy(h.b[h.pos:], p)
	copy(h.b, p[k:])
	h.pos += len(p)
	if h.pos >= w {
		h.pos -= w
	}
	h.n = min(w, h.n+len(p))
}

// read fills dst with the bytes starting back bytes before the end of the
// window; len(dst) <= back <= h.n.
func (h *Window) read(dst []byte, back int) {
	s := h.pos - back
	if s < 0 {
		s += len(h.b)
	}
	k := copy(dst, h.b[s:])
	copy(dst[k:], h.b)
}
