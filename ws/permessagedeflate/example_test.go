package permessagedeflate_test

import (
	"fmt"

	"unievent.dev/ws/handshake"
	"unievent.dev/ws/permessagedeflate"
)

// A browser-like offer list: the first offer asks for a 9-bit server window
// but also carries a parameter the server does not know, so it is declined
// and the second is taken.
func ExampleNegotiate() {
	offers := []handshake.Extension{
		{Name: "permessage-deflate", Params: []handshake.Param{
			{Name: "server_max_window_bits", Value: "9", HasValue: true},
			{Name: "x-unknown"},
		}},
		{Name: "permessage-deflate", Params: []handshake.Param{
			{Name: "client_max_window_bits"},
		}},
	}
	cfg := &permessagedeflate.Config{ClientNoContextTakeover: true, ClientMaxWindowBits: 10}
	p, answer, ok := permessagedeflate.Negotiate(offers, cfg)
	fmt.Println(ok)
	fmt.Printf("%+v\n", p)
	fmt.Print(answer.Name)
	for _, prm := range answer.Params {
		fmt.Print("; ", prm.Name)
		if prm.HasValue {
			fmt.Print("=", prm.Value)
		}
	}
	fmt.Println()
	// Output:
	// true
	// {ServerNoContextTakeover:false ClientNoContextTakeover:true ServerMaxWindowBits:15 ClientMaxWindowBits:10}
	// permessage-deflate; client_no_context_takeover; client_max_window_bits=10
}

// A server that agreed to a 9-bit window compresses a message; the peer's
// decompressor, bounded by a message size limit, restores it.
func ExampleCompressor() {
	p := permessagedeflate.Params{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9}
	c := permessagedeflate.NewCompressor(nil, p)
	defer c.Release()
	msg := []byte(`{"event":"message","text":"hello, hello, hello, hello, hello, hello"}`)
	// Short messages go out uncompressed (Config.Threshold).
	fmt.Println(c.ShouldCompress(len(msg)), c.ShouldCompress(10))
	payload, err := c.Compress(nil, msg)
	if err != nil {
		panic(err)
	}
	d := permessagedeflate.NewDecompressor(p)
	defer d.Release()
	out, err := d.Decompress(nil, payload, 1<<20)
	fmt.Println(string(out), err, len(payload) < len(msg))
	// Output:
	// true false
	// {"event":"message","text":"hello, hello, hello, hello, hello, hello"} <nil> true
}

// Decompress stops as soon as the inflated size passes the limit.
func ExampleDecompressor_Decompress() {
	c := permessagedeflate.NewCompressor(nil, permessagedeflate.Params{})
	payload, _ := c.Compress(nil, make([]byte, 100000))
	d := permessagedeflate.NewDecompressor(permessagedeflate.Params{})
	_, err := d.Decompress(nil, payload, 4096)
	fmt.Println(len(payload) < 200, err)
	// Output:
	// true permessagedeflate: inflated message exceeds the limit
}

// A message can be inflated as its frames arrive: output appears as soon as
// the compressed bytes for it are there, so a text message can be checked
// for UTF-8 before it is complete.
func ExampleDecompressor_Feed() {
	c := permessagedeflate.NewCompressor(nil, permessagedeflate.Params{})
	payload, _ := c.Compress(nil, []byte("Hello, Hello, permessage-deflate"))
	d := permessagedeflate.NewDecompressor(permessagedeflate.Params{})
	defer d.Release()
	d.Begin(1 << 20)
	var msg []byte
	for len(payload) > 0 {
		n := min(8, len(payload)) // a frame's payload, or part of one
		var err error
		if msg, err = d.Feed(msg, payload[:n]); err != nil {
			fmt.Println(err)
			return
		}
		payload = payload[n:]
		fmt.Printf("%q\n", msg)
	}
	msg, err := d.End(msg)
	fmt.Printf("%q %v\n", msg, err)
	// Output:
	// "Hel"
	// "Hello, Hell"
	// "Hello, Hello, perme"
	// "Hello, Hello, permessage-de"
	// "Hello, Hello, permessage-deflate"
	// "Hello, Hello, permessage-deflate" <nil>
}
