package handshake

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
)

// acceptGUID is the fixed string RFC 6455 section 1.3
// (https://www.rfc-editor.org/rfc/rfc6455#section-1.3) appends to the key
// before hashing, so that only a WebSocket server can compute the answer.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// strictBase64 refuses non-zero padding bits, which no encoder of 16 bytes
// produces.
var strictBase64 = base64.StdEncoding.Strict()

// keyLen is the length of a base64-encoded 16-byte nonce, padding included.
const keyLen = 24

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key
// (RFC 6455 section 4.2.2 item 5.4,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2): the base64 of the
// SHA-1 of the key followed by the protocol's GUID. The key is used as sent,
// not decoded.
func AcceptKey(key string) string {
	var buf [28]byte
	return string(appendAcceptKey(buf[:0], key))
}

func appendAcceptKey(dst []byte, key string) []byte {
	// A fixed-size stack buffer keeps the usual 24-byte key free of
	// allocations; only a caller's odd, longer key spills to the heap.
	var stack [keyLen + len(acceptGUID)]byte
	in := append(append(stack[:0], key...), acceptGUID...)
	sum := sha1.Sum(in)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// NewKey returns a fresh Sec-WebSocket-Key for a client handshake: 16 bytes
// from crypto/rand, base64-encoded (RFC 6455 section 4.1 item 7,
// https://www.rfc-editor.org/rfc/rfc6455#section-4.1).
func NewKey() (string, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(nonce[:]), nil
}

// validKey reports whether key is the canonical, padded base64 encoding of
// exactly 16 bytes, as RFC 6455 section 4.1 item 7
// (https://www.rfc-editor.org/rfc/rfc6455#section-4.1) asks of the client.
func validKey(key string) bool {
	if len(key) != keyLen {
		return false
	}
	var raw [18]byte // base64.StdEncoding.DecodedLen(keyLen)
	n, err := strictBase64.Decode(raw[:], []byte(key))
	return err == nil && n == 16
}
