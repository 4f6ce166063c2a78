package frame_test

import (
	"fmt"

	"unievent.dev/ws/frame"
)

// A server decodes what a client sent: masked frames, here a text message
// in two fragments with a ping between them, arriving in arbitrary reads.
func ExampleDecoder_Decode() {
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	var wire []byte
	wire = frame.AppendFrame(wire, frame.Header{Opcode: frame.OpText, Masked: true, Key: key}, []byte("Hello, "))
	wire = frame.AppendFrame(wire, frame.Header{Fin: true, Opcode: frame.OpPing, Masked: true, Key: key}, []byte("?"))
	wire = frame.AppendFrame(wire, frame.Header{Fin: true, Opcode: frame.OpContinuation, Masked: true, Key: key}, []byte("world"))

	d := frame.Decoder{Role: frame.RoleServer, MaxFrameSize: 1 << 20}
	for _, read := range [][]byte{wire[:4], wire[4:10], wire[10:]} {
		p := read
		for {
			n, f, ok, err := d.Decode(p)
			if err != nil {
				fmt.Println("close with", uint16(err.(*frame.Error).Code))
				return
			}
			p = p[n:]
			if !ok {
				break // read more
			}
			if f.Start {
				fmt.Printf("%v frame, fin=%v, %d bytes:", f.Header.Opcode, f.Header.Fin, f.Header.Length)
			}
			fmt.Printf(" %q", f.Payload)
			if f.End {
				fmt.Println()
			}
		}
	}
	// Output:
	// text frame, fin=false, 7 bytes: "Hell" "o, "
	// ping frame, fin=true, 1 bytes: "?"
	// continuation frame, fin=true, 5 bytes: "world"
}

// A frame the decoder rejects carries the close code to answer with.
func ExampleDecoder_Decode_error() {
	d := frame.Decoder{Role: frame.RoleServer}
	unmasked := frame.AppendFrame(nil, frame.Header{Fin: true, Opcode: frame.OpText}, []byte("hi"))
	_, _, _, err := d.Decode(unmasked)
	fe := err.(*frame.Error)
	fmt.Println(uint16(fe.Code), fe.Code, "-", err)
	// Output:
	// 1002 protocol error - websocket: unmasked frame from a client
}

// A server sends unmasked frames; a client masks each with a fresh key.
func ExampleAppendFrame() {
	out := frame.AppendFrame(nil, frame.Header{Fin: true, Opcode: frame.OpText}, []byte("hi"))
	fmt.Printf("% x\n", out)

	body := frame.AppendClosePayload(nil, frame.CloseNormal, "bye")
	out = frame.AppendFrame(out[:0], frame.Header{Fin: true, Opcode: frame.OpClose, Masked: true, Key: [4]byte{1, 2, 3, 4}}, body)
	fmt.Printf("% x\n", out)
	// Output:
	// 81 02 68 69
	// 88 85 01 02 03 04 02 ea 61 7d 64
}

func ExampleParseClosePayload() {
	code, reason, err := frame.ParseClosePayload([]byte("\x03\xe9server restart"))
	fmt.Println(uint16(code), code, string(reason), err)
	// Output:
	// 1001 going away server restart <nil>
}
