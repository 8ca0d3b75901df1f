package storage

import (
	"bytes"
	"encoding/binary"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Pipelined creations: a batch of creations is prepared by its caller (the
// executions registry) before it joins the writer's queue, while the writer
// is still committing the previous batch, and the transaction only checks
// and puts what was prepared. Preparing reads each workflow once in a read
// transaction, binds every execution to the published version, and builds
// its stored record, its event and its index entries; inside the write
// transaction each workflow's stored bytes and version are read again and
// compared, so a workflow changed (or published, or deleted) in between
// sends the whole batch down the unprepared path (createExecutionTx), and
// the result is the same as if nothing had been prepared. The dedupe and
// id checks stay inside the transaction, in the batch's order.

// preparedWorkflow is what preparing saw of one workflow: its stored bytes
// (nil when absent) and whether its published version was there.
type preparedWorkflow struct {
	raw       []byte
	wf        *messages.Workflow // nil when absent
	published bool
}

// preparedCreate is one creation ready to be put.
type preparedCreate struct {
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

// prepareCreations prepares es in one read transaction. ok is false when
// something could not be prepared (a stored workflow that does not decode):
// the batch then takes the unprepared path, which handles it.
func (s *Store) prepareCreations(es []*messages.Execution, dedupeKeys []string) (ps []preparedCreate, ok bool) {
	ps = make([]preparedCreate, len(es))
	wfs := map[string]*preparedWorkflow{}
	counterNames := map[counterKind][]string{}
	err := s.view(func(tx *bbolt.Tx) error {
		for i, src := range es {
			pw, seen := wfs[src.WorkflowID]
			if !seen {
				pw = &preparedWorkflow{}
				if raw := tx.Bucket(bucketWorkflows).Get([]byte(src.WorkflowID)); raw != nil {
					pw.raw = bytes.Clone(raw)
					var wf messages.Workflow
					if err := decode(pw.raw, &wf); err != nil {
						return err
					}
					pw.wf = &wf
					pw.published = wf.PublishedVersionID != "" &&
						tx.Bucket(bucketVersions).Get([]byte(wf.PublishedVersionID)) != nil
				}
				wfs[src.WorkflowID] = pw
			}
			p := &ps[i]
			p.wf, p.createdAt = pw, src.CreatedAt
			key := ""
			if i < len(dedupeKeys) {
				key = dedupeKeys[i]
			}
			if key != "" {
				p.dedupe = dedupeKeyOf(src.WorkflowID, key)
			}
			if p.refusal = refusalOf(pw.wf, pw.published); p.refusal != nil {
				continue
			}
			e := *src
			bindExecution(&e, pw.wf, key)
			p.e = &e
			c := e
			c.Logs = nil
			p.record = appendStoredExecution(make([]byte, 0, 512), &c)
			p.event = messages.ExecutionEvent(&e, false)
			p.index = make([]preparedIndex, 0, 4)
			_, _ = eachIndexKey(&e, make([]byte, 0, 96), func(bucket, key []byte) error {
				p.index = append(p.index, preparedIndex{bucket: bucket, key: bytes.Clone(key), value: indexValue(bucket, &e)})
				return nil
			})
			k := counterKind{workflowID: e.WorkflowID, status: e.Status}
			if e.RunnerID != nil {
				k.runnerID = *e.RunnerID
			}
			if p.counters = counterNames[k]; p.counters == nil {
				p.counters = countersOf(&e)
				counterNames[k] = p.counters
			}
		}
		return nil
	})
	return ps, err == nil
}

// preparedStillTx reports whether every workflow the batch was prepared
// against is stored as it was then (same bytes, same published version).
func preparedStillTx(tx *bbolt.Tx, ps []preparedCreate) bool {
	checked := map[*preparedWorkflow]bool{}
	for i := range ps {
		pw := ps[i].wf
		if checked[pw] {
			continue
		}
		checked[pw] = true
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
	cb.events = append(cb.events, p.event)
	return e, false, nil
}
