package fuzz

import (
	"sort"
	"sync"
	"testing"
	"unicode/utf8"

	"unievent.dev/internal/utf8stream"
)

// utf8RunePrefixes holds every proper, non-empty prefix of the encoding of
// every valid rune: the reference for "can these bytes still be completed".
var utf8RunePrefixes = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	var buf [utf8.UTFMax]byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		for k := 1; k < n; k++ {
			m[string(buf[:k])] = true
		}
	}
	return m
})

// utf8Completable reports whether some bytes appended to p make it valid:
// p must be valid UTF-8 followed by the start of one rune's encoding.
func utf8Completable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	for k := 1; k < utf8.UTFMax && k <= len(p); k++ {
		if utf8RunePrefixes()[string(p[len(p)-k:])] && utf8.Valid(p[:len(p)-k]) {
			return true
		}
	}
	return false
}

// utf8RefFailAt returns the index of the byte after which p can no longer
// become valid UTF-8, or -1. Once lost, completability never comes back,
// so a binary search over prefix lengths finds it.
func utf8RefFailAt(p []byte) int {
	k := sort.Search(len(p)+1, func(k int) bool { return !utf8Completable(p[:k]) })
	if k > len(p) {
		return -1
	}
	return k - 1
}

// FuzzUTF8 checks utf8stream against unicode/utf8: Valid gives the same
// answer, a Validator fed the input in two parts (split where the fuzzer
// says) gives the same verdict, and it fails at exactly the byte after which
// no valid completion exists, which is what lets a connection close with
// 1007 the moment a bad byte arrives (RFC 6455 section 8.1).
func FuzzUTF8(f *testing.F) {
	f.Add([]byte("hello, world"), uint16(5))
	f.Add([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited"), uint16(12))
	f.Add([]byte("\xf0\x9f\x98\x80 ascii run long enough for the word loop \xed\x9f\xbf"), uint16(2))
	f.Add([]byte("\xe2\x82"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		s := int(split) % (len(data) + 1)
		valid := utf8.Valid(data)
		fail := utf8RefFailAt(data)

		if got := utf8stream.Valid(data); got != valid {
			t.Fatalf("Valid(% x) = %v, unicode/utf8 says %v", data, got, valid)
		}

		var v utf8stream.Validator
		okA := v.Write(data[:s])
		okB := v.Write(data[s:])
		done := v.Done()
		wantA := fail < 0 || fail >= s
		wantB := fail < 0
		if okA != wantA || okB != wantB || done != valid {
			t.Fatalf("% x split at %d: Write, Write, Done = %v, %v, %v; want %v, %v, %v (reference fails at byte %d)",
				data, s, okA, okB, done, wantA, wantB, valid, fail)
		}

		v.Reset()
		firstFalse := -1
		for i := range data {
			if !v.Write(data[i:i+1]) && firstFalse < 0 {
				firstFalse = i
			}
		}
		if firstFalse != fail || v.Done() != valid {
			t.Fatalf("% x byte by byte: first false Write at %d, Done %v; want %d, %v",
				data, firstFalse, v.Done(), fail, valid)
		}
	})
}
