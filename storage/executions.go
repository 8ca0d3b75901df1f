package storage

import (
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"sort"
	"time"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Executions layout.
//
//   - bucketExecutions: execution id (time-ordered) → messages.Execution in
//     the compact JSON form of execcodec.go, without its logs (Logs is
//     always nil on disk).
//   - bucketExecLogs: execution id → the log text (its last MaxLogBytes).
//   - bucketExecByStatus: status + 0 + id → empty.
//   - bucketExecByWorkflow: workflow id + 0 + id → empty.
//   - bucketExecByWfStatus: workflow id + 0 + status + 0 + id → empty.
//   - bucketExecByRunner: runner id + 0 + id → empty (while runnerId is set).
//   - bucketExecByRunStatus: runner id + 0 + status + 0 + id → empty (idem).
//   - bucketExecFinished: completedAt (uint64 ms big-endian) + id → empty,
//     for retention.
//   - bucketExecDedupe: workflow id + 0 + key → uint64 ms created + id.
//   - bucketExecQueue: the queue index (queue.go).
//
// Counters (bucketCounters): counterExecTotal, execStatusCounter(status),
// workflowExecutionsCounter(wf), wfStatusCounter(wf, status),
// runnerExecCounter(runner), runnerStatusCounter(runner, status),
// activeCounter(wf). Every index entry and counter
// changes in the transaction that changes the record, so a filtered page
// walks one index prefix instead of every execution, and the totals of the
// common filters are counter reads.
var (
	bucketExecLogs        = []byte("exec_logs")
	bucketExecByStatus    = []byte("exec_by_status")
	bucketExecByWorkflow  = []byte("exec_by_workflow")
	bucketExecByWfStatus  = []byte("exec_by_wf_status")
	bucketExecByRunner    = []byte("exec_by_runner")
	bucketExecByRunStatus = []byte("exec_by_runner_status")
	bucketExecFinished    = []byte("exec_finished")
	bucketExecDedupe      = []byte("exec_dedupe")
)

func init() {
	registerBuckets(bucketExecLogs, bucketExecByStatus, bucketExecByWorkflow, bucketExecByWfStatus,
		bucketExecByRunner, bucketExecByRunStatus, bucketExecFinished, bucketExecDedupe)
}

// MaxLogBytes is how much of an execution's log is kept (the last MiB).
const MaxLogBytes = 1 << 20

const counterExecTotal = "exec/total"

func execStatusCounter(s messages.ExecutionStatus) string { return "exec/status/" + string(s) }
func wfStatusCounter(wf string, s messages.ExecutionStatus) string {
	return "exec/wfstatus/" + wf + "/" + string(s)
}
func runnerExecCounter(runnerID string) string { return "exec/runner/" + runnerID }
func runnerStatusCounter(runnerID string, s messages.ExecutionStatus) string {
	return "exec/runnerstatus/" + runnerID + "/" + string(s)
}

func joinKey(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// eachIndexKey calls emit with every index entry of e (bucket, key). The
// key is built in buf and only valid during the call; it returns buf for
// reuse.
func eachIndexKey(e *messages.Execution, buf []byte, emit func(bucket, key []byte) error) ([]byte, error) {
	sep := func(parts ...string) []byte {
		buf = buf[:0]
		for i, p := range parts {
			if i > 0 {
				buf = append(buf, 0)
			}
			buf = append(buf, p...)
		}
		return buf
	}
	if err := emit(bucketExecByStatus, sep(string(e.Status), e.ID)); err != nil {
		return buf, err
	}
	if err := emit(bucketExecByWorkflow, sep(e.WorkflowID, e.ID)); err != nil {
		return buf, err
	}
	if err := emit(bucketExecByWfStatus, sep(e.WorkflowID, string(e.Status), e.ID)); err != nil {
		return buf, err
	}
	if e.RunnerID != nil && *e.RunnerID != "" {
		if err := emit(bucketExecByRunner, sep(*e.RunnerID, e.ID)); err != nil {
			return buf, err
		}
		if err := emit(bucketExecByRunStatus, sep(*e.RunnerID, string(e.Status), e.ID)); err != nil {
			return buf, err
		}
	}
	if e.Status == messages.ExecQueued {
		if err := emit(bucketExecQueue, queueKey(buf, e)); err != nil {
			return buf, err
		}
	}
	if e.Status.Terminal() && !e.CompletedAt.IsZero() {
		buf = binary.BigEndian.AppendUint64(buf[:0], uint64(e.CompletedAt))
		buf = append(buf, e.ID...)
		if err := emit(bucketExecFinished, buf); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// indexKeysOf lists the index entries of e (bucket, key), each key its own
// copy (reindexTx compares old and new entries).
func indexKeysOf(e *messages.Execution) [][2][]byte {
	var keys [][2][]byte
	_, _ = eachIndexKey(e, make([]byte, 0, 96), func(bucket, key []byte) error {
		keys = append(keys, [2][]byte{bucket, append([]byte(nil), key...)})
		return nil
	})
	return keys
}

// putIndexKeysTx writes the index entries of a new execution, building the
// keys in the batch's scratch buffer (bbolt copies keys on Put).
func putIndexKeysTx(tx *bbolt.Tx, e *messages.Execution, cb *createBatch) (err error) {
	cb.keyBuf, err = eachIndexKey(e, cb.keyBuf, func(bucket, key []byte) error {
		return appendOnly(tx, bucket).Put(key, indexValue(bucket, e))
	})
	return err
}

// countersOf lists the counters e contributes one to.
func countersOf(e *messages.Execution) []string {
	c := []string{counterExecTotal, execStatusCounter(e.Status), workflowExecutionsCounter(e.WorkflowID),
		wfStatusCounter(e.WorkflowID, e.Status)}
	if e.RunnerID != nil && *e.RunnerID != "" {
		c = append(c, runnerExecCounter(*e.RunnerID), runnerStatusCounter(*e.RunnerID, e.Status))
	}
	if !e.Status.Terminal() {
		c = append(c, activeCounter(e.WorkflowID))
	}
	return c
}

// reindexTx moves the index entries and counters of an execution from old
// (nil when new) to e (nil when removed), touching only what changed.
func reindexTx(tx *bbolt.Tx, old, e *messages.Execution) error {
	var oldKeys, newKeys [][2][]byte
	delta := map[string]int64{}
	if old != nil {
		oldKeys = indexKeysOf(old)
		for _, c := range countersOf(old) {
			delta[c]--
		}
	}
	if e != nil {
		newKeys = indexKeysOf(e)
		for _, c := range countersOf(e) {
			delta[c]++
		}
	}
	for _, k := range oldKeys {
		if !hasIndexKey(newKeys, k) {
			if err := tx.Bucket(k[0]).Delete(k[1]); err != nil {
				return err
			}
		}
	}
	for _, k := range newKeys {
		if !hasIndexKey(oldKeys, k) {
			if err := tx.Bucket(k[0]).Put(k[1], indexValue(k[0], e)); err != nil {
				return err
			}
		}
	}
	for name, d := range delta {
		if d != 0 {
			if err := addCounterTx(tx, name, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasIndexKey reports whether keys (a handful) holds k.
func hasIndexKey(keys [][2][]byte, k [2][]byte) bool {
	for _, x := range keys {
		if bytes.Equal(x[0], k[0]) && bytes.Equal(x[1], k[1]) {
			return true
		}
	}
	return false
}

// appendFillPercent is how full bbolt packs the pages it splits in the
// executions bucket and its indexes. Their keys are time-ordered ids, so new
// entries land at the end of the bucket (or of a status's range) and a
// split page is rarely written into again; bbolt's default (half full)
// left every page half empty, doubling the pages each commit writes and the
// file's size. 0.9 leaves room for a record to grow once (an execution
// gains a runner, times and metrics as it runs) before its page splits.
const appendFillPercent = 0.9

// appendOnly returns the bucket set up for mostly appended keys.
func appendOnly(tx *bbolt.Tx, name []byte) *bbolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = appendFillPercent
	return b
}

// putExecutionTx stores e without its logs.
func putExecutionTx(tx *bbolt.Tx, e *messages.Execution) error {
	c := *e
	c.Logs = nil
	// The compact hand-written form (execcodec.go); bbolt keeps the value
	// until the commit, so every record gets its own buffer.
	return appendOnly(tx, bucketExecutions).Put([]byte(c.ID), appendStoredExecution(make([]byte, 0, 512), &c))
}

func getExecutionTx(tx *bbolt.Tx, id string) (*messages.Execution, error) {
	var e messages.Execution
	found, err := getTx(tx, bucketExecutions, id, &e)
	if err != nil || !found {
		return nil, err
	}
	return &e, nil
}

// capLog keeps the last MaxLogBytes of s, cut at a UTF-8 boundary.
func capLog(s string) string {
	if len(s) <= MaxLogBytes {
		return s
	}
	s = s[len(s)-MaxLogBytes:]
	for i := 0; i < utf8.UTFMax && i < len(s); i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}

// appendLogsTx appends text to the stored log of id, keeping its last MiB.
// It returns the length of the stored log before the append (the offset of
// the text in it, as the execution.log event says).
func appendLogsTx(tx *bbolt.Tx, id, text string) (int, error) {
	if text == "" {
		return 0, nil
	}
	b := tx.Bucket(bucketExecLogs)
	old := b.Get([]byte(id))
	buf := make([]byte, 0, len(old)+len(text))
	buf = append(buf, old...)
	buf = append(buf, text...)
	return len(old), b.Put([]byte(id), []byte(capLog(string(buf))))
}

func dedupeKeyOf(workflowID, key string) []byte { return joinKey(workflowID, key) }

// createBatch carries what the creations of one write share: the
// workflows read so far (and whether their published version exists), the
// counter names per kind of creation, the counter changes (applied once at
// the end) and a scratch buffer for index keys (bbolt copies keys on Put).
type createBatch struct {
	workflows    map[string]*messages.Workflow
	published    map[string]bool
	counterNames map[counterKind][]string
	counters     map[string]int64
	keyBuf       []byte
	// events are the execution events of the creations, numbered and
	// stored once the batch's writes are done (applyTx).
	events []messages.Event
	// fires are the newest execution each trigger created in the batch:
	// applyTx writes a webhook's last fire on it (once per batch, however
	// many calls a burst brought).
	fires map[string]*messages.Execution
}

// counterKind is what decides the counters a new execution counts in.
type counterKind struct {
	workflowID string
	status     messages.ExecutionStatus
	runnerID   string
}

func newCreateBatch() *createBatch {
	return &createBatch{workflows: map[string]*messages.Workflow{}, published: map[string]bool{},
		counterNames: map[counterKind][]string{}, counters: map[string]int64{}}
}

// publishedTx reports once per batch whether the version exists.
func (cb *createBatch) publishedTx(tx *bbolt.Tx, versionID string) bool {
	ok, seen := cb.published[versionID]
	if !seen {
		ok = tx.Bucket(bucketVersions).Get([]byte(versionID)) != nil
		cb.published[versionID] = ok
	}
	return ok
}

// countersOf is the package's countersOf, named once per batch and kind.
func (cb *createBatch) countersOf(e *messages.Execution) []string {
	k := counterKind{workflowID: e.WorkflowID, status: e.Status}
	if e.RunnerID != nil {
		k.runnerID = *e.RunnerID
	}
	names, ok := cb.counterNames[k]
	if !ok {
		names = countersOf(e)
		cb.counterNames[k] = names
	}
	return names
}

// workflowTx reads a workflow once per batch (nil when absent).
func (cb *createBatch) workflowTx(tx *bbolt.Tx, id string) (*messages.Workflow, error) {
	if w, ok := cb.workflows[id]; ok {
		return w, nil
	}
	var wf messages.Workflow
	found, err := getTx(tx, bucketWorkflows, id, &wf)
	if err != nil {
		return nil, err
	}
	var w *messages.Workflow
	if found {
		w = &wf
	}
	cb.workflows[id] = w
	return w, nil
}

// created notes a new (not duplicate) execution of the batch: its event,
// and, for a trigger's, the trigger's newest fire.
func (cb *createBatch) created(e *messages.Execution, ev messages.Event) {
	cb.events = append(cb.events, ev)
	if e.TriggerID == nil {
		return
	}
	if cb.fires == nil {
		cb.fires = map[string]*messages.Execution{}
	}
	if prev := cb.fires[*e.TriggerID]; prev == nil || prev.CreatedAt <= e.CreatedAt {
		cb.fires[*e.TriggerID] = e
	}
}

// applyTx writes the gathered counter changes and the webhooks' last
// fires.
func (cb *createBatch) applyTx(tx *bbolt.Tx) error {
	for name, d := range cb.counters {
		if d != 0 {
			if err := addCounterTx(tx, name, d); err != nil {
				return err
			}
		}
	}
	return cb.recordWebhookFiresTx(tx)
}

// recordWebhookFiresTx writes each webhook trigger's newest fire of the
// batch on the trigger ("queued <execution id>", as a schedule fire
// reads) and adds its trigger event, in the creations' transaction: the
// trigger shows the fire exactly when its execution is durable. Schedule
// fires are recorded by their trigger's actor (RecordTriggerFire), which
// also records the fires that created nothing.
func (cb *createBatch) recordWebhookFiresTx(tx *bbolt.Tx) error {
	if len(cb.fires) == 0 {
		return nil
	}
	ids := make([]string, 0, len(cb.fires))
	for id := range cb.fires {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := cb.fires[id]
		// The record is changed as stored: its sealed secret is neither
		// opened nor sealed again (public() reads hasSecret from it).
		v := tx.Bucket(bucketTriggers).Get([]byte(id))
		var st storedTrigger
		if v == nil || decode(v, &st) != nil || st.Type != messages.TriggerWebhook {
			continue // deleted meanwhile, or unreadable (left to the reads that quarantine): the creations stand
		}
		if st.LastFiredAt > e.CreatedAt {
			continue // a later fire is already recorded
		}
		st.LastFiredAt = e.CreatedAt
		st.LastResult = "queued " + e.ID
		if err := putTx(tx, bucketTriggers, id, &st); err != nil {
			return err
		}
		cb.events = append(cb.events, messages.JSONEvent(messages.EventTrigger, id, e.CreatedAt, st.public(), false))
	}
	return nil
}

// newExecution is what createExecutionTx needs to make an execution.
type newExecution struct {
	Execution *messages.Execution // id, status, priority, input, origin fields, times
	DedupeKey string              // "" for none
	Logs      string              // initial log text, usually ""
}

// createExecutionTx is the transaction body of CreateExecution. It returns
// the stored execution and whether it is an earlier duplicate.
func createExecutionTx(tx *bbolt.Tx, n newExecution, cb *createBatch) (*messages.Execution, bool, error) {
	e := *n.Execution
	now := e.CreatedAt
	if n.DedupeKey != "" {
		if v := tx.Bucket(bucketExecDedupe).Get(dedupeKeyOf(e.WorkflowID, n.DedupeKey)); len(v) > 8 {
			at := messages.Time(readU64(v[:8]))
			if now-at < messages.Time(messages.DedupeWindow/time.Millisecond) {
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
	wf, err := cb.workflowTx(tx, e.WorkflowID)
	if err != nil {
		return nil, false, err
	}
	if wf == nil {
		return nil, false, messages.NotFound("workflow")
	}
	if wf.PublishedVersionID == "" || !cb.publishedTx(tx, string(wf.PublishedVersionID)) {
		return nil, false, messages.Errorf(messages.CodeNoPublished, "the workflow has no published version")
	}
	if tx.Bucket(bucketExecutions).Get([]byte(e.ID)) != nil {
		return nil, false, messages.Errorf(messages.CodeConflict, "execution id exists")
	}
	bindExecution(&e, wf, n.DedupeKey)
	if n.DedupeKey != "" {
		v := make([]byte, 8+len(e.ID))
		binary.BigEndian.PutUint64(v, uint64(now))
		copy(v[8:], e.ID)
		if err := tx.Bucket(bucketExecDedupe).Put(dedupeKeyOf(e.WorkflowID, n.DedupeKey), v); err != nil {
			return nil, false, err
		}
	}
	if err := putExecutionTx(tx, &e); err != nil {
		return nil, false, err
	}
	if _, err := appendLogsTx(tx, e.ID, n.Logs); err != nil {
		return nil, false, err
	}
	if err := putIndexKeysTx(tx, &e, cb); err != nil {
		return nil, false, err
	}
	for _, c := range cb.countersOf(&e) {
		cb.counters[c]++
	}
	if e.Status.Terminal() {
		if err := foldTerminalTx(tx, &e); err != nil {
			return nil, false, err
		}
	}
	// The event shows the execution as it was stored: the workflow and
	// version it was bound to here.
	cb.created(&e, messages.ExecutionEvent(&e, false))
	return &e, false, nil
}

// CreateExecution durably creates e (the caller picks its id, status and
// times, so the write is deterministic), binding the workflow's published
// version inside the transaction. Errors: NOT_FOUND (workflow),
// NO_PUBLISHED_VERSION. With a dedupe key seen for the workflow within
// messages.DedupeWindow it returns the earlier execution and true instead.
func (s *Store) CreateExecution(e *messages.Execution, dedupeKey string) (*messages.Execution, bool, error) {
	var out *messages.Execution
	var dup bool
	if err := s.update(s.createOneFn(newExecution{Execution: e, DedupeKey: dedupeKey}, &out, &dup)); err != nil {
		return nil, false, err
	}
	return out, dup, nil
}

// CreateExecutionAsync is CreateExecution without the wait: done runs (on
// a storage goroutine) once the execution is durable or the write failed.
func (s *Store) CreateExecutionAsync(e *messages.Execution, dedupeKey string, done func(e *messages.Execution, duplicate bool, err error)) {
	var out *messages.Execution
	var dup bool
	s.updateAsync(s.createOneFn(newExecution{Execution: e, DedupeKey: dedupeKey}, &out, &dup), func(err error) {
		if err != nil {
			done(nil, false, err)
			return
		}
		done(out, dup, nil)
	})
}

// createOneFn is the write of one creation; it sets *out and *dup each
// time it runs.
func (s *Store) createOneFn(n newExecution, out **messages.Execution, dup *bool) func(tx *bbolt.Tx) error {
	return func(tx *bbolt.Tx) (err error) {
		cb := newCreateBatch()
		if *out, *dup, err = createExecutionTx(tx, n, cb); err != nil {
			return err
		}
		if err := cb.applyTx(tx); err != nil {
			return err
		}
		return s.appendEventsTx(tx, cb.events)
	}
}

// CreateExecutionsAsync creates many executions in one write (as
// CreateExecution does each): an execution that is refused (NOT_FOUND,
// NO_PUBLISHED_VERSION) gets its error in its outcome and the others go on.
// done runs (on a storage goroutine) once the write is durable, with one
// outcome per execution in order, or with err when the write failed.
func (s *Store) CreateExecutionsAsync(es []*messages.Execution, dedupeKeys []string,
	done func(outcomes []messages.CreateOutcome, err error)) {
	ps := make([]messages.PreparedCreation, len(es))
	for i, e := range es {
		key := ""
		if i < len(dedupeKeys) {
			key = dedupeKeys[i]
		}
		ps[i] = s.PrepareCreation(e, key)
	}
	s.CreatePreparedAsync(ps, done)
}

// foldTerminalTx runs the bookkeeping of an execution entering a terminal
// state: it folds the run into its workflow's analytics.
func foldTerminalTx(tx *bbolt.Tx, e *messages.Execution) error {
	return foldAnalyticsTx(tx, e)
}

// executionChange is one durable transition of an execution.
type executionChange struct {
	Execution  *messages.Execution      // the new state (Logs ignored)
	AppendLogs string                   // appended to the stored log
	Effects    messages.Effects         // audit entry and events
	Expect     messages.ExecutionStatus // the status the stored record must have ("" = any)
}

func (s *Store) saveExecutionTx(tx *bbolt.Tx, c executionChange) error {
	e := c.Execution
	old, err := getExecutionTx(tx, e.ID)
	if err != nil {
		return err
	}
	if old == nil {
		return messages.NotFound("execution")
	}
	if c.Expect != "" && old.Status != c.Expect {
		return messages.Errorf(messages.CodeInvalidTransition, "the execution is %s", old.Status)
	}
	if old.Status.Terminal() && old.Status != e.Status {
		return messages.Errorf(messages.CodeInvalidTransition, "the execution is already %s", old.Status)
	}
	if err := putExecutionTx(tx, e); err != nil {
		return err
	}
	offset, err := appendLogsTx(tx, e.ID, c.AppendLogs)
	if err != nil {
		return err
	}
	if err := reindexTx(tx, old, e); err != nil {
		return err
	}
	if e.Status.Terminal() && !old.Status.Terminal() {
		if err := foldTerminalTx(tx, e); err != nil {
			return err
		}
	}
	return s.transitionEffectsTx(tx, c, offset)
}

// SaveExecution durably applies one transition of an existing execution:
// e is its new state (its Logs are ignored), appendLogs is appended to the
// stored log (kept to its last MiB) and announced by a live execution.log
// event, and fx's audit entry and events are written with it. With expect
// set, the stored status must be expect, else INVALID_TRANSITION; a
// terminal record never changes status.
func (s *Store) SaveExecution(e *messages.Execution, expect messages.ExecutionStatus, appendLogs string, fx messages.Effects) error {
	c := executionChange{Execution: e, Expect: expect, AppendLogs: appendLogs, Effects: fx}
	return s.update(func(tx *bbolt.Tx) error { return s.saveExecutionTx(tx, c) })
}

// GetExecution reads one execution with its logs (nil, nil when absent).
func (s *Store) GetExecution(id string) (*messages.Execution, error) {
	var out *messages.Execution
	err := s.view(func(tx *bbolt.Tx) (err error) {
		out, err = getExecutionTx(tx, id)
		if err != nil || out == nil {
			return err
		}
		if v := tx.Bucket(bucketExecLogs).Get([]byte(id)); v != nil {
			l := string(v)
			out.Logs = &l
		}
		return nil
	})
	return out, err
}

// ExecutionLogs reads the stored log of an execution (nil when it has none).
func (s *Store) ExecutionLogs(id string) (*string, error) {
	var out *string
	err := s.view(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketExecLogs).Get([]byte(id)); v != nil {
			l := string(v)
			out = &l
		}
		return nil
	})
	return out, err
}

// ExecutionStats reads the counters of GET /api/executions/stats.
func (s *Store) ExecutionStats() (st messages.ExecutionStats, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		st.Total = counterTx(tx, counterExecTotal)
		st.Queued = counterTx(tx, execStatusCounter(messages.ExecQueued))
		st.Assigned = counterTx(tx, execStatusCounter(messages.ExecAssigned))
		st.Running = counterTx(tx, execStatusCounter(messages.ExecRunning))
		st.Completed = counterTx(tx, execStatusCounter(messages.ExecCompleted))
		st.Failed = counterTx(tx, execStatusCounter(messages.ExecFailed))
		st.Stopped = counterTx(tx, execStatusCounter(messages.ExecStopped))
		return nil
	})
	return st, err
}

// idBound is the smallest (high=false) or largest (high=true) id created at
// t, for seeking an id range by creation time.
func idBound(t messages.Time, high bool) string {
	var b [messages.IDBytes]byte
	ms := uint64(t)
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	if high {
		for i := 6; i < len(b); i++ {
			b[i] = 0xff
		}
	}
	return idEncoding.EncodeToString(b[:])
}

// idEncoding is the encoding of messages.NewID (base32hex, lowercase, no
// padding), which keeps the byte order of the encoded bytes.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// ListExecutions returns one page of the executions matching f, newest
// first, and how many match. It walks the narrowest index (runner+status,
// runner, workflow+status, workflow, status, or all; only runner+workflow
// decodes records to filter) between the id bounds of the createdAt
// range, so the cost follows the matching set, not the whole history; the
// totals of filters without a time range are counter reads.
func (s *Store) ListExecutions(f messages.ExecutionFilter, page messages.Page) ([]*messages.Execution, int, error) {
	var out []*messages.Execution
	total := 0
	err := s.view(func(tx *bbolt.Tx) error {
		var bucket []byte
		var prefix []byte
		counter := ""
		extra := false // records must be decoded to check the runner filter
		switch {
		case f.RunnerID != "" && f.Status != "":
			bucket, prefix = bucketExecByRunStatus, joinKey(f.RunnerID, string(f.Status), "")
			counter = runnerStatusCounter(f.RunnerID, f.Status)
			extra = f.WorkflowID != ""
		case f.RunnerID != "":
			bucket, prefix, counter = bucketExecByRunner, joinKey(f.RunnerID, ""), runnerExecCounter(f.RunnerID)
			extra = f.WorkflowID != ""
		case f.WorkflowID != "" && f.Status != "":
			bucket, prefix = bucketExecByWfStatus, joinKey(f.WorkflowID, string(f.Status), "")
			counter = wfStatusCounter(f.WorkflowID, f.Status)
		case f.WorkflowID != "":
			bucket, prefix, counter = bucketExecByWorkflow, joinKey(f.WorkflowID, ""), workflowExecutionsCounter(f.WorkflowID)
		case f.Status != "":
			bucket, prefix, counter = bucketExecByStatus, joinKey(string(f.Status), ""), execStatusCounter(f.Status)
		default:
			bucket, counter = bucketExecutions, counterExecTotal
		}
		if f.TriggerID != "" {
			extra = true
		}
		timed := !f.From.IsZero() || !f.To.IsZero()
		lo := append(append([]byte{}, prefix...), idBound(f.From, false)...)
		hiID := idBound(f.To, true)
		if f.To.IsZero() {
			hiID = "\xff"
		}
		hi := append(append([]byte{}, prefix...), hiID...)

		execs := tx.Bucket(bucketExecutions)
		matches := func(k []byte) (*messages.Execution, bool, error) {
			if !extra {
				return nil, true, nil
			}
			id := k[len(prefix):]
			var e messages.Execution
			if v := execs.Get(id); v == nil || decode(v, &e) != nil {
				// Quarantined, or to be (a read skips a bad record).
				if v != nil {
					noteBadTx(tx, bucketExecutions, id)
				}
				return nil, false, nil
			}
			if f.WorkflowID != "" && e.WorkflowID != f.WorkflowID {
				return nil, false, nil
			}
			if f.Status != "" && e.Status != f.Status {
				return nil, false, nil
			}
			if f.TriggerID != "" && (e.TriggerID == nil || *e.TriggerID != f.TriggerID) {
				return nil, false, nil
			}
			return &e, true, nil
		}
		countOnly := !timed && !extra
		if countOnly {
			total = counterTx(tx, counter)
		}
		skip, take := page.Offset(), page.Limit
		c := tx.Bucket(bucket).Cursor()
		k, _ := c.Seek(hi)
		if k == nil {
			k, _ = c.Last()
		}
		for ; k != nil && bytes.Compare(k, hi) > 0; k, _ = c.Prev() {
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, lo) >= 0; k, _ = c.Prev() {
			if countOnly && take == 0 {
				break
			}
			e, ok, err := matches(k)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if !countOnly {
				total++
			}
			if skip > 0 {
				skip--
				continue
			}
			if take == 0 {
				continue
			}
			take--
			if e == nil {
				id := k[len(prefix):]
				e = &messages.Execution{}
				if v := execs.Get(id); v == nil || decode(v, e) != nil {
					// Quarantined, or to be: the page leaves it out.
					if v != nil {
						noteBadTx(tx, bucketExecutions, id)
					}
					take++
					continue
				}
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// QueuedExecutions returns every QUEUED execution in queue order: priority
// (HIGH first), then enqueue time, then id.
func (s *Store) QueuedExecutions() ([]*messages.Execution, error) {
	out, err := s.executionsWithStatus(messages.ExecQueued)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Priority.Rank() != b.Priority.Rank() {
			return a.Priority.Rank() < b.Priority.Rank()
		}
		if a.EnqueuedAt != b.EnqueuedAt {
			return a.EnqueuedAt < b.EnqueuedAt
		}
		return a.ID < b.ID
	})
	return out, nil
}

// ActiveExecutions returns every QUEUED, ASSIGNED or RUNNING execution
// (without logs), oldest first, read in one transaction so an execution
// changing status meanwhile is seen exactly once.
func (s *Store) ActiveExecutions() ([]*messages.Execution, error) {
	var out []*messages.Execution
	err := s.view(func(tx *bbolt.Tx) (err error) {
		for _, st := range []messages.ExecutionStatus{messages.ExecQueued, messages.ExecAssigned, messages.ExecRunning} {
			if out, err = appendWithStatusTx(tx, out, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) executionsWithStatus(st messages.ExecutionStatus) ([]*messages.Execution, error) {
	var out []*messages.Execution
	err := s.view(func(tx *bbolt.Tx) (err error) {
		out, err = appendWithStatusTx(tx, out, st)
		return err
	})
	return out, err
}

// appendWithStatusTx appends the executions with status st to out, through
// the status index.
func appendWithStatusTx(tx *bbolt.Tx, out []*messages.Execution, st messages.ExecutionStatus) ([]*messages.Execution, error) {
	prefix := joinKey(string(st), "")
	execs := tx.Bucket(bucketExecutions)
	c := tx.Bucket(bucketExecByStatus).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		v := execs.Get(k[len(prefix):])
		if v == nil {
			continue
		}
		var e messages.Execution
		if err := decode(v, &e); err != nil {
			if skipBadTx(tx, bucketExecutions, k[len(prefix):], err) {
				continue
			}
			return nil, err
		}
		out = append(out, &e)
	}
	return out, nil
}

// DeleteExecutionsFinishedBefore removes up to max finished executions whose
// completedAt is before t, with their logs and index entries (analytics
// keep them). It returns how many it removed; call it again until it
// returns less than max.
func (s *Store) DeleteExecutionsFinishedBefore(t time.Time, max int) (int, error) {
	if max <= 0 {
		max = 500
	}
	limit := u64(uint64(messages.TimeOf(t)))
	var n int
	err := s.update(func(tx *bbolt.Tx) error {
		n = 0
		var keys [][]byte
		c := tx.Bucket(bucketExecFinished).Cursor()
		for k, _ := c.First(); k != nil && len(keys) < max && bytes.Compare(k[:min(8, len(k))], limit) < 0; k, _ = c.Next() {
			keys = append(keys, append([]byte{}, k...))
		}
		for _, k := range keys {
			if len(k) <= 8 { // not an entry of this index: drop it
				if err := tx.Bucket(bucketExecFinished).Delete(k); err != nil {
					return err
				}
				continue
			}
			id := string(k[8:])
			e, err := getExecutionTx(tx, id)
			if err != nil {
				return err
			}
			if e == nil {
				if err := tx.Bucket(bucketExecFinished).Delete(k); err != nil {
					return err
				}
				continue
			}
			if err := reindexTx(tx, e, nil); err != nil {
				return err
			}
			// The counters count stored executions, so list totals stay
			// equal to them after a removal.
			if err := tx.Bucket(bucketExecutions).Delete([]byte(id)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketExecLogs).Delete([]byte(id)); err != nil {
				return err
			}
			if e.DedupeKey != "" {
				dk := dedupeKeyOf(e.WorkflowID, e.DedupeKey)
				if v := tx.Bucket(bucketExecDedupe).Get(dk); len(v) > 8 && string(v[8:]) == id {
					if err := tx.Bucket(bucketExecDedupe).Delete(dk); err != nil {
						return err
					}
				}
			}
			n++
		}
		return nil
	})
	return n, err
}
