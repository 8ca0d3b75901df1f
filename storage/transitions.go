package storage

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// A transition prepared by its caller.
//
// The execution's owner (its actor) holds the record the transition starts
// from, so the work that depends only on the two records — encoding the new
// record, listing the index entries to delete and to put, the counter
// changes — is done in the caller's goroutine by SaveTransition, before the
// write is queued. The storage writer, a single goroutine that is the drain's
// bottleneck under load (docs/performance.md), then compares the stored
// bytes with the stored form of the record the caller started from and only
// puts and deletes. When they differ (a record written by an older release
// in another form, or changed behind the owner's back) the write takes the
// unprepared path, which decodes the stored record and diffs it in the
// transaction, so the outcome never depends on the caller being right.

// indexEntry is one index entry of a prepared transition.
type indexEntry struct {
	bucket, key, value []byte
}

// counterDelta is one counter change of a prepared transition.
type counterDelta struct {
	name  string
	delta int64
}

// preparedTransition is what SaveTransition prepares outside the writer.
type preparedTransition struct {
	id         []byte
	prev       []byte // the stored form of the record the caller started from
	prevStatus messages.ExecutionStatus
	next       []byte // the stored form of the new record
	dels       []indexEntry
	puts       []indexEntry
	counters   []counterDelta
	fold       bool // the execution enters a terminal state
	change     executionChange
}

// prepareTransition builds the prepared form of prev → c.Execution.
func prepareTransition(prev *messages.Execution, c executionChange) *preparedTransition {
	e := c.Execution
	p := &preparedTransition{id: []byte(e.ID), prevStatus: prev.Status, change: c,
		fold: e.Status.Terminal() && !prev.Status.Terminal()}
	pc, nc := *prev, *e
	pc.Logs, nc.Logs = nil, nil
	p.prev = appendStoredExecution(make([]byte, 0, 512), &pc)
	p.next = appendStoredExecution(make([]byte, 0, len(p.prev)+64), &nc)
	oldKeys, newKeys := indexKeysOf(prev), indexKeysOf(e)
	for _, k := range oldKeys {
		if !hasIndexKey(newKeys, k) {
			p.dels = append(p.dels, indexEntry{bucket: k[0], key: k[1]})
		}
	}
	for _, k := range newKeys {
		if !hasIndexKey(oldKeys, k) {
			p.puts = append(p.puts, indexEntry{bucket: k[0], key: k[1], value: indexValue(k[0], e)})
		}
	}
	// A dozen names at most: a slice beats a map.
	var names []string
	var deltas []int64
	add := func(list []string, d int64) {
		for _, n := range list {
			i := 0
			for i < len(names) && names[i] != n {
				i++
			}
			if i == len(names) {
				names, deltas = append(names, n), append(deltas, 0)
			}
			deltas[i] += d
		}
	}
	add(countersOf(prev), -1)
	add(countersOf(e), 1)
	for i, n := range names {
		if deltas[i] != 0 {
			p.counters = append(p.counters, counterDelta{name: n, delta: deltas[i]})
		}
	}
	return p
}

// applyTx is the transaction body of a prepared transition.
func (s *Store) applyTransitionTx(tx *bbolt.Tx, p *preparedTransition) error {
	execs := tx.Bucket(bucketExecutions)
	if !bytes.Equal(execs.Get(p.id), p.prev) {
		return s.saveExecutionTx(tx, p.change)
	}
	c := p.change
	e := c.Execution
	if c.Expect != "" && p.prevStatus != c.Expect {
		return messages.Errorf(messages.CodeInvalidTransition, "the execution is %s", p.prevStatus)
	}
	if p.prevStatus.Terminal() && p.prevStatus != e.Status {
		return messages.Errorf(messages.CodeInvalidTransition, "the execution is already %s", p.prevStatus)
	}
	execs.FillPercent = appendFillPercent
	if err := execs.Put(p.id, p.next); err != nil {
		return err
	}
	offset, err := appendLogsTx(tx, e.ID, c.AppendLogs)
	if err != nil {
		return err
	}
	for _, d := range p.dels {
		if err := tx.Bucket(d.bucket).Delete(d.key); err != nil {
			return err
		}
	}
	for _, a := range p.puts {
		if err := tx.Bucket(a.bucket).Put(a.key, a.value); err != nil {
			return err
		}
	}
	s.addTxCounters(p.counters)
	if p.fold {
		if err := foldTerminalTx(tx, e); err != nil {
			return err
		}
	}
	return s.transitionEffectsTx(tx, c, offset)
}

// transitionEffectsTx writes the events and audit entry of a transition:
// a log chunk's event comes before the change's own events (a final
// report's log lines before its COMPLETED); only storage knows its offset.
func (s *Store) transitionEffectsTx(tx *bbolt.Tx, c executionChange, offset int) error {
	fx := c.Effects
	if c.AppendLogs != "" {
		evs := make([]messages.Event, 0, len(fx.Events)+1)
		evs = append(evs, messages.ExecutionLogEvent(c.Execution.ID, offset, c.AppendLogs, c.Execution.UpdatedAt))
		fx.Events = append(evs, fx.Events...)
	}
	return s.applyEffectsTx(tx, fx)
}

// The counter changes of prepared transitions are summed over the
// writer's transaction and written once at its end (flushTxCountersTx,
// from eventsFinishTx): the status counters are shared by every execution
// and the runner's by its three transitions, so a commit of ~140 writes
// read and rewrote the same few keys hundreds of times. The sums belong to
// the writer goroutine; an attempt that does not commit starts over
// (eventsBegin). Counter changes are additions, so their order within the
// transaction does not matter; the only read of a counter inside a write
// transaction (DeleteWorkflow's active check) adds the pending sum
// (txCounter).

// addTxCounters adds a transition's counter changes to the transaction's
// sums.
func (s *Store) addTxCounters(ds []counterDelta) {
	if s.txCounters == nil {
		s.txCounters = map[string]int64{}
	}
	for _, d := range ds {
		s.txCounters[d.name] += d.delta
	}
}

// txCounter is the pending change of a counter in the writer's
// transaction.
func (s *Store) txCounter(name string) int64 { return s.txCounters[name] }

// resetTxCounters forgets the sums of an attempt.
func (s *Store) resetTxCounters() { clear(s.txCounters) }

// flushTxCountersTx writes the summed counter changes.
func (s *Store) flushTxCountersTx(tx *bbolt.Tx) error {
	if len(s.txCounters) == 0 {
		return nil
	}
	for name, d := range s.txCounters {
		if d != 0 {
			if err := addCounterTx(tx, name, d); err != nil {
				return err
			}
		}
	}
	clear(s.txCounters)
	return nil
}

// SaveTransition is SaveExecution for the owner of the execution, which
// knows the record the transition starts from: prev is the record as last
// stored (its Logs are ignored), e the new state. The encoding, the index
// entries and the counter changes are prepared here, in the caller's
// goroutine, so the storage writer only compares and puts; when the stored
// record is not prev, the write is SaveExecution's.
func (s *Store) SaveTransition(prev, e *messages.Execution, expect messages.ExecutionStatus, appendLogs string, fx messages.Effects) error {
	c := executionChange{Execution: e, Expect: expect, AppendLogs: appendLogs, Effects: fx}
	if prev == nil || prev.ID != e.ID {
		return s.update(func(tx *bbolt.Tx) error { return s.saveExecutionTx(tx, c) })
	}
	p := prepareTransition(prev, c)
	return s.update(func(tx *bbolt.Tx) error { return s.applyTransitionTx(tx, p) })
}
