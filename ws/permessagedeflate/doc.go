// Package permessagedeflate implements the WebSocket per-message compression
// extension "permessage-deflate" of RFC 7692 for a server: offer validation
// and the answer (sections 5 and 7.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-5,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1, Negotiate),
// compression of outgoing messages (section 7.2.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1, Compressor) and
// bounded decompression of incoming ones (section 7.2.2,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2, Decompressor), with
// both context-takeover parameters (7.1.1) and every window size from 8 to
// 15 bits (7.1.2).
//
// The connection engine negotiates once per connection, then owns one
// Compressor and one Decompressor; it sets RSV1 on the first frame of a
// compressed message. A received compressed message is inflated either
// whole, its frame payloads joined, with Decompress, or as it arrives:
// Begin, Feed with each frame's payload, End. Feeding lets the engine check
// a text message's UTF-8 as the inflated text appears and fail the
// connection at the first invalid byte, as RFC 6455 section 8.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-8.1) asks. Errors map to
// close codes: ErrMessageTooBig to 1009, ErrCorrupt to 1007.
//
// A message whose DEFLATE data ends with a block that has BFINAL set
// instead of an empty stored block (section 7.2.3.4,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.3.4) is complete
// there; a final block inside a message is followed by more at the next
// byte.
//
// # Windows
//
// compress/flate always compresses with a 32 KiB window. A client that asks
// for server_max_window_bits below 15 gets the encoder of internal/deflate:
// hash-chain LZ77 whose distances never exceed 2^bits, written with the
// fixed Huffman codes of RFC 1951 section 3.2.6
// (https://www.rfc-editor.org/rfc/rfc1951#section-3.2.6; stored blocks where
// that is smaller). Its output is larger than compress/flate's, whose
// dynamic codes fit each block (see the figures below). The Decompressor
// keeps 2^ClientMaxWindowBits bytes of history and refuses a back-reference
// that reaches further, within a message as well as into earlier ones.
//
// # Inflating
//
// The inflater is internal/deflate's, written from RFC 1951. It decodes
// straight from and into byte slices with table-driven Huffman decoding, a
// 64-bit bit buffer refilled eight bytes at a time and word-sized match
// copies, and it can stop anywhere in its input and resume with the next
// piece: it takes a step (a header field, a code length, a literal or a
// length/distance pair) only once all its bits have arrived, and otherwise
// keeps the few bits it has. Output is appended to the caller's slice,
// never past the message's limit; the last window of it is kept in a ring
// for later pieces and, with context takeover, later messages. Measured by
// BenchmarkInflate (Go 1.26, linux/amd64, AMD EPYC, 2 cores), the 15-bit
// payloads of BenchmarkDecompress, time per message:
//
//	message               compress/flate  Decompress  Feed, 512-byte pieces
//	1KiB JSON, takeover          6.2 µs      2.6 µs       2.6 µs
//	1KiB JSON, none              5.7 µs      2.3 µs       2.3 µs
//	16KiB JSON, takeover        50.7 µs     18.1 µs      20.1 µs
//	16KiB JSON, none            48.9 µs     18.5 µs      20.4 µs
//
// Neither allocates once warm; compress/flate allocates 5-6 times per 16
// KiB message.
//
// # Memory
//
// Without context takeover the compressor and the decompressor come from
// pools for each message and a connection holds none of their state. With
// it, the connection keeps its compressor (a compress/flate writer at 15
// bits, this package's encoder below) and the last window of inflated
// output; the inflater's tables (about 14 KiB) are pooled either way, and
// so is the window of a message fed in pieces without context takeover.
// Measured by TestMemoryPerConnection (Go 1.26, linux/amd64, level 1): heap
// held per connection after one 1 KiB message each way, in bytes.
//
//	window  context takeover  compressor  decompressor     total
//	15      yes                1 207 004        32 875  1 239 883
//	15      no                        43            59        107
//	9       yes                    8 634           618      9 258
//	9       no                        42            58        106
//
// So a server that keeps context takeover at 15 bits pays about 1.2 MB per
// connection once it has sent a compressed message; server_no_context_takeover
// (Config.ServerNoContextTakeover) or a smaller server window brings that
// down to the pooled figures.
//
// # Compression ratio
//
// Compressed size over original size, one message compressed alone at
// level 1: compress/flate at 15 bits, this package's encoder below
// (TestCompressionRatio). The fixed Huffman codes cost 15-20% against
// compress/flate's dynamic ones; smaller windows find fewer matches.
//
//	input          bits=15  bits=14  bits=12  bits=10  bits=9   bits=8
//	1KiB JSON        0.421    0.492    0.492    0.497    0.515    0.578
//	16KiB JSON       0.274    0.321    0.324    0.363    0.412    0.483
//	16KiB text       0.282    0.350    0.352    0.360    0.382    0.445
//	16KiB random     1.000    1.000    1.001    1.001    1.001    1.001
package permessagedeflate
