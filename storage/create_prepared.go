package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Pipelined creations: each creation is prepared by its caller (the
// executions registry) as it arrives, while the writer is still committing
// the batch before (PrepareCreation: bound to its workflow's published
// version, its stored record, event and index entries built), and the
// batch's transaction only checks and puts what was prepared
// (CreatePreparedAsync). The workflows are read through a small cache that
// any catalog write empties; inside the transaction each workflow's stored
// bytes and version are read again and compared, so a workflow changed (or
// published, or deleted) in between sends the whole batch down the
// unprepared path (createExecutionTx), with the same result as if nothing
// had been prepared. The dedupe and id checks stay inside the transaction,
// in the batch's order.

// preparedWorkflow is what preparing saw of one workflow: its stored bytes
// (nil when absent) and whether its published version was there.
type preparedWorkflow struct {
	raw       []byte
	wf        *messages.Workflow // nil when absent
	published bool
}

// preparedCreate is one creation ready to be put.
type preparedCreate struct {
	src       *messages.Execution // as the caller made it
	key       string              // its dedupe key ("" for none)
	e         *messages.Execution // bound to the workflow and its version
	wf        *preparedWorkflow
	createdAt messages.Time
	refusal   *messages.Error // NOT_FOUND or NO_PUBLISHED_VERSION, decided by the workflow
	dedupe    []byte          // the dedupe bucket's key, nil for none
	record    []byte          // the stored form (execcodec.go)
	event     messages.Event
	index     []preparedIndex
	counters  []string
}

// preparedIndex is one index entry of a prepared creation.
type preparedIndex struct {
	bucket, key, value []byte
}

// bindExecution binds e (a copy of the caller's execution) to workflow wf
// and its published version, as the stored execution says it.
func bindExecution(e *messages.Execution, wf *messages.Workflow, dedupeKey string) {
	e.Workflow = messages.WorkflowRef{ID: wf.ID, Name: wf.Name}
	e.VersionID = string(wf.PublishedVersionID)
	if e.RunnerLabels == nil {
		// No override (create request, trigger): the workflow's labels.
		e.RunnerLabels = wf.RunnerLabels
	}
	if len(e.RunnerLabels) == 0 {
		e.RunnerLabels = nil
	}
	if dedupeKey != "" {
		e.DedupeKey = dedupeKey
	}
}

// refusalOf is why workflow wf refuses new executions (nil: it takes them).
func refusalOf(wf *messages.Workflow, published bool) *messages.Error {
	if wf == nil {
		return messages.NotFound("workflow")
	}
	if wf.PublishedVersionID == "" || !published {
		return messages.Errorf(messages.CodeNoPublished, "the workflow has no published version")
	}
	return nil
}

// PreparedExecution implements messages.PreparedCreation.
func (p *preparedCreate) PreparedExecution() *messages.Execution { return p.e }

// preparedWorkflows caches the workflows creations are prepared against,
// for the generation of the catalog it was filled in (any catalog write
// moves it); stale tells that a transaction found a prepared workflow
// changed behind the catalog's back.
type preparedWorkflows struct {
	mu    sync.Mutex
	gen   uint64
	m     map[string]*preparedWorkflow
	stale atomic.Bool
}

// preparedWorkflow returns what is stored of workflow id (cached); nil when
// it could not be read or decoded (the unprepared path deals with it).
func (s *Store) preparedWorkflow(id string) *preparedWorkflow {
	c := &s.prepared
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen := s.catalogGen.Load(); c.m == nil || c.gen != gen || c.stale.Swap(false) || len(c.m) > 1024 {
		c.m, c.gen = map[string]*preparedWorkflow{}, gen
	}
	if pw, ok := c.m[id]; ok {
		return pw
	}
	pw := &preparedWorkflow{}
	if err := s.view(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bucketWorkflows).Get([]byte(id))
		if raw == nil {
			return nil
		}
		pw.raw = bytes.Clone(raw)
		var wf messages.Workflow
		if err := decode(pw.raw, &wf); err != nil {
			return err
		}
		pw.wf = &wf
		pw.published = wf.PublishedVersionID != "" &&
			tx.Bucket(bucketVersions).Get([]byte(wf.PublishedVersionID)) != nil
		return nil
	}); err != nil {
		return nil
	}
	c.m[id] = pw
	return pw
}

// PrepareCreation prepares the creation of e (with its dedupe key, "" for
// none) for CreatePreparedAsync. e is not changed.
func (s *Store) PrepareCreation(e *messages.Execution, dedupeKey string) messages.PreparedCreation {
	p := &preparedCreate{src: e, key: dedupeKey, createdAt: e.CreatedAt}
	if dedupeKey != "" {
		p.dedupe = dedupeKeyOf(e.WorkflowID, dedupeKey)
	}
	pw := s.preparedWorkflow(e.WorkflowID)
	if pw == nil {
		return p // unprepared
	}
	p.wf = pw
	if p.refusal = refusalOf(pw.wf, pw.published); p.refusal != nil {
		return p
	}
	b := *e
	bindExecution(&b, pw.wf, dedupeKey)
	p.e = &b
	c := b
	c.Logs = nil
	p.record = appendStoredExecution(make([]byte, 0, 512), &c)
	p.event = messages.ExecutionEvent(&b, false)
	p.index = make([]preparedIndex, 0, 4)
	_, _ = eachIndexKey(&b, make([]byte, 0, 96), func(bucket, key []byte) error {
		p.index = append(p.index, preparedIndex{bucket: bucket, key: bytes.Clone(key), value: indexValue(bucket, &b)})
		return nil
	})
	p.counters = countersOf(&b)
	return p
}

// preparedStillTx reports whether every workflow the batch was prepared
// against is stored as it was then (same bytes, same published version).
func preparedStillTx(tx *bbolt.Tx, ps []*preparedCreate) bool {
	var checked []*preparedWorkflow // a batch names few workflows
	for _, p := range ps {
		pw := p.wf
		if pw == nil {
			return false // not prepared
		}
		if slices.Contains(checked, pw) {
			continue
		}
		checked = append(checked, pw)
		if pw.wf == nil {
			// Absent when prepared: the unprepared path decides.
			return false
		}
		if raw := tx.Bucket(bucketWorkflows).Get([]byte(pw.wf.ID)); !bytes.Equal(raw, pw.raw) {
			return false
		}
		if pw.wf != nil && pw.wf.PublishedVersionID != "" &&
			(tx.Bucket(bucketVersions).Get([]byte(pw.wf.PublishedVersionID)) != nil) != pw.published {
			return false
		}
	}
	return true
}

// putPreparedTx is createExecutionTx for a prepared creation (its workflow
// checked by preparedStillTx): the dedupe and id checks, then the puts.
func putPreparedTx(tx *bbolt.Tx, p *preparedCreate, cb *createBatch) (*messages.Execution, bool, error) {
	now := p.createdAt
	if p.dedupe != nil {
		if v := tx.Bucket(bucketExecDedupe).Get(p.dedupe); len(v) > 8 {
			at := messages.Time(readU64(v[:8]))
			if now-at < messages.Time(messages.DedupeWindow.Milliseconds()) {
				prev, err := getExecutionTx(tx, string(v[8:]))
				if err != nil {
					return nil, false, err
				}
				if prev != nil {
					return prev, true, nil
				}
			}
		}
	}
	if p.refusal != nil {
		return nil, false, p.refusal
	}
	e := p.e
	execs := appendOnly(tx, bucketExecutions)
	if execs.Get([]byte(e.ID)) != nil {
		return nil, false, messages.Errorf(messages.CodeConflict, "execution id exists")
	}
	if p.dedupe != nil {
		v := make([]byte, 8+len(e.ID))
		binary.BigEndian.PutUint64(v, uint64(now))
		copy(v[8:], e.ID)
		if err := tx.Bucket(bucketExecDedupe).Put(p.dedupe, v); err != nil {
			return nil, false, err
		}
	}
	if err := execs.Put([]byte(e.ID), p.record); err != nil {
		return nil, false, err
	}
	for _, ix := range p.index {
		if err := appendOnly(tx, ix.bucket).Put(ix.key, ix.value); err != nil {
			return nil, false, err
		}
	}
	for _, c := range p.counters {
		cb.counters[c]++
	}
	if e.Status.Terminal() {
		if err := foldTerminalTx(tx, e); err != nil {
			return nil, false, err
		}
	}
	cb.created(e, p.event)
	return e, false, nil
}

// CreatePreparedAsync creates the prepared executions in one write, as
// CreateExecutionsAsync does (one outcome per creation, in order).
func (s *Store) CreatePreparedAsync(prepared []messages.PreparedCreation,
	done func(outcomes []messages.CreateOutcome, err error)) {
	ps := make([]*preparedCreate, len(prepared))
	for i, p := range prepared {
		ps[i] = p.(*preparedCreate) // only this store makes them
	}
	outcomes := make([]messages.CreateOutcome, len(ps))
	s.updateAsync(func(tx *bbolt.Tx) error {
		cb := newCreateBatch()
		usePrepared := preparedStillTx(tx, ps)
		if !usePrepared {
			s.prepared.stale.Store(true)
		}
		for i, p := range ps {
			var out *messages.Execution
			var dup bool
			var err error
			if usePrepared {
				out, dup, err = putPreparedTx(tx, p, cb)
			} else {
				out, dup, err = createExecutionTx(tx, newExecution{Execution: p.src, DedupeKey: p.key}, cb)
			}
			if err != nil {
				var me *messages.Error
				if !errors.As(err, &me) {
					return err
				}
				// Refused before any write: report it, keep the others.
				outcomes[i] = messages.CreateOutcome{Err: me}
				continue
			}
			outcomes[i] = messages.CreateOutcome{Execution: out, Duplicate: dup}
		}
		if err := cb.applyTx(tx); err != nil {
			return err
		}
		return s.appendEventsTx(tx, cb.events)
	}, func(err error) {
		if err != nil {
			done(nil, err)
			return
		}
		done(outcomes, nil)
	})
}
