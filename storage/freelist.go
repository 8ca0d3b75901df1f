package storage

import (
	"encoding/binary"
	"time"

	"go.etcd.io/bbolt"
)

// metaClosedAt is written by the last commit of a clean close (uint64 ms).
var metaClosedAt = []byte("closed_at")

// syncFreelistAtClose makes the last commit of a clean close write bbolt's
// free list, so the next open reads it from its page instead of rebuilding
// it by walking (and checking) every page of the file: commits skip the
// free list for speed (NoFreelistSync, docs/decisions.md), which made a
// start with a million queued executions spend ~6 s of CPU in that walk.
// After a crash the walk still happens; a failure here only costs that.
func (s *Store) syncFreelistAtClose() {
	s.bolt.NoFreelistSync = false
	_ = s.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaClosedAt, binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixMilli())))
	})
}
