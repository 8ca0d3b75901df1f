package storage

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// The queue index: what a start needs to rebuild the dispatcher's queue,
// without decoding a single execution.
//
//   - bucketExecQueue: priority rank (1 byte: 0 HIGH, 1 NORMAL, 2 LOW) +
//     enqueuedAt (uint64 ms big-endian) + id → empty, one entry per QUEUED
//     execution, kept by eachIndexKey in the transaction that changes the
//     record (like every other index). Keys sort in queue order.
//   - queueIndexBuilt (a key that sorts after every entry): present once
//     the index is complete. A database written before the index existed
//     gets it built on the first EachQueued.
var bucketExecQueue = []byte("exec_queue")

var queueIndexBuilt = []byte("\xffbuilt")

func init() { registerBuckets(bucketExecQueue) }

// rankPriority is the priority of each queue rank.
var rankPriority = [3]messages.Priority{messages.PriorityHigh, messages.PriorityNormal, messages.PriorityLow}

// queueKey appends the queue index key of a QUEUED execution to buf.
func queueKey(buf []byte, e *messages.Execution) []byte {
	rank := e.Priority.Rank()
	if rank < 0 {
		rank = 1 // an invalid priority queues as NORMAL
	}
	buf = append(buf[:0], byte(rank))
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.EnqueuedAt))
	return append(buf, e.ID...)
}

// EachQueued calls fn with every QUEUED execution in queue order (priority,
// then enqueue time, then id), read from the queue index in one
// transaction; id is only valid during the call (no string is made per
// entry). The first call on a database from before the index builds it.
// The index's pages, read once, then leave the process's resident set.
func (s *Store) EachQueued(fn func(id []byte, p messages.Priority, enqueuedAt messages.Time)) error {
	defer s.dropMapped()
	// The index is trusted when it is marked complete and holds as many
	// entries as the QUEUED counter says (a build that knew no index, run
	// on this file in between, would have left it short): else rebuilt.
	sound := false
	if err := s.view(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bucketExecQueue)
		if q.Get(queueIndexBuilt) == nil {
			return nil
		}
		n := uint64(0)
		c := q.Cursor()
		for k, _ := c.First(); k != nil && k[0] < 3; k, _ = c.Next() {
			n++
		}
		sound = n == uint64(counterTx(tx, execStatusCounter(messages.ExecQueued)))
		return nil
	}); err != nil {
		return err
	}
	if !sound {
		if err := s.buildQueueIndex(); err != nil {
			return err
		}
	}
	return s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketExecQueue).Cursor()
		for k, _ := c.First(); k != nil && k[0] < 3; k, _ = c.Next() {
			if len(k) < 10 {
				continue
			}
			fn(k[9:], rankPriority[k[0]], messages.Time(binary.BigEndian.Uint64(k[1:9])))
		}
		return nil
	})
}

// markQueueIndexIfEmptyTx marks the queue index complete on a database
// without executions (a new one): there is nothing to build.
func markQueueIndexIfEmptyTx(tx *bbolt.Tx) error {
	q := tx.Bucket(bucketExecQueue)
	if q.Get(queueIndexBuilt) != nil {
		return nil
	}
	if k, _ := tx.Bucket(bucketExecutions).Cursor().First(); k != nil {
		return nil // built by the first EachQueued
	}
	return q.Put(queueIndexBuilt, nil)
}

// queueFields are the fields the queue index needs from a stored
// execution.
type queueFields struct {
	ID         string            `json:"id"`
	Priority   messages.Priority `json:"priority"`
	EnqueuedAt messages.Time     `json:"enqueuedAt"`
}

// buildQueueIndex (re)fills the queue index from the status index (a
// database written before the queue index existed, or by such a build in
// between) and marks it built.
func (s *Store) buildQueueIndex() error {
	return s.update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketExecQueue); err != nil {
			return err
		}
		q, err := tx.CreateBucket(bucketExecQueue)
		if err != nil {
			return err
		}
		prefix := joinKey(string(messages.ExecQueued), "")
		execs := tx.Bucket(bucketExecutions)
		c := tx.Bucket(bucketExecByStatus).Cursor()
		var buf []byte
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			v := execs.Get(k[len(prefix):])
			if v == nil {
				continue
			}
			var f queueFields
			if err := decode(v, &f); err != nil {
				continue // undecodable: it cannot be handed out anyway
			}
			buf = queueKey(buf, &messages.Execution{ID: f.ID, Priority: f.Priority, EnqueuedAt: f.EnqueuedAt})
			if err := q.Put(buf, nil); err != nil {
				return err
			}
		}
		return q.Put(queueIndexBuilt, nil)
	})
}

// InFlightExecutions returns every ASSIGNED or RUNNING execution (without
// logs), oldest first, read in one transaction: the executions whose actors
// a start respawns. The queued backlog is not read (see EachQueued).
func (s *Store) InFlightExecutions() ([]*messages.Execution, error) {
	var out []*messages.Execution
	err := s.view(func(tx *bbolt.Tx) (err error) {
		for _, st := range []messages.ExecutionStatus{messages.ExecAssigned, messages.ExecRunning} {
			if out, err = appendWithStatusTx(tx, out, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *messages.Execution) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// dropMapped takes the database map's pages out of the resident set (after
// a read of a large part of it at start).
func (s *Store) dropMapped() {
	if abs, err := filepath.Abs(s.path); err == nil {
		dropMappedPages(abs)
	}
}
