// Package deflate implements the DEFLATE compressed data format of RFC 1951
// (https://www.rfc-editor.org/rfc/rfc1951) as ws/permessagedeflate needs
// it: a resumable, bounded decoder (Inflater, with its sliding window in a
// Window) and a compressor with a window of 2^8 to 2^15 bytes (Encoder).
// What RFC 7692 adds on top (the 00 00 ff ff that ends a message, context
// takeover, pools per connection) stays in ws/permessagedeflate.
//
// # Inflating
//
// Inflater decodes straight from and into byte slices with table-driven
// Huffman decoding (section 3.2.2), a 64-bit bit buffer refilled eight
// bytes at a time and word-sized match copies. It can stop anywhere in its
// input and resume with the next piece: it takes a step (a block header
// field, a code length, a literal or a length/distance pair) only once all
// its bits have arrived, and otherwise keeps the few bits it has. Output is
// appended to the caller's slice, never past a limit; back-references
// reach into that slice and, further back, into a Window holding the last
// output of earlier calls. A block with BFINAL set does not end the
// decoder: the next block may follow at the next byte, the window carried
// on, as RFC 7692 section 7.2.3.4 allows
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.2.3.4).
//
// # Encoding
//
// Encoder is hash-chain LZ77 (section 4) whose distances never exceed its
// window, written with the fixed Huffman codes of section 3.2.6, or as
// stored blocks where those are smaller. compress/flate always reaches back
// up to 32 KiB, so a peer that asked for a smaller window needs this one.
// Its blocks never have BFINAL set: a stream stays open for the next
// message.
package deflate
