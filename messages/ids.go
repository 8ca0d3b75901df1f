package messages

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewID returns a fresh opaque id: 48 bits of Unix milliseconds followed by
// 128 random bits, in lowercase base32hex (36 characters). Ids sort by
// creation time as bytes, which the storage indexes rely on, and carry more
// than the 122 random bits that SPEC §3 asks of a webhook credential.
func NewID(now time.Time) string {
	var b [22]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	if _, err := rand.Read(b[6:]); err != nil {
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
