package storage

import (
	"bytes"
	"encoding/binary"

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
// transaction. The first call on a database from before the index builds
// it.
func (s *Store) EachQueued(fn func(id string, p messages.Priority, enqueuedAt messages.Time)) error {
	built := false
	if err := s.view(func(tx *bbolt.Tx) error {
		built = tx.Bucket(bucketExecQueue).Get(queueIndexBuilt) != nil
		return nil
	}); err != nil {
		return err
	}
	if !built {
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
			fn(string(k[9:]), rankPriority[k[0]], messages.Time(binary.BigEndian.Uint64(k[1:9])))
		}
		return nil
	})
}

// buildQueueIndex fills the queue index from the status index (a database
// written before the queue index existed) and marks it built.
func (s *Store) buildQueueIndex() error {
	return s.update(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bucketExecQueue)
		if q.Get(queueIndexBuilt) != nil {
			return nil
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
			var e messages.Execution
			if err := decode(v, &e); err != nil {
				continue // undecodable: it cannot be handed out anyway
			}
			buf = queueKey(buf, &e)
			if err := q.Put(buf, nil); err != nil {
				return err
			}
		}
		return q.Put(queueIndexBuilt, nil)
	})
}
