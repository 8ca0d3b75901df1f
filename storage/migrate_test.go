package storage

import (
	"encoding/binary"
	"testing"

	"go.etcd.io/bbolt"
)

// Every schema version before this build's has a step to the next one.
func TestSchemaStepsCoverEveryVersion(t *testing.T) {
	for v := uint64(1); v < SchemaVersion; v++ {
		if schemaSteps[v] == nil {
			t.Errorf("no step from schema %d", v)
		}
	}
}

// A database stamped with an older schema is upgraded on open and keeps
// its records; one stamped newer is refused.
func TestOpenUpgradesOlderSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.bolt.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(metaSchemaVersion, u64(1)); err != nil {
			return err
		}
		return tx.Bucket(bucketCounters).Put([]byte("kept"), u64(7))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var version, kept uint64
	_ = s.bolt.View(func(tx *bbolt.Tx) error {
		version = binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(metaSchemaVersion))
		kept = binary.BigEndian.Uint64(tx.Bucket(bucketCounters).Get([]byte("kept")))
		return nil
	})
	if version != SchemaVersion || kept != 7 {
		t.Fatalf("after upgrade: schema %d (want %d), counter %d (want 7)", version, SchemaVersion, kept)
	}
	if err := s.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSchemaVersion, u64(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if s, err = Open(dir, Options{}); err == nil {
		_ = s.Close()
		t.Fatal("a newer schema was opened")
	}
}
