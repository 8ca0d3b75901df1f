package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Analytics runs (bucketAnalyticsRuns): one small row per finished
// execution, so that a from/to bound inside a UTC day selects by createdAt
// to the millisecond. The day aggregates (analytics.go) still answer every
// whole day of a range; the rows are read only for the partial days at its
// two edges, so a year costs its workflow-days plus at most two days of
// rows per workflow, never a scan of every execution.
//
// Key = workflow id + 0x00 + uint64 big-endian createdAt (Unix ms) +
// execution id: a workflow's rows are one prefix, in createdAt order (ids
// never hold a NUL byte, so one id's prefix is never another's). Value =
// a binary run (see marshalRun). Like the aggregates, rows outlive deleted
// workflows; unlike them, retention prunes the rows of days before its
// cut-off's day (PruneAnalyticsRunsBefore), which then count whole.
//
// The key exactFromKey (a single NUL byte, shorter than any row key) holds
// exactFrom, uint64 big-endian Unix ms, a UTC day boundary: every finished
// execution created at or after it has a row. It is 0 when the rows began
// with the database; a database whose executions had finished before this
// build gets the start of the UTC day after its last aggregate's day.
// Edge days before exactFrom have no complete rows and count whole (day
// precision, as before); a missing key means no rows at all.
var bucketAnalyticsRuns = []byte("analytics_runs") // workflow id + 0x00 + createdAt + execution id → run

func init() { registerBuckets(bucketAnalyticsRuns) }

var exactFromKey = []byte{0}

// runKey is the key of a run, or with id "" the first possible key of the
// workflow's runs created at ms.
func runKey(workflowID string, ms int64, id string) []byte {
	k := make([]byte, 0, len(workflowID)+9+len(id))
	k = append(k, workflowID...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(max(ms, 0)))
	return append(k, id...)
}

// runVersion tags the binary layout of a run: version byte, status byte
// (1 COMPLETED, 2 FAILED, 3 STOPPED), a flags byte, then the fields the
// flags name in this order: duration (uvarint ms), cpuAvg, cpuPeak,
// memAvg, memPeak (float64 bits, big-endian).
const runVersion = 1

const (
	runHasDuration = 1 << iota
	runHasCPUAvg
	runHasCPUPeak
	runHasMemAvg
	runHasMemPeak
)

// marshalRun encodes the contribution of one finished execution (a
// runOf result).
func marshalRun(r *dayAggregate) []byte {
	b := make([]byte, 3, 3+binary.MaxVarintLen64+4*8)
	b[0] = runVersion
	switch {
	case r.Completed > 0:
		b[1] = 1
	case r.Failed > 0:
		b[1] = 2
	case r.Stopped > 0:
		b[1] = 3
	}
	if r.DurationN > 0 {
		b[2] |= runHasDuration
		b = binary.AppendUvarint(b, uint64(r.DurationSum))
	}
	for _, f := range []struct {
		flag byte
		on   bool
		v    float64
	}{{runHasCPUAvg, r.CPUAvgN > 0, r.CPUAvgSum}, {runHasCPUPeak, r.CPUPeak != 0, r.CPUPeak},
		{runHasMemAvg, r.MemAvgN > 0, r.MemAvgSum}, {runHasMemPeak, r.MemPeak != 0, r.MemPeak}} {
		if f.on {
			b[2] |= f.flag
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(f.v))
		}
	}
	return b
}

// unmarshalRun decodes a run into r (a one-execution aggregate, no name).
func unmarshalRun(b []byte, r *dayAggregate) error {
	bad := func() error { return fmt.Errorf("storage: analytics run: bad record (%d bytes)", len(b)) }
	if len(b) < 3 || b[0] != runVersion {
		return bad()
	}
	*r = dayAggregate{Total: 1}
	switch b[1] {
	case 1:
		r.Completed = 1
	case 2:
		r.Failed = 1
	case 3:
		r.Stopped = 1
	}
	flags, rest := b[2], b[3:]
	if flags&runHasDuration != 0 {
		d, n := binary.Uvarint(rest)
		if n <= 0 {
			return bad()
		}
		r.DurationSum, r.DurationN, rest = int64(d), 1, rest[n:]
	}
	next := func() (float64, error) {
		if len(rest) < 8 {
			return 0, bad()
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(rest))
		rest = rest[8:]
		return v, nil
	}
	var err error
	if flags&runHasCPUAvg != 0 {
		if r.CPUAvgSum, err = next(); err != nil {
			return err
		}
		r.CPUAvgN = 1
	}
	if flags&runHasCPUPeak != 0 {
		if r.CPUPeak, err = next(); err != nil {
			return err
		}
	}
	if flags&runHasMemAvg != 0 {
		if r.MemAvgSum, err = next(); err != nil {
			return err
		}
		r.MemAvgN = 1
	}
	if flags&runHasMemPeak != 0 {
		if r.MemPeak, err = next(); err != nil {
			return err
		}
	}
	return nil
}

// putRunTx records a finished execution's run. foldAnalyticsTx calls it
// before it adds the run to the day aggregate, so ensureExactFromTx still
// sees whether aggregates without rows exist.
func putRunTx(tx *bbolt.Tx, e *messages.Execution, run *dayAggregate) error {
	if err := ensureExactFromTx(tx); err != nil {
		return err
	}
	b := tx.Bucket(bucketAnalyticsRuns)
	// A workflow's new rows land at the end of its range: pack split
	// pages as the executions bucket does.
	b.FillPercent = appendFillPercent
	return b.Put(runKey(e.WorkflowID, int64(e.CreatedAt), e.ID), marshalRun(run))
}

// ensureExactFromTx sets exactFrom on the first fold of this build: 0 when
// no execution had finished before (a new database), else the start of the
// UTC day after the last day with an aggregate (every execution that
// finished without a row was created before it).
func ensureExactFromTx(tx *bbolt.Tx) error {
	b := tx.Bucket(bucketAnalyticsRuns)
	if b.Get(exactFromKey) != nil {
		return nil
	}
	var last int64 = -1
	c := tx.Bucket(bucketAnalytics).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) >= 4 {
			last = max(last, int64(binary.BigEndian.Uint32(k[len(k)-4:])))
		}
	}
	return b.Put(exactFromKey, binary.BigEndian.AppendUint64(nil, uint64((last+1)*msPerDay)))
}

// exactFromTx reads exactFrom (math.MaxInt64 when no row was ever written).
func exactFromTx(tx *bbolt.Tx) int64 {
	v := tx.Bucket(bucketAnalyticsRuns).Get(exactFromKey)
	if len(v) != 8 {
		return math.MaxInt64
	}
	return int64(binary.BigEndian.Uint64(v))
}

// addRunsTx adds to sum the workflow's runs created in [lo, hi] (ms,
// inclusive) and returns how many there were.
func addRunsTx(c *bbolt.Cursor, workflowID string, lo, hi int64, sum *dayAggregate) (int, error) {
	prefix := runKey(workflowID, 0, "")[:len(workflowID)+1]
	n := 0
	var run dayAggregate
	for k, v := c.Seek(runKey(workflowID, lo, "")); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) < len(prefix)+8 {
			continue
		}
		if int64(binary.BigEndian.Uint64(k[len(prefix):])) > hi {
			break
		}
		if unmarshalRun(v, &run) != nil {
			noteBadTx(c.Bucket().Tx(), bucketAnalyticsRuns, k) // left out (quarantine.go)
			continue
		}
		sum.add(&run)
		n++
	}
	return n, nil
}

// PruneAnalyticsRunsBefore removes, in transactions of at most max keys,
// the analytics rows of executions created before boundary (rounded down
// to its UTC day) and moves exactFrom up to that day, so edge days before
// it count whole again (day precision) while every later day stays exact.
// Retention calls it with its cut-off: without it the rows, unlike the
// executions, would grow for the life of the database (~170 bytes each).
// It returns how many rows it removed.
func (s *Store) PruneAnalyticsRunsBefore(boundary time.Time, max int) (int, error) {
	if max <= 0 {
		max = 1000
	}
	day := boundary.UTC().UnixMilli() / msPerDay * msPerDay
	total := 0
	for {
		n := 0
		err := s.update(func(tx *bbolt.Tx) error {
			n = 0
			b := tx.Bucket(bucketAnalyticsRuns)
			from := b.Get(exactFromKey)
			if len(from) != 8 {
				return nil // no rows were ever written
			}
			if int64(binary.BigEndian.Uint64(from)) < day {
				if err := b.Put(exactFromKey, binary.BigEndian.AppendUint64(nil, uint64(day))); err != nil {
					return err
				}
			}
			var doomed [][]byte
			c := b.Cursor()
			k, _ := c.Seek([]byte{1}) // past exactFromKey
			for k != nil && len(doomed) < max {
				sep := bytes.IndexByte(k, 0)
				if sep < 0 || len(k) < sep+9 {
					k, _ = c.Next()
					continue
				}
				if int64(binary.BigEndian.Uint64(k[sep+1:])) < day {
					doomed = append(doomed, append([]byte(nil), k...))
					k, _ = c.Next()
					continue
				}
				// The rest of this workflow's rows are newer: skip to the next workflow.
				k, _ = c.Seek(append(append([]byte(nil), k[:sep]...), 1))
			}
			for _, k := range doomed {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(doomed)
			return nil
		})
		total += n
		if err != nil || n < max {
			return total, err
		}
	}
}
