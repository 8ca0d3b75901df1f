package storage

import (
	"crypto/rand"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// License returns the stored license text ("" when none).
func (s *Store) License() (string, error) {
	var text string
	err := s.view(func(tx *bbolt.Tx) error {
		text = string(tx.Bucket(bucketMeta).Get(metaLicense))
		return nil
	})
	return text, err
}

// SaveLicense stores the license text with the change's effects. When
// onlyIfAbsent is set and a license is already stored, it is CONFLICT.
func (s *Store) SaveLicense(text string, onlyIfAbsent bool, fx messages.Effects) error {
	return s.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if onlyIfAbsent && meta.Get(metaLicense) != nil {
			return messages.Errorf(messages.CodeConflict, "a license is already activated")
		}
		if err := meta.Put(metaLicense, []byte(text)); err != nil {
			return err
		}
		return s.applyEffectsTx(tx, fx)
	})
}

// JWTSecret returns the HMAC key for tokens, generating and storing 32
// random bytes on first use. It lives in the database so that a restored
// backup keeps sessions and runner tokens valid (docs/api.md, "Details clients depend on").
func (s *Store) JWTSecret() ([]byte, error) {
	var secret []byte
	_ = s.view(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaJWTSecret); v != nil {
			secret = append([]byte(nil), v...)
		}
		return nil
	})
	if secret != nil {
		return secret, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("storage: jwt secret: %w", err)
	}
	err := s.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaJWTSecret); v != nil {
			secret = append([]byte(nil), v...)
			return nil
		}
		secret = fresh
		return meta.Put(metaJWTSecret, fresh)
	})
	return secret, err
}

// RevokeToken durably revokes a token id until expiresAt, with its audit entry.
func (s *Store) RevokeToken(tokenID string, expiresAt time.Time, audit *messages.AuditEntry) error {
	return s.update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketRevoked).Put([]byte(tokenID), u64(uint64(expiresAt.UnixMilli()))); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

// RevokedTokens returns the revoked token ids that have not expired at now,
// and removes the expired ones.
func (s *Store) RevokedTokens(now time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	var expired [][]byte
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRevoked).ForEach(func(k, v []byte) error {
			exp := time.UnixMilli(int64(readU64(v)))
			if exp.Before(now) {
				expired = append(expired, append([]byte(nil), k...))
			} else {
				out[string(k)] = exp
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return out, err
	}
	return out, s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRevoked)
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
