package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Quarantine: a stored record that cannot be decoded never stops the
// server (docs/decisions.md, "Records that cannot be decoded"). Every read
// path skips it (a list leaves it out, a get answers not found), and the
// record is moved aside, bytes as found, into bucketQuarantine: by any read
// that meets one (from Open on), and by a sweep of every record bucket that
// the server starts once it serves (SweepQuarantine), in the background and
// paced, so neither the start nor the traffic after it waits on it. The count of quarantined records is on /api/health and /metrics;
// docs/operations.md says how an operator inspects and removes them.
//
//   - bucketQuarantine: original bucket + "/" + original key → the
//     record's bytes, unchanged (a key quarantined again gets "~2", "~3"…).
var bucketQuarantine = []byte("quarantine")

func init() { registerBuckets(bucketQuarantine) }

// errBadRecord marks a stored value that cannot be decoded (decode wraps
// every decoding failure in it).
var errBadRecord = errors.New("stored record cannot be decoded")

// isBadRecord tells a record that cannot be decoded from other failures.
func isBadRecord(err error) bool { return errors.Is(err, errBadRecord) }

// recordChecks decodes a value of each record bucket as its readers do;
// an error means the record is quarantined. Buckets of keys only (indexes,
// counters) have none: their readers take any bytes.
var recordChecks = map[string]func(tx *bbolt.Tx, k, v []byte) error{
	string(bucketUsers): func(_ *bbolt.Tx, _, v []byte) error { var x storedUser; return decode(v, &x) },
	string(bucketAudit): func(_ *bbolt.Tx, _, v []byte) error {
		var x messages.AuditEntry
		return decode(v, &x)
	},
	string(bucketWorkflows): func(_ *bbolt.Tx, _, v []byte) error {
		var x messages.Workflow
		return decode(v, &x)
	},
	string(bucketVersions): func(_ *bbolt.Tx, _, v []byte) error {
		var x messages.Version
		return decode(v, &x)
	},
	string(bucketExecutions): func(_ *bbolt.Tx, _, v []byte) error {
		var x messages.Execution
		return decode(v, &x)
	},
	string(bucketRunners): func(_ *bbolt.Tx, _, v []byte) error { var x storedRunner; return decode(v, &x) },
	string(bucketTriggers): func(tx *bbolt.Tx, _, v []byte) error {
		_, err := decodeTriggerTx(tx, v)
		return err
	},
	string(bucketAnalytics): func(_ *bbolt.Tx, _, v []byte) error {
		var x dayAggregate
		if err := x.unmarshal(v); err != nil {
			return fmt.Errorf("%w: %w", errBadRecord, err)
		}
		return nil
	},
	string(bucketAnalyticsRuns): func(_ *bbolt.Tx, k, v []byte) error {
		if bytes.Equal(k, exactFromKey) {
			return nil
		}
		var x dayAggregate
		if err := unmarshalRun(v, &x); err != nil {
			return fmt.Errorf("%w: %w", errBadRecord, err)
		}
		return nil
	},
}

// registerRecordCheck adds the check of a record bucket that a later
// feature declares (call it from an init function, beside registerBuckets):
// the sweep then finds that bucket's records that cannot be decoded. Its
// read paths skip them when they read through getTx, pageNewestFirstTx or
// eachRecordTx, or call skipBadTx on a decode error.
func registerRecordCheck(bucket []byte, check func(tx *bbolt.Tx, k, v []byte) error) {
	recordChecks[string(bucket)] = check
}

func init() {
	registerRecordCheck(bucketAssets, func(_ *bbolt.Tx, _, v []byte) error { var x storedAsset; return decode(v, &x) })
	registerRecordCheck(bucketAPIKeys, func(_ *bbolt.Tx, _, v []byte) error { var x storedAPIKey; return decode(v, &x) })
}

// quarantine is a store's mover of bad records and their count.
type quarantine struct {
	log   *slog.Logger
	count atomic.Int64

	mu      sync.Mutex
	pending map[string][2][]byte // bucket/key → bucket, key: records reads met
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	sweep   chan struct{} // closed by SweepQuarantine
	swept   sync.Once
}

// openStores finds a transaction's store (tx.DB()), so that read helpers
// taking only a *bbolt.Tx can hand a bad record to its quarantine.
var openStores sync.Map // *bbolt.DB → *Store

// Quarantined is how many records are in quarantine.
func (s *Store) Quarantined() int64 {
	if s.q == nil {
		return 0
	}
	return s.q.count.Load()
}

// startQuarantine counts the quarantine and starts the sweep (Open).
func (s *Store) startQuarantine(log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &quarantine{log: log, pending: map[string][2][]byte{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), sweep: make(chan struct{})}
	err := s.view(func(tx *bbolt.Tx) error {
		q.count.Store(int64(tx.Bucket(bucketQuarantine).Stats().KeyN))
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: count quarantined records: %w", err)
	}
	if n := q.count.Load(); n > 0 {
		log.Warn("the database holds quarantined records (see docs/operations.md, Quarantine)", "quarantined", n)
	}
	s.q = q
	openStores.Store(s.bolt, s)
	go s.quarantineLoop()
	return nil
}

// stopQuarantine ends the sweep and the mover (Close, before the writer).
func (s *Store) stopQuarantine() {
	if s.q == nil {
		return
	}
	s.q.once.Do(func() { close(s.q.stop) })
	<-s.q.done
	openStores.Delete(s.bolt)
}

// noteBadTx hands a record that a read could not decode to its store's
// quarantine. It never blocks (it may run inside a read transaction).
func noteBadTx(tx *bbolt.Tx, bucket, key []byte) {
	if v, ok := openStores.Load(tx.DB()); ok && v.(*Store).q != nil {
		v.(*Store).q.suspect(bucket, key)
	}
}

func (q *quarantine) suspect(bucket, key []byte) {
	id := string(bucket) + "/" + string(key)
	q.mu.Lock()
	if _, ok := q.pending[id]; !ok {
		q.pending[id] = [2][]byte{append([]byte(nil), bucket...), append([]byte(nil), key...)}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// sweepChunk is how many records one read transaction of the sweep
// checks: short transactions, so writers that grow the file never wait
// long on the sweep.
const sweepChunk = 256

// SweepQuarantine starts the sweep of every record bucket in the
// background (once per Open; later calls do nothing). The server calls it
// once it serves: the start never waits on it.
func (s *Store) SweepQuarantine() {
	if s.q != nil {
		s.q.swept.Do(func() { close(s.q.sweep) })
	}
}

// quarantineLoop moves the records that reads report, and sweeps every
// record bucket once when asked, until stop.
func (s *Store) quarantineLoop() {
	defer close(s.q.done)
	sweep := s.q.sweep
	for {
		select {
		case <-s.q.stop:
			return
		case <-s.q.wake:
			s.movePending()
		case <-sweep:
			if !s.sweepAll() {
				return
			}
			sweep = nil // swept: only reads from now on
		}
	}
}

// sweepAll checks every record bucket; false when the store is closing.
func (s *Store) sweepAll() bool {
	names := make([]string, 0, len(recordChecks))
	for name := range recordChecks {
		names = append(names, name)
	}
	sort.Strings(names)
	swept := 0
	for _, name := range names {
		n, ok := s.sweepBucket([]byte(name))
		swept += n
		if !ok {
			return false
		}
	}
	if swept > 0 {
		s.q.log.Warn("moved stored records that cannot be decoded into quarantine", "moved", swept,
			"quarantined", s.q.count.Load())
	}
	return true
}

// sweepBucket checks every record of bucket in chunks and moves the bad
// ones; ok is false when the store is closing.
func (s *Store) sweepBucket(bucket []byte) (moved int, ok bool) {
	check := recordChecks[string(bucket)]
	var after []byte
	for {
		select {
		case <-s.q.stop:
			return moved, false
		case <-s.q.wake:
			s.movePending()
		default:
		}
		var bad [][]byte
		seen := 0
		began := time.Now()
		err := s.view(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && seen < sweepChunk; k, v = c.Next() {
				seen++
				after = append(after[:0], k...)
				if v != nil && check(tx, k, v) != nil {
					bad = append(bad, append([]byte(nil), k...))
				}
			}
			return nil
		})
		if err != nil {
			s.q.log.Error("quarantine sweep: read failed", "bucket", string(bucket), "err", err)
			return moved, true
		}
		if len(bad) > 0 {
			n, err := s.moveAll(bucket, bad)
			if err != nil {
				if errors.Is(err, ErrClosed) {
					return moved, false
				}
				s.q.log.Error("quarantine sweep: move failed", "bucket", string(bucket), "err", err)
			}
			moved += n
		}
		if seen < sweepChunk {
			return moved, true
		}
		// Pace: rest twice as long as the chunk took, so the sweep of a
		// large database takes at most a third of a core from the server
		// (decoding is its whole cost: ~10 µs an execution here, so a
		// million executions take about half a minute).
		pause := time.NewTimer(2 * time.Since(began))
		select {
		case <-s.q.stop:
			pause.Stop()
			return moved, false
		case <-pause.C:
		}
	}
}

// movePending moves the records reads reported.
func (s *Store) movePending() {
	s.q.mu.Lock()
	pending := s.q.pending
	s.q.pending = map[string][2][]byte{}
	s.q.mu.Unlock()
	byBucket := map[string][][]byte{}
	for _, bk := range pending {
		byBucket[string(bk[0])] = append(byBucket[string(bk[0])], bk[1])
	}
	for bucket, keys := range byBucket {
		if _, err := s.moveAll([]byte(bucket), keys); err != nil && !errors.Is(err, ErrClosed) {
			s.q.log.Error("quarantine: move failed", "bucket", bucket, "err", err)
		}
	}
}

// moveAll moves those of keys whose records still cannot be decoded (a
// write may have replaced one meanwhile) in one transaction.
func (s *Store) moveAll(bucket []byte, keys [][]byte) (int, error) {
	var n int
	err := s.update(func(tx *bbolt.Tx) error {
		n = 0
		b := tx.Bucket(bucket)
		check := recordChecks[string(bucket)]
		if b == nil || check == nil {
			return nil
		}
		for _, k := range keys {
			v := b.Get(k)
			if v == nil || check(tx, k, v) == nil {
				continue
			}
			if err := quarantineTx(tx, bucket, k, v); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// quarantineTx moves the record under key in bucket, whose bytes are v,
// into quarantine inside tx, and counts and logs it once tx commits.
// Writers that meet a bad record they must replace (an analytics day, say)
// call it in their own transaction.
func quarantineTx(tx *bbolt.Tx, bucket, key, v []byte) error {
	q := tx.Bucket(bucketQuarantine)
	qk := append(append(append([]byte(nil), bucket...), '/'), key...)
	for i := 2; q.Get(qk) != nil; i++ {
		qk = append(append(append(append([]byte(nil), bucket...), '/'), key...), "~"+strconv.Itoa(i)...)
	}
	if err := q.Put(qk, append([]byte(nil), v...)); err != nil {
		return err
	}
	if err := tx.Bucket(bucket).Delete(key); err != nil {
		return err
	}
	if st, ok := openStores.Load(tx.DB()); ok && st.(*Store).q != nil {
		qq := st.(*Store).q
		name, shown, size := string(bucket), logKey(bucket, key), len(v)
		tx.OnCommit(func() {
			qq.count.Add(1)
			qq.log.Warn("quarantined a stored record that cannot be decoded", "bucket", name, "key", shown, "bytes", size)
		})
	}
	return nil
}

// logKey is a quarantined record's key as the log shows it: a trigger's id
// is its webhook's credential, so only its first characters are shown.
func logKey(bucket, key []byte) string {
	if bytes.Equal(bucket, bucketTriggers) || bytes.Equal(bucket, bucketWorkflowTriggers) {
		if len(key) > 6 {
			return string(key[:6]) + "…(redacted)"
		}
		return "(redacted)"
	}
	return strconv.QuoteToGraphic(string(key))
}

// skipBadTx is the read paths' rule: a record of bucket under key that
// cannot be decoded (err) is reported to the quarantine and skipped (true);
// any other error is the caller's to return (false).
func skipBadTx(tx *bbolt.Tx, bucket, key []byte, err error) bool {
	if !isBadRecord(err) {
		return false
	}
	noteBadTx(tx, bucket, key)
	return true
}

// eachRecordTx is ForEach over a record bucket that skips (and reports)
// the records fn cannot decode.
func eachRecordTx(tx *bbolt.Tx, bucket []byte, fn func(k, v []byte) error) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		if err := fn(k, v); err != nil {
			if skipBadTx(tx, bucket, k, err) {
				return nil
			}
			return err
		}
		return nil
	})
}
