package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/exekra/orchestrator/messages"
)

// FileName is the database file inside the data dir.
const FileName = "exekra.db"

// ErrUnavailable wraps a failed commit (I/O: a full or failing disk): the
// caller gets 503 SERVICE_UNAVAILABLE and nothing of the write was kept.
var ErrUnavailable = messages.Errorf(messages.CodeUnavailable, "storage is not accepting writes right now")

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("storage: closed")

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another process.
	LockTimeout time.Duration
	// MaxBatch caps the writes committed in one transaction.
	MaxBatch int
	// Logger receives the quarantine's records (quarantine.go); nil
	// discards them.
	Logger *slog.Logger
}

// Store is the bbolt-backed store. It is safe for concurrent use.
type Store struct {
	bolt   *bbolt.DB
	path   string
	writes chan *writeReq
	stop   chan struct{}
	done   chan struct{}
	mu     sync.RWMutex // guards closed against concurrent submit
	closed bool

	stats     CommitStats
	unhealthy atomic.Bool // the last commit failed
	lowSpace  atomic.Bool // the last preallocation failed (disk full)
	q         *quarantine // moves records that cannot be decoded aside (quarantine.go)

	// preallocFile and preallocUsed belong to the writer goroutine
	// (prealloc.go): the file handle zeros are written through, and the
	// high-water mark at the last successful check.
	preallocFile *os.File
	preallocUsed int64

	// processes caches RunnerProcesses (nil when stale); catalogGen counts
	// the writes to workflows and versions (processes.go).
	processes  atomic.Pointer[[]messages.RunnerProcess]
	catalogGen atomic.Uint64
	// versions caches GetVersion (versioncache.go).
	versions versionCache
	// txCounters sums the counter changes of the prepared transitions in
	// the writer's transaction (transitions.go); the writer's own.
	txCounters map[string]int64

	// events numbers, stores and publishes domain events (events.go).
	events eventLog
	// deliveriesAdded counts new delivery records by subscription since
	// its last prune (writer goroutine only; deliveries.go).
	deliveriesAdded map[string]int

	// prepared caches the workflows creations are prepared against
	// (create_prepared.go).
	prepared preparedWorkflows
}

// CommitStats are cumulative figures of the group-commit writer.
type CommitStats struct {
	Commits     atomic.Uint64 // transactions committed (or failed)
	Writes      atomic.Uint64 // write functions applied
	Failures    atomic.Uint64 // transactions whose commit failed
	CommitNanos atomic.Uint64 // total time spent committing (incl. fsync)
	MaxBatch    atomic.Uint64 // largest batch seen
	// BatchSizes counts committed batches by size: slot i counts batches of
	// at most BatchSizeBounds[i] writes (and more than the bound before);
	// the last slot counts the larger ones.
	BatchSizes [len(BatchSizeBounds) + 1]atomic.Uint64
	// CommitDurations counts commits (incl. fsync) by duration the same way,
	// over CommitSecondsBounds.
	CommitDurations [len(CommitSecondsBounds) + 1]atomic.Uint64
}

// BatchSizeBounds are the upper bounds of the batch-size histogram.
var BatchSizeBounds = [...]float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}

// CommitSecondsBounds are the upper bounds (seconds) of the commit-duration histogram.
var CommitSecondsBounds = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// bucketOf is the histogram slot of v over bounds.
func bucketOf(bounds []float64, v float64) int {
	for i, b := range bounds {
		if v <= b {
			return i
		}
	}
	return len(bounds)
}

// writeReq is one queued write and who hears its outcome: the caller of
// update waiting on done, or the callback of updateAsync.
type writeReq struct {
	fn   func(tx *bbolt.Tx) error
	done chan error  // update's answer (nil for updateAsync)
	cb   func(error) // updateAsync's callback (nil for update)
	// live marks a write that only numbers live events (PublishLive): a
	// batch of nothing else commits no transaction.
	live bool
}

// finish hands the write's outcome to whoever waits for it.
func (r *writeReq) finish(err error) {
	if r.cb != nil {
		r.cb(err)
		return
	}
	r.done <- err
}

// Open opens (creating if needed) the database in dataDir, creates missing
// buckets, checks the schema version and starts the writer.
func Open(dataDir string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 5 * time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 2048
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: create data dir: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && fi.Size() < 4096 {
		return nil, fmt.Errorf("storage: %s is truncated (%d bytes): restore it from a backup", path, fi.Size())
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         opts.LockTimeout,
		FreelistType:    bbolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: 64 << 20,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("storage: %s is locked by another process (is a server already running on this data dir?)", path)
		}
		return nil, fmt.Errorf("storage: open %s: %w (the file may be damaged: restore it from a backup)", path, err)
	}
	s := &Store{
		bolt:   db,
		path:   path,
		writes: make(chan *writeReq, 4096),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := s.initSchema(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.ensureHeadroom(); err != nil {
		if s.preallocFile != nil {
			_ = s.preallocFile.Close()
		}
		_ = db.Close()
		return nil, err
	}
	s.dropMapped()
	go s.writer(opts.MaxBatch)
	if err := s.startQuarantine(opts.Logger); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) initSchema() error {
	err := s.bolt.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaSchemaVersion); v != nil {
			if len(v) != 8 {
				return errors.New("schema version is corrupt")
			}
			got := binary.BigEndian.Uint64(v)
			if got > SchemaVersion {
				return fmt.Errorf("database schema %d is newer than this build's %d: upgrade exekra", got, SchemaVersion)
			}
			if err := migrateTx(tx, got); err != nil {
				return err
			}
		}
		if err := ensureSealKeyTx(tx); err != nil {
			return err
		}
		if err := markQueueIndexIfEmptyTx(tx); err != nil {
			return err
		}
		if meta.Get(metaCreatedAt) == nil {
			if err := meta.Put(metaCreatedAt, u64(uint64(time.Now().UnixMilli()))); err != nil {
				return err
			}
		}
		if err := meta.Put(metaSchemaVersion, u64(SchemaVersion)); err != nil {
			return err
		}
		return s.loadEventsTx(tx)
	})
	if err != nil {
		return fmt.Errorf("storage: init schema: %w", err)
	}
	return nil
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// Stats exposes the group-commit figures.
func (s *Store) Stats() *CommitStats { return &s.stats }

// Close drains pending writes, stops the writer and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	s.stopQuarantine() // its moves go through the writer
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	<-s.done
	s.syncFreelistAtClose()
	if s.preallocFile != nil {
		_ = s.preallocFile.Close()
	}
	if err := s.bolt.Close(); err != nil {
		return fmt.Errorf("storage: close: %w", err)
	}
	return nil
}

// Ping reports whether the database can be read and written with room to
// grow; the health endpoint answers 503 when it cannot. After a failed
// commit or preallocation (a full disk, say) it probes with a tiny write —
// after which the writer retries the preallocation — so an idle server
// reports healthy again as soon as space is back, without waiting for
// real traffic.
func (s *Store) Ping() error {
	if s.unhealthy.Load() || s.lowSpace.Load() {
		err := s.update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaHealthProbe, []byte{1})
		})
		if err != nil {
			return fmt.Errorf("storage: writes are failing: %w", err)
		}
		if s.lowSpace.Load() {
			return errors.New("storage: the disk is full (no room to grow the database)")
		}
	}
	return s.bolt.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(metaSchemaVersion) == nil {
			return errors.New("storage: schema version missing")
		}
		return nil
	})
}

// WriteBackup writes a consistent copy of the whole database to w from a
// read transaction, so writers go on meanwhile. It returns the bytes written.
func (s *Store) WriteBackup(w io.Writer) (int64, error) {
	var n int64
	err := s.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	return n, nil
}

// update runs fn in a write transaction through the group-commit writer and
// returns once that transaction is durable (or failed). fn may run more than
// once and must be deterministic.
func (s *Store) update(fn func(tx *bbolt.Tx) error) error {
	req := &writeReq{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.writes <- req
	s.mu.RUnlock()
	return <-req.done
}

// updateAsync is update without the wait: done is called from the writer
// goroutine once the write is durable or failed (no goroutine per write).
// done must not block, nor wait on another write of this store.
func (s *Store) updateAsync(fn func(tx *bbolt.Tx) error, done func(error)) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		done(ErrClosed)
		return
	}
	s.writes <- &writeReq{fn: fn, cb: done}
	s.mu.RUnlock()
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx *bbolt.Tx) error) error { return s.bolt.View(fn) }

// writer is the group-commit loop: it takes every queued write (up to
// maxBatch), applies them in one transaction, commits (one fsync) and then
// answers each. While it commits, new writes queue up for the next batch, so
// the batch size follows the load without any added delay.
func (s *Store) writer(maxBatch int) {
	defer close(s.done)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case req := <-s.writes:
			batch = append(batch[:0], req)
		case <-s.stop:
			// Writers that raced Close hold no lock any more; drain them.
			for {
				select {
				case req := <-s.writes:
					s.commit([]*writeReq{req})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case req := <-s.writes:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		s.commit(batch)
		// A failure here is not fatal (bbolt grows the file itself, only
		// more slowly), but it means the disk is full: health says so.
		s.lowSpace.Store(s.ensureHeadroom() != nil)
	}
}

// errSkip marks the batch write that failed, so the rest can be retried.
type errSkip struct {
	index int
	err   error
}

func (e *errSkip) Error() string { return e.err.Error() }

// commit applies batch in one transaction. A write that returns an error
// gets that error and the others are retried without it; a failed commit
// (I/O) fails all of them.
func (s *Store) commit(batch []*writeReq) {
	if s.commitLive(batch) {
		return
	}
	for len(batch) > 0 {
		start := time.Now()
		s.eventsBegin()
		err := s.bolt.Update(func(tx *bbolt.Tx) error {
			for i, r := range batch {
				if err := r.fn(tx); err != nil {
					return &errSkip{index: i, err: err}
				}
			}
			return s.eventsFinishTx(tx)
		})
		took := time.Since(start)
		s.stats.Commits.Add(1)
		s.stats.CommitNanos.Add(uint64(took))
		s.stats.CommitDurations[bucketOf(CommitSecondsBounds[:], took.Seconds())].Add(1)
		var skip *errSkip
		if err != nil {
			s.eventsRollback()
		}
		if errors.As(err, &skip) {
			batch[skip.index].finish(skip.err)
			batch = append(batch[:skip.index:skip.index], batch[skip.index+1:]...)
			continue
		}
		if err != nil {
			s.stats.Failures.Add(1)
			s.unhealthy.Store(true)
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		} else {
			s.unhealthy.Store(false)
			n := uint64(len(batch))
			s.stats.Writes.Add(n)
			s.stats.BatchSizes[bucketOf(BatchSizeBounds[:], float64(n))].Add(1)
			for {
				m := s.stats.MaxBatch.Load()
				if n <= m || s.stats.MaxBatch.CompareAndSwap(m, n) {
					break
				}
			}
			// Published before anyone hears of the commit: a stream
			// open before a 2xx sees that change's events.
			s.eventsCommitted()
		}
		for _, r := range batch {
			r.finish(err)
		}
		return
	}
}

// commitLive numbers and publishes a batch made only of live events
// without a transaction, unless new numbers must be reserved on disk.
func (s *Store) commitLive(batch []*writeReq) bool {
	for _, r := range batch {
		if !r.live {
			return false
		}
	}
	s.eventsBegin()
	for _, r := range batch {
		_ = r.fn(nil) // live events only: nothing to fail
	}
	if s.eventsNeedTx() {
		s.eventsRollback()
		return false
	}
	s.eventsCommitted()
	for _, r := range batch {
		r.finish(nil)
	}
	return true
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func readU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// addCounterTx adds delta to a named counter inside tx.
func addCounterTx(tx *bbolt.Tx, name string, delta int64) error {
	b := tx.Bucket(bucketCounters)
	v := int64(readU64(b.Get([]byte(name)))) + delta
	if v < 0 {
		v = 0
	}
	return b.Put([]byte(name), u64(uint64(v)))
}

// counterTx reads a named counter inside tx.
func counterTx(tx *bbolt.Tx, name string) int {
	return int(readU64(tx.Bucket(bucketCounters).Get([]byte(name))))
}

// Counter reads a named counter.
func (s *Store) Counter(name string) (n int, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		n = counterTx(tx, name)
		return nil
	})
	return n, err
}
