package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// putFixedWorkflow writes a published workflow with fixed ids (two stores
// get the same one).
func putFixedWorkflow(t *testing.T, s *Store, id string, labels []string) {
	t.Helper()
	v := &messages.Version{ID: id + "v", WorkflowID: id, Number: 1, Status: messages.VersionPublished, GraphJSON: `{"nodes":[],"edges":[]}`}
	wf := &messages.Workflow{ID: id, Name: "wf " + id, CreatedAt: 1, PublishedVersionID: messages.NullString(v.ID),
		LatestVersionNumber: 1, RunnerLabels: labels}
	if err := s.updateCatalog(func(tx *bbolt.Tx) error {
		if err := putTx(tx, bucketVersions, v.ID, v); err != nil {
			return err
		}
		return putTx(tx, bucketWorkflows, wf.ID, wf)
	}); err != nil {
		t.Fatal(err)
	}
}

// dumpStore lists every key and value of every bucket but meta (random
// keys, creation time).
func dumpStore(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			if bytes.Equal(name, bucketMeta) {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				out = append(out, fmt.Sprintf("%s %q=%q", name, k, v))
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSaveTransitionMatchesSaveExecution drives the same random histories
// through the prepared path (SaveTransition, the owner's previous record)
// and the unprepared one (SaveExecution) on two stores, and checks that
// every bucket ends byte for byte the same, every outcome the same, and
// that the prepared path is the one taken (the previous record's stored
// form is the stored bytes).
func TestSaveTransitionMatchesSaveExecution(t *testing.T) {
	a, b := openTestStore(t, t.TempDir()), openTestStore(t, t.TempDir())
	defer a.Close()
	defer b.Close()
	for _, s := range []*Store{a, b} {
		putFixedWorkflow(t, s, "wfa", nil)
		putFixedWorkflow(t, s, "wfb", []string{"gpu", "win"})
	}
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	prio := []messages.Priority{messages.PriorityHigh, messages.PriorityNormal, messages.PriorityLow}
	var es []*messages.Execution
	for i := range 60 {
		at := base.Add(time.Duration(i) * time.Second)
		e := newExec([]string{"wfa", "wfb"}[i%2], at, prio[rng.IntN(3)])
		e.ID = fmt.Sprintf("e%03d", i)
		if i%3 == 0 {
			e.Input = []byte(`{"n":` + fmt.Sprint(i) + `,"s":"x\u00e9"}`)
		}
		if i%5 == 0 {
			tr := "trigger" + fmt.Sprint(i%2)
			e.TriggerID = &tr
		}
		es = append(es, e)
	}
	var stored []*messages.Execution
	for _, s := range []*Store{a, b} {
		done := make(chan []messages.CreateOutcome, 1)
		cp := make([]*messages.Execution, len(es))
		for i, e := range es {
			c := *e
			cp[i] = &c
		}
		s.CreateExecutionsAsync(cp, nil, func(out []messages.CreateOutcome, err error) {
			if err != nil {
				t.Error(err)
			}
			done <- out
		})
		out := <-done
		if s == a {
			for _, o := range out {
				stored = append(stored, o.Execution)
			}
		}
	}
	// The owners' records (a's prepared path) and b's (for the same
	// next states).
	cur := stored
	runners := []string{"r1", "r2", "r3"}
	step := func(i int, prev *messages.Execution, next *messages.Execution, expect messages.ExecutionStatus, logs string) {
		t.Helper()
		next.UpdatedAt = prev.UpdatedAt + 1000
		fx := messages.Effects{Events: []messages.Event{messages.ExecutionEvent(next, false)}}
		var storedForm []byte
		if err := a.view(func(tx *bbolt.Tx) error {
			storedForm = append([]byte(nil), tx.Bucket(bucketExecutions).Get([]byte(prev.ID))...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if p := prepareTransition(prev, executionChange{Execution: next}); !bytes.Equal(p.prev, storedForm) {
			t.Fatalf("%s: the owner's record does not encode to the stored bytes (the prepared path would not be taken)\nstored %s\nowner  %s", prev.ID, storedForm, p.prev)
		}
		errA := a.SaveTransition(prev, next, expect, logs, fx)
		c := *next
		errB := b.SaveExecution(&c, expect, logs, messages.Effects{Events: []messages.Event{messages.ExecutionEvent(&c, false)}})
		if fmt.Sprint(errA) != fmt.Sprint(errB) {
			t.Fatalf("%s: prepared %v, unprepared %v", prev.ID, errA, errB)
		}
		if errA == nil {
			cur[i] = next
		}
	}
	for round := range 6 {
		for i := range cur {
			prev := cur[i]
			next := *prev
			if prev.RunnerID != nil {
				r := *prev.RunnerID
				next.RunnerID = &r
			}
			now := prev.UpdatedAt + 1000
			expect := messages.ExecutionStatus("")
			logs := ""
			switch prev.Status {
			case messages.ExecQueued:
				switch rng.IntN(5) {
				case 0:
					next.Status, next.CompletedAt = messages.ExecStopped, now
				default:
					r := runners[rng.IntN(len(runners))]
					next.Status, next.RunnerID, next.AssignedAt = messages.ExecAssigned, &r, now
					expect = messages.ExecQueued
				}
			case messages.ExecAssigned:
				switch rng.IntN(4) {
				case 0: // unassigned: back to the queue
					next.Status, next.RunnerID, next.AssignedAt, next.EnqueuedAt = messages.ExecQueued, nil, 0, now
					expect = messages.ExecAssigned
				default:
					next.Status, next.StartedAt = messages.ExecRunning, now
					logs = "started\n"
				}
			case messages.ExecRunning:
				switch rng.IntN(4) {
				case 0:
					next.StopRequested = true
				case 1:
					msg := "boom"
					next.Status, next.Error, next.CompletedAt = messages.ExecFailed, &msg, now
				default:
					cpu := float64(round)
					next.Status, next.CompletedAt = messages.ExecCompleted, now
					next.Metrics = &messages.ExecutionMetrics{CPUAvg: &cpu}
					logs = "done\n"
				}
			default:
				// Terminal: a repeated report changes nothing but the
				// time; another status is refused.
				if rng.IntN(2) == 0 {
					next.Status = messages.ExecFailed
				}
			}
			step(i, prev, &next, expect, logs)
		}
	}
	// A stale owner (its record is not the stored one): the write is
	// the unprepared one, and its checks see the stored status.
	for i, e := range cur {
		if e.Status != messages.ExecAssigned && e.Status != messages.ExecRunning {
			continue
		}
		stale := *e
		stale.Status, stale.RunnerID = messages.ExecQueued, nil
		next := *e
		next.Status = messages.ExecAssigned
		r := "r9"
		next.RunnerID = &r
		err := a.SaveTransition(&stale, &next, messages.ExecQueued, "", messages.Effects{})
		var me *messages.Error
		if !errors.As(err, &me) || me.Code != messages.CodeInvalidTransition {
			t.Fatalf("%s: stale owner: %v, want INVALID_TRANSITION", e.ID, err)
		}
		_ = i
		break
	}
	da, db := dumpStore(t, a), dumpStore(t, b)
	if len(da) != len(db) {
		t.Fatalf("prepared store holds %d keys, unprepared %d", len(da), len(db))
	}
	for i := range da {
		if da[i] != db[i] {
			t.Fatalf("first difference:\nprepared   %s\nunprepared %s", da[i], db[i])
		}
	}
	st, err := a.ExecutionStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != len(es) || st.Queued+st.Assigned+st.Running+st.Completed+st.Failed+st.Stopped != len(es) {
		t.Fatalf("stats %+v for %d executions", st, len(es))
	}
}

// TestSaveTransitionFallsBackOnAnOlderForm: a record stored in another
// form (the full JSON of an older release) takes the unprepared path, and
// its index entries and counters still move.
func TestSaveTransitionFallsBackOnAnOlderForm(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	putFixedWorkflow(t, s, "wfa", nil)
	e := newExec("wfa", time.Now(), messages.PriorityNormal)
	created, _, err := s.CreateExecution(e, "")
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the record in the full form (encoding/json), as before the
	// compact codec.
	if err := s.update(func(tx *bbolt.Tx) error { return putTx(tx, bucketExecutions, created.ID, created) }); err != nil {
		t.Fatal(err)
	}
	next := *created
	r := "r1"
	next.Status, next.RunnerID, next.AssignedAt = messages.ExecAssigned, &r, created.UpdatedAt+1
	if err := s.SaveTransition(created, &next, messages.ExecQueued, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	st, err := s.ExecutionStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued != 0 || st.Assigned != 1 {
		t.Fatalf("stats %+v, want one ASSIGNED", st)
	}
	n, err := s.Counter(runnerStatusCounter("r1", messages.ExecAssigned))
	if err != nil || n != 1 {
		t.Fatalf("runner counter %d, %v", n, err)
	}
	got, err := s.GetExecution(created.ID)
	if err != nil || got.Status != messages.ExecAssigned {
		t.Fatalf("stored %+v, %v", got, err)
	}
}

// BenchmarkTransitionTxBody is the part of an execution's transitions that
// runs inside the writer's transaction (the writer is the bottleneck of a
// busy server, docs/performance.md): 128 transitions per transaction, the
// lifecycle's three (QUEUED → ASSIGNED → RUNNING → COMPLETED) in turn,
// prepared by their callers (SaveTransition) or not (SaveExecution). It
// reports the writer's time per transition inside the transaction, commit
// excluded.
func BenchmarkTransitionTxBody(b *testing.B) {
	for _, mode := range []string{"unprepared", "prepared"} {
		b.Run(mode, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			wf := putWorkflowForBench(b, s)
			const chunk = 128
			n := (b.N + 2) / 3
			cur := make([]*messages.Execution, 0, n)
			prio := []messages.Priority{messages.PriorityLow, messages.PriorityNormal, messages.PriorityHigh}
			for len(cur) < n {
				es := make([]*messages.Execution, min(256, n-len(cur)))
				for i := range es {
					es[i] = newExec(wf, time.Now(), prio[(len(cur)+i)%3])
				}
				createStored(b, s, es)
				cur = append(cur, es...)
			}
			runner := "r1"
			nextOf := func(e *messages.Execution) *messages.Execution {
				next := *e
				next.UpdatedAt++
				switch e.Status {
				case messages.ExecQueued:
					next.Status, next.RunnerID, next.AssignedAt = messages.ExecAssigned, &runner, next.UpdatedAt
				case messages.ExecAssigned:
					next.Status, next.StartedAt = messages.ExecRunning, next.UpdatedAt
				default:
					next.Status, next.CompletedAt = messages.ExecCompleted, next.UpdatedAt
				}
				return &next
			}
			var inTx time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; {
				// One step of the lifecycle for up to chunk executions.
				k := min(chunk, b.N-done)
				idx := make([]int, 0, k)
				for i := range cur {
					if len(idx) == k {
						break
					}
					if !cur[i].Status.Terminal() {
						idx = append(idx, i)
					}
				}
				nexts := make([]*messages.Execution, len(idx))
				fns := make([]func(tx *bbolt.Tx) error, len(idx))
				for j, i := range idx {
					nexts[j] = nextOf(cur[i])
					c := executionChange{Execution: nexts[j]}
					if mode == "prepared" {
						p := prepareTransition(cur[i], c)
						fns[j] = func(tx *bbolt.Tx) error { return s.applyTransitionTx(tx, p) }
					} else {
						fns[j] = func(tx *bbolt.Tx) error { return s.saveExecutionTx(tx, c) }
					}
				}
				if err := s.update(func(tx *bbolt.Tx) error {
					start := time.Now()
					for _, fn := range fns {
						if err := fn(tx); err != nil {
							return err
						}
					}
					// The prepared transitions' summed counters, written
					// at the transaction's end: counted here.
					if err := s.flushTxCountersTx(tx); err != nil {
						return err
					}
					inTx += time.Since(start)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				for j, i := range idx {
					cur[i] = nexts[j]
				}
				done += len(idx)
			}
			b.ReportMetric(float64(inTx.Nanoseconds())/float64(b.N), "tx-ns/transition")
		})
	}
}

// holdWriter blocks the writer until the returned function is called, so
// the writes queued meanwhile meet in the next batch.
func holdWriter(t *testing.T, s *Store) func() {
	t.Helper()
	// held has room for the first signal: the writer may run the function
	// before this goroutine waits for it (an unbuffered send with a default
	// was lost then, and both sides waited for good); a retried batch runs
	// it again and finds the room taken.
	release, held := make(chan struct{}), make(chan struct{}, 1)
	go func() {
		_ = s.update(func(*bbolt.Tx) error {
			select {
			case held <- struct{}{}:
			default:
			}
			<-release
			return nil
		})
	}()
	<-held
	return func() { close(release) }
}

// waitQueued waits until n writes are queued for the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.writes) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(s.writes), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTransitionCountersInOneBatch: the counter sums of prepared
// transitions are written at the end of the transaction, yet a workflow's
// delete in the same batch, after the transition that ended its last
// active execution, sees it ended; and a write of the batch that fails
// (the batch is retried without it) leaves the counters exact.
func TestTransitionCountersInOneBatch(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	putFixedWorkflow(t, s, "wfa", nil)
	created, _, err := s.CreateExecution(newExec("wfa", time.Now(), messages.PriorityNormal), "")
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	done := make(chan error, 3)
	go func() {
		next := *created
		next.Status, next.CompletedAt = messages.ExecStopped, created.UpdatedAt+1
		done <- s.SaveTransition(created, &next, messages.ExecQueued, "", messages.Effects{})
	}()
	waitQueued(t, s, 1)
	go func() {
		done <- s.update(func(*bbolt.Tx) error { return errors.New("refused") })
	}()
	waitQueued(t, s, 2)
	go func() {
		_, err := s.DeleteWorkflow("wfa", nil)
		done <- err
	}()
	waitQueued(t, s, 3)
	release()
	var errs []string
	for range 3 {
		if err := <-done; err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) != 1 || errs[0] != "refused" {
		t.Fatalf("errors %q, want only the refused write's (the delete must see the execution stopped)", errs)
	}
	for name, want := range map[string]int{activeCounter("wfa"): 0, execStatusCounter(messages.ExecStopped): 1,
		execStatusCounter(messages.ExecQueued): 0, counterExecTotal: 1} {
		if n, err := s.Counter(name); err != nil || n != want {
			t.Fatalf("counter %s = %d (%v), want %d", name, n, err, want)
		}
	}
}

// TestTransitionCountersMatchRecount runs lifecycles from many goroutines
// (so their transitions share commits), with writes failing among them
// (so batches are retried), and checks every execution counter against a
// recount of the stored records.
func TestTransitionCountersMatchRecount(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	putFixedWorkflow(t, s, "wfa", nil)
	putFixedWorkflow(t, s, "wfb", nil)
	const n = 120
	es := make([]*messages.Execution, n)
	for i := range es {
		es[i] = newExec([]string{"wfa", "wfb"}[i%2], time.Now(), messages.PriorityNormal)
	}
	createStored(t, s, es)
	errs := make(chan error, n)
	for i, e := range es {
		go func() {
			runner := fmt.Sprintf("r%d", i%7)
			cur := e
			for _, st := range []messages.ExecutionStatus{messages.ExecAssigned, messages.ExecRunning, messages.ExecCompleted} {
				if i%11 == 0 && st == messages.ExecRunning {
					st = messages.ExecStopped
				}
				next := *cur
				next.Status, next.UpdatedAt = st, cur.UpdatedAt+1
				if st == messages.ExecAssigned {
					next.RunnerID = &runner
				}
				if st.Terminal() {
					next.CompletedAt = next.UpdatedAt
				}
				if i%5 == 0 {
					_ = s.update(func(*bbolt.Tx) error { return errors.New("refused") })
				}
				if err := s.SaveTransition(cur, &next, "", "", messages.Effects{}); err != nil {
					errs <- err
					return
				}
				cur = &next
				if st.Terminal() {
					break
				}
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{}
	got := map[string]int{}
	if err := s.view(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketExecutions).ForEach(func(_, v []byte) error {
			var e messages.Execution
			if err := decode(v, &e); err != nil {
				return err
			}
			for _, c := range countersOf(&e) {
				want[c]++
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
			if name := string(k); strings.HasPrefix(name, "exec/") || strings.HasPrefix(name, "active/") || strings.HasPrefix(name, "executions/") {
				if n := int(readU64(v)); n != 0 {
					got[name] = n
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counters %v\nrecount  %v", got, want)
	}
}
