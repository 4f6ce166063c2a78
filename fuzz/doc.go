// Package fuzz holds the project's go test -fuzz targets: the frame decoder,
// the opening-handshake validator, Sec-WebSocket-Extensions parsing and
// permessage-deflate negotiation, bounded inflate and streaming UTF-8
// validation. Seed corpora live under testdata/fuzz/<target>/.
//
// Run one target with, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzFrameDecoder$' -fuzztime 30s
package fuzz
