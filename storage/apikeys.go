package storage

import (
	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// API keys (owner: the accounts actor). Bucket api_keys: key id (time-ordered)
// → storedAPIKey. The accounts actor loads them all at start and answers
// lookups by hash from memory, so no index is kept on disk.
var bucketAPIKeys = []byte("api_keys")

func init() { registerBuckets(bucketAPIKeys) }

// storedAPIKey is a key as kept on disk: the public record plus its hash
// and the addresses it was used from (never shown).
type storedAPIKey struct {
	messages.APIKey
	Hash      string   `json:"hash"`
	Addresses []string `json:"addresses,omitempty"`
}

func toStoredAPIKey(k *messages.APIKey) storedAPIKey {
	return storedAPIKey{APIKey: *k, Hash: k.Hash, Addresses: k.Addresses}
}

func (sk *storedAPIKey) apiKey() *messages.APIKey {
	k := sk.APIKey
	k.Hash, k.Addresses = sk.Hash, append([]string(nil), sk.Addresses...)
	return &k
}

// CreateAPIKey stores a new key with its audit entry, in one durable
// transaction.
func (s *Store) CreateAPIKey(k *messages.APIKey, audit *messages.AuditEntry) error {
	sk := toStoredAPIKey(k)
	return s.update(func(tx *bbolt.Tx) error {
		if err := putTx(tx, bucketAPIKeys, k.ID, &sk); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

// SaveAPIKey overwrites a key that still exists (a key revoked meanwhile
// stays gone) with its audit entry.
func (s *Store) SaveAPIKey(k *messages.APIKey, audit *messages.AuditEntry) error {
	sk := toStoredAPIKey(k)
	return s.update(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketAPIKeys).Get([]byte(k.ID)) == nil {
			return nil
		}
		if err := putTx(tx, bucketAPIKeys, k.ID, &sk); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

// DeleteAPIKey removes a key (revocation) with its audit entry; NOT_FOUND
// when absent.
func (s *Store) DeleteAPIKey(id string, audit *messages.AuditEntry) error {
	return s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAPIKeys)
		if b.Get([]byte(id)) == nil {
			return messages.NotFound("API key")
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

// TouchAPIKeys records when keys were last used, in one transaction: the
// accounts actor flushes the times it keeps in memory every few seconds
// and at shutdown (a use is never a durable write of its own). Keys that
// no longer exist are skipped; a time never moves backwards.
func (s *Store) TouchAPIKeys(lastUsed map[string]messages.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	return s.update(func(tx *bbolt.Tx) error {
		for id, at := range lastUsed {
			var sk storedAPIKey
			found, err := getTx(tx, bucketAPIKeys, id, &sk)
			if err != nil {
				return err
			}
			if !found || sk.LastUsedAt >= at {
				continue
			}
			sk.LastUsedAt = at
			if err := putTx(tx, bucketAPIKeys, id, &sk); err != nil {
				return err
			}
		}
		return nil
	})
}

// AllAPIKeys returns every key, oldest first (the accounts actor loads them
// at start; keys are few: at most messages.MaxAPIKeysPerUser per user).
func (s *Store) AllAPIKeys() ([]*messages.APIKey, error) {
	var out []*messages.APIKey
	err := s.view(func(tx *bbolt.Tx) error {
		return eachRecordTx(tx, bucketAPIKeys, func(_, v []byte) error {
			var sk storedAPIKey
			if err := decode(v, &sk); err != nil {
				return err
			}
			out = append(out, sk.apiKey())
			return nil
		})
	})
	return out, err
}
