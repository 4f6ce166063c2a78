package wstest

import (
	"bytes"
	"compress/flate"

	"unievent.dev/internal/deflatetest"
)

// Deflate compresses p as one permessage-deflate message (RFC 7692
// section 7.2.1) with a fresh compressor: no context takeover.
func Deflate(p []byte) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write(p)
	fw.Flush()
	out := b.Bytes()
	return out[:len(out)-4] // the sync flush's 00 00 ff ff
}

// Inflater decompresses the server's messages with the independent
// inflater of internal/deflatetest, carrying the window from one message to
// the next unless NoContextTakeover is set.
type Inflater struct {
	NoContextTakeover bool
	history           []byte
}

// Inflate decompresses one message's payload and reports the longest
// back-reference it used.
func (in *Inflater) Inflate(p []byte) (out []byte, maxDistance int, err error) {
	data := append(append([]byte(nil), p...), 0, 0, 0xff, 0xff)
	h := in.history
	if in.NoContextTakeover {
		h = nil
	}
	out, maxDistance, err = deflatetest.Inflate(data, h)
	if err != nil {
		return nil, 0, err
	}
	in.history = append(in.history, out...)
	if n := len(in.history); n > 32<<10 {
		in.history = in.history[n-32<<10:]
	}
	return out, maxDistance, nil
}
