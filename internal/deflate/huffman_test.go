package deflate

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	"unievent.dev/internal/deflatetest"
)

// TestEveryLengthAndDistance writes a fixed-code block with every match
// length 3..258 and distances across every distance code, then checks the
// stream with the independent inflater and compress/flate.
func TestEveryLengthAndDistance(t *testing.T) {
	var plain []byte
	for i := range 40000 {
		plain = append(plain, byte(i*7+i/251))
	}
	w := bitWriter{}
	w.writeStored(plain)
	w.writeBits(headerFixed, 3)
	want := bytes.Clone(plain)
	emit := func(length, dist int) {
		w.writeMatch(length, dist)
		for range length {
			want = append(want, want[len(want)-dist])
		}
	}
	for length := 3; length <= 258; length++ {
		emit(length, 1+length%7)
	}
	for _, dist := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 24, 25, 32, 33, 48, 49,
		64, 65, 96, 97, 128, 129, 192, 193, 256, 257, 384, 385, 512, 513, 768, 769, 1024, 1025,
		1536, 1537, 2048, 2049, 3072, 3073, 4096, 4097, 6144, 6145, 8192, 8193, 12288, 12289,
		16384, 16385, 24576, 24577, 32767, 32768} {
		emit(258, dist)
		emit(3, dist)
	}
	for b := range 256 {
		w.writeLiteral(byte(b))
		want = append(want, byte(b))
	}
	w.endOfBlock()
	w.writeStored(nil)
	data := w.out

	got, maxDist, err := deflatetest.Inflate(data, nil)
	if err != nil {
		t.Fatalf("independent inflater: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("independent inflater: output differs")
	}
	if maxDist != 32768 {
		t.Errorf("maxDistance = %d, want 32768", maxDist)
	}
	got, err = io.ReadAll(flate.NewReader(bytes.NewReader(append(data, finalEmptyBlock...))))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("compress/flate: %v", err)
	}
}
