package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
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
