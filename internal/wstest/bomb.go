package wstest

import (
	"bytes"
	"compress/flate"
)

// DeflateBomb returns a permessage-deflate payload (RFC 7692 section
// 7.2.1: DEFLATE blocks without the final 00 00 ff ff) that inflates to
// mib MiB of zeros, about 1 KB per MiB. Every MiB after the first is the
// same run of back-references into zeros, so one compressed MiB, repeated,
// makes a bomb of any size without compressing it all.
func DeflateBomb(mib int) []byte {
	zeros := make([]byte, 1<<20)
	var first, next bytes.Buffer
	w, _ := flate.NewWriter(&first, flate.BestCompression)
	w.Write(zeros)
	w.Flush() // ends on a byte boundary with 00 00 ff ff
	w, _ = flate.NewWriterDict(&next, flate.BestCompression, zeros[:32<<10])
	w.Write(zeros)
	w.Flush()
	out := bytes.Clone(first.Bytes())
	for range mib - 1 {
		out = append(out, next.Bytes()...)
	}
	return out[:len(out)-4]
}
