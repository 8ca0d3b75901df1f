package storage

import (
	"fmt"
	"os"

	"go.etcd.io/bbolt"
)

// Preallocation keeps written-out (not sparse) free space at the end of the
// database file.
//
// bbolt grows its file with truncate, which leaves a hole; the next commits
// then write into the hole and every fdatasync must also journal the block
// allocation. Measured on this project's machines: two fdatasyncs over
// freshly allocated blocks take ~3.4 ms, over blocks that already exist
// ~1.3 ms. Since each commit is two fdatasyncs (data, then meta) and commits
// are the durable-write throughput limit, the writer loop (the only writer,
// so nothing races it) extends the file with real zero blocks ahead of
// bbolt's high-water mark. bbolt (v1.5) compares against the real file size
// before truncating, so it simply finds the space already there. Backups and
// compaction copy only the used pages, never the zero tail.
const (
	minHeadroom = 8 << 20   // keep at least this much zeroed space past the data
	maxHeadroom = 256 << 20 // never extend by more than this at once
)

// zeros is what preallocation writes (never written to itself).
var zeros = make([]byte, 1<<20)

// headroomFor is how far past the used size the file should reach: a
// quarter of the data, between the bounds.
func headroomFor(used int64) int64 {
	h := used / 4
	if h < minHeadroom {
		h = minHeadroom
	}
	if h > maxHeadroom {
		h = maxHeadroom
	}
	return h
}

// ensureHeadroom extends the file with zeros when the space past the data
// has fallen below half the wanted headroom. It must run on the writer
// goroutine (or before it starts), never during a write transaction.
func (s *Store) ensureHeadroom() error {
	var used int64
	if err := s.bolt.View(func(tx *bbolt.Tx) error { used = tx.Size(); return nil }); err != nil {
		return err
	}
	// Most commits reuse freed pages or fill pages already counted: only
	// look at the file when the high-water mark moved (or the last try
	// failed, when the disk may have room again).
	if used == s.preallocUsed && !s.lowSpace.Load() {
		return nil
	}
	if s.preallocFile == nil {
		f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("storage: preallocate: %w", err)
		}
		s.preallocFile = f
	}
	f := s.preallocFile
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("storage: preallocate: %w", err)
	}
	want := headroomFor(used)
	// Count the blocks really allocated, not the file size: bbolt's own
	// growth (truncate) makes the file longer without allocating anything.
	allocated := allocatedBytes(fi)
	if allocated-used >= want/2 {
		s.preallocUsed = used
		return nil
	}
	// Everything past the high-water mark is unused by bbolt (it only
	// writes there inside a commit, and this runs between commits), so it
	// may be overwritten with zeros, holes included.
	for off := used; off < used+want; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return fmt.Errorf("storage: preallocate: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("storage: preallocate: %w", err)
	}
	s.preallocUsed = used
	return nil
}
