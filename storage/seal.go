package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// Sealing keeps secrets that the server must read back in clear (a webhook
// trigger's HMAC secret: checking a signature needs the secret itself, so it
// cannot be hashed like runner secrets and passwords) out of the database
// file in plain text. They are encrypted with AES-256-GCM under a random key
// generated once into the meta bucket.
//
// The key lives in the same file on purpose: docs/api.md, "Details clients depend on" wants a backup
// restored elsewhere to keep working (as it does for the JWT key). So this
// protects against the secret showing up in a grep of the file, a hex dump
// or a partial copy, not against someone who holds the whole database — who
// can fire the webhooks by their ids anyway.

// sealKeySize is the AES-256 key length.
const sealKeySize = 32

// ensureSealKeyTx creates the sealing key when the database has none.
func ensureSealKeyTx(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if len(meta.Get(metaSealKey)) == sealKeySize {
		return nil
	}
	key := make([]byte, sealKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("seal key: %w", err)
	}
	return meta.Put(metaSealKey, key)
}

func sealAEADTx(tx *bbolt.Tx) (cipher.AEAD, error) {
	key := tx.Bucket(bucketMeta).Get(metaSealKey)
	if len(key) != sealKeySize {
		return nil, errors.New("storage: sealing key missing")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealTx encrypts plain ("" stays "") as base64(nonce || ciphertext).
func sealTx(tx *bbolt.Tx, plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	aead, err := sealAEADTx(tx)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("storage: seal: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), nil)), nil
}

// openTx decrypts what sealTx made.
func openTx(tx *bbolt.Tx, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	aead, err := sealAEADTx(tx)
	if err != nil {
		return "", err
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errors.New("storage: sealed secret is malformed")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
	if err != nil {
		return "", errors.New("storage: sealed secret does not open (wrong key or damaged)")
	}
	return string(plain), nil
}
