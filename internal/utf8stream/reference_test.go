package utf8stream

import (
	"sort"
	"sync"
	"unicode/utf8"
)

// The reference below answers "where must a fail-fast validator stop?" by
// brute force from unicode/utf8 alone, sharing nothing with the code under
// test: a byte string can still become valid UTF-8 exactly when it is valid
// UTF-8 followed by a proper prefix of the encoding of some rune.

// runePrefixes holds every proper, non-empty prefix of the UTF-8 encoding of
// every valid rune, found by encoding all of them.
var runePrefixes = sync.OnceValue(func() map[string]bool {
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

// completable reports whether some byte string appended to p makes valid
// UTF-8.
func completable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	prefixes := runePrefixes()
	for k := 1; k < utf8.UTFMax && k <= len(p); k++ {
		if prefixes[string(p[len(p)-k:])] && utf8.Valid(p[:len(p)-k]) {
			return true
		}
	}
	return false
}

// refFailAt returns the index of the byte after which p can no longer become
// valid UTF-8, or -1 if it still can. Being completable is lost once and
// never regained as bytes are appended, so a binary search finds the point.
func refFailAt(p []byte) int {
	k := sort.Search(len(p)+1, func(k int) bool { return !completable(p[:k]) })
	if k > len(p) {
		return -1
	}
	return k - 1
}
