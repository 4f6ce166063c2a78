// Package fuzz holds the project's go test -fuzz targets: the frame decoder,
// the opening-handshake validator, the server's own request-head parser
// against net/http's (FuzzRequestHead), Sec-WebSocket-Extensions parsing,
// permessage-deflate negotiation, bounded and streaming inflate, compress
// and inflate round trips, streaming UTF-8 validation, whole
// connections fed arbitrary bytes, the client (ws/client) against a
// server answering with arbitrary bytes (FuzzClientResponse: the
// response-head parser and the checks of the answer, against an
// independent oracle; FuzzClient: the client-side decoder behind a valid
// 101, and whole answers), and scripts of topic operations (subscribe,
// unsubscribe, publish from the test and from a client's frames, close)
// checked against a model of who must get which message (FuzzTopics).
// Seed corpora live under testdata/fuzz/<target>/; `go test ./fuzz -list
// '^Fuzz'` lists the targets.
//
// Run one target with, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzFrameDecoder$' -fuzztime 30s
package fuzz
