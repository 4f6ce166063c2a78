package ws

import "crypto/rand"

// maskKeyBatch is how many masking keys one crypto/rand read supplies: a
// read costs a system call or a vDSO trip and a ChaCha8 block, which one
// frame in 64 pays instead of every frame.
const maskKeyBatch = 64

// maskKeys owns a client connection's masking keys (RFC 6455 section 10.3,
// https://www.rfc-editor.org/rfc/rfc6455#section-10.3: each frame's key is
// fresh and unpredictable), drawn from crypto/rand a batch at a time. Only
// connections in the client role have one (sendQueue.keys), so a server's
// connections carry none of its bytes. The send queue's mu guards it; it
// is called by sendQueue.appendFrameLocked.
type maskKeys struct {
	buf  [maskKeyBatch * 4]byte
	used int // bytes of buf handed out
}

func newMaskKeys() *maskKeys { return &maskKeys{used: maskKeyBatch * 4} }

// next returns a key no frame has used, reading a new batch when the last
// is spent. crypto/rand.Read does not fail (it crashes the program where
// the system has no randomness to give, rather than return predictable
// bytes).
func (k *maskKeys) next() [4]byte {
	if k.used == len(k.buf) {
		rand.Read(k.buf[:])
		k.used = 0
	}
	key := [4]byte(k.buf[k.used : k.used+4])
	k.used += 4
	return key
}
