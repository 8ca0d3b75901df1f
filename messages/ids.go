package messages

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"sync/atomic"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// IDBytes is the length of an id before encoding: 6 bytes of Unix
// milliseconds, a 4-byte sequence number and 16 random bytes.
const IDBytes = 26

// idSeq orders ids made in the same millisecond: it starts at a random
// value below 2^31 and counts every id this process makes, so it does not
// wrap before two billion ids.
var idSeq = func() *atomic.Uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("messages: crypto/rand failed: " + err.Error())
	}
	var n atomic.Uint32
	n.Store(binary.BigEndian.Uint32(b[:]) >> 1)
	return &n
}()

// NewID returns a fresh opaque id: 48 bits of Unix milliseconds, a 32-bit
// sequence number, then 128 random bits, in lowercase base32hex (42
// characters). Ids sort by creation time as bytes — which the storage
// indexes and every "newest first" list rely on — and, thanks to the
// sequence, also in creation order within one millisecond (with random
// bits alone, two executions created in the same millisecond listed in
// either order). Every id still carries the 128 random bits (more than the
// 122 that docs/api.md, "Conventions" asks of a webhook credential); the sequence adds order,
// not guessability. Ids of earlier builds (36 characters, no sequence)
// still sort among these by their time.
func NewID(now time.Time) string {
	var b [IDBytes]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	binary.BigEndian.PutUint32(b[6:10], idSeq.Add(1))
	if _, err := rand.Read(b[10:]); err != nil {
		panic("messages: crypto/rand failed: " + err.Error())
	}
	return idEncoding.EncodeToString(b[:])
}

// RandomHex returns n random bytes as lowercase hex (2n characters).
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("messages: crypto/rand failed: " + err.Error())
	}
	const digits = "0123456789abcdef"
	out := make([]byte, 2*n)
	for i, v := range b {
		out[2*i] = digits[v>>4]
		out[2*i+1] = digits[v&15]
	}
	return string(out)
}
