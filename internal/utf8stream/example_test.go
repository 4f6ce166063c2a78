package utf8stream_test

import (
	"fmt"

	"unievent.dev/internal/utf8stream"
)

func ExampleValid() {
	fmt.Println(utf8stream.Valid([]byte("Grüße, 世界")))
	fmt.Println(utf8stream.Valid([]byte("overlong slash \xc0\xaf")))
	// Output:
	// true
	// false
}

func ExampleValidator() {
	// "é€😀" arriving in three fragments that cut through two code points.
	fragments := [][]byte{
		[]byte("\xc3\xa9\xe2"),
		[]byte("\x82\xac\xf0\x9f"),
		[]byte("\x98\x80"),
	}
	var v utf8stream.Validator
	for _, f := range fragments {
		fmt.Println(v.Write(f), v.Done())
	}
	// Output:
	// true false
	// true false
	// true true
}

func ExampleValidator_Write() {
	// Autobahn case 6.4.1: the second fragment holds F4 90, which starts a
	// code point above U+10FFFF. Write says so at once, before the rest of
	// the message arrives, so the connection can be closed with 1007.
	fragments := [][]byte{
		[]byte("κόσμε"),
		[]byte("\xf4\x90\x80\x80"),
		[]byte("edited"),
	}
	var v utf8stream.Validator
	for i, f := range fragments {
		if !v.Write(f) {
			fmt.Println("invalid UTF-8 in fragment", i)
			break
		}
		fmt.Println("fragment", i, "ok so far")
	}
	// Output:
	// fragment 0 ok so far
	// invalid UTF-8 in fragment 1
}
