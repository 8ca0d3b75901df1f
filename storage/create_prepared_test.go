package storage

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// createBatchWhile creates es in one batch while change runs in the
// transaction just before it: the batch is prepared against the workflows
// as they were, and committed after change.
func createBatchWhile(t *testing.T, s *Store, es []*messages.Execution, keys []string, change func(tx *bbolt.Tx) error) []messages.CreateOutcome {
	t.Helper()
	running, release := make(chan struct{}), make(chan struct{})
	changed := make(chan error, 1)
	go func() {
		changed <- s.update(func(tx *bbolt.Tx) error {
			select {
			case <-running:
			default:
				close(running)
			}
			<-release
			return change(tx)
		})
	}()
	<-running
	type result struct {
		out []messages.CreateOutcome
		err error
	}
	done := make(chan result, 1)
	s.CreateExecutionsAsync(es, keys, func(out []messages.CreateOutcome, err error) { done <- result{out, err} })
	close(release)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.out
}

// TestPreparedCreationsFollowAChangedWorkflow: a batch prepared before its
// workflow was renamed, unpublished or deleted is committed as the
// workflow is at commit time, not as it was when prepared.
func TestPreparedCreationsFollowAChangedWorkflow(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	now := time.Now()

	wf := putWorkflowForTest(t, s, "before", true)
	out := createBatchWhile(t, s, []*messages.Execution{newExec(wf.ID, now, messages.PriorityNormal)}, nil, func(tx *bbolt.Tx) error {
		c := *wf
		c.Name = "after"
		return putTx(tx, bucketWorkflows, c.ID, &c)
	})
	if out[0].Err != nil || out[0].Execution.Workflow.Name != "after" {
		t.Fatalf("renamed: %+v", out[0])
	}
	if got, err := s.GetExecution(out[0].Execution.ID); err != nil || got.Workflow.Name != "after" {
		t.Fatalf("stored after the rename: %+v %v", got, err)
	}
	// The batch that found the workflow changed emptied the cache.
	if p := s.PrepareCreation(newExec(wf.ID, now, messages.PriorityNormal), ""); p.PreparedExecution().Workflow.Name != "after" {
		t.Fatalf("prepared after the rename: %+v", p.PreparedExecution())
	}

	wf2 := putWorkflowForTest(t, s, "unpublished", true)
	out = createBatchWhile(t, s, []*messages.Execution{newExec(wf2.ID, now, messages.PriorityNormal)}, nil, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketVersions).Delete([]byte(wf2.PublishedVersionID))
	})
	if out[0].Err == nil || messages.ErrorCode(out[0].Err) != messages.CodeNoPublished {
		t.Fatalf("version gone: %+v", out[0])
	}

	wf3 := putWorkflowForTest(t, s, "deleted", true)
	out = createBatchWhile(t, s, []*messages.Execution{newExec(wf3.ID, now, messages.PriorityNormal)}, nil, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketWorkflows).Delete([]byte(wf3.ID))
	})
	if out[0].Err == nil || messages.ErrorCode(out[0].Err) != messages.CodeNotFound {
		t.Fatalf("workflow gone: %+v", out[0])
	}

	// Created while it was absent: the refusal prepared does not stand.
	late := &messages.Workflow{ID: messages.NewID(now), Name: "late", CreatedAt: messages.TimeOf(now),
		PublishedVersionID: wf.PublishedVersionID, LatestVersionNumber: 1}
	out = createBatchWhile(t, s, []*messages.Execution{newExec(late.ID, now, messages.PriorityNormal)}, nil, func(tx *bbolt.Tx) error {
		return putTx(tx, bucketWorkflows, late.ID, late)
	})
	if out[0].Err != nil || out[0].Execution.Workflow.Name != "late" {
		t.Fatalf("workflow created meanwhile: %+v", out[0])
	}
	st, err := s.ExecutionStats()
	if err != nil || st.Total != 2 || st.Queued != 2 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

// TestPreparedCreationsMatchUnprepared: the prepared path stores the same
// records, index entries, counters and events as the unprepared one, and
// keeps the batch's order for dedupe keys and refusals.
func TestPreparedCreationsMatchUnprepared(t *testing.T) {
	run := func(prepared bool) (recs []string, listed, queued int, evs []string, outs []messages.CreateOutcome) {
		s := openTestStore(t, t.TempDir())
		defer s.Close()
		wf := putWorkflowForTest(t, s, "wf", true)
		draft := putWorkflowForTest(t, s, "draft", false)
		at := time.UnixMilli(1_700_000_000_000)
		es := []*messages.Execution{
			newExec(wf.ID, at, messages.PriorityHigh),
			newExec(draft.ID, at.Add(time.Millisecond), messages.PriorityNormal),
			newExec(wf.ID, at.Add(2*time.Millisecond), messages.PriorityLow),
			newExec(wf.ID, at.Add(3*time.Millisecond), messages.PriorityNormal),
			newExec("nope", at.Add(4*time.Millisecond), messages.PriorityNormal),
		}
		es[3].RunnerLabels = []string{"gpu"}
		for i, e := range es {
			e.ID = fmt.Sprintf("0000000000000000000000000000000000000000e%d", i)
		}
		norm := strings.NewReplacer(wf.ID, "WF", string(wf.PublishedVersionID), "V").Replace
		keys := []string{"k1", "", "k1", "", ""}
		change := func(tx *bbolt.Tx) error { return nil }
		if !prepared {
			// A change to the workflow's bytes sends the batch down the
			// unprepared path (the name is the same once more).
			change = func(tx *bbolt.Tx) error {
				c := *wf
				c.Description = "changed"
				return putTx(tx, bucketWorkflows, c.ID, &c)
			}
		}
		var got []messages.Event
		s.SetEventSink(func(e []messages.Event) { got = append(got, e...) })
		outs = createBatchWhile(t, s, es, keys, change)
		for _, o := range outs {
			if o.Execution != nil {
				e, err := s.GetExecution(o.Execution.ID)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, norm(string(e.AppendJSON(nil))))
			}
		}
		l, total, err := s.ListExecutions(messages.ExecutionFilter{WorkflowID: wf.ID, Status: messages.ExecQueued}, messages.Page{Limit: 10})
		if err != nil || len(l) != total {
			t.Fatalf("list %d %d %v", len(l), total, err)
		}
		listed = total
		n := 0
		if err := s.EachQueued(func([]byte, messages.Priority, messages.Time, []byte) { n++ }); err != nil {
			t.Fatal(err)
		}
		queued = n
		for _, e := range got {
			if e.Type == messages.EventExecution {
				evs = append(evs, norm(string(e.Data)))
			}
		}
		return
	}
	recsP, listedP, queuedP, evsP, outsP := run(true)
	recsU, listedU, queuedU, evsU, outsU := run(false)
	if len(outsP) != 5 || outsP[1].Err == nil || outsP[4].Err == nil || !outsP[2].Duplicate || outsP[2].Execution.ID != outsP[0].Execution.ID {
		t.Fatalf("prepared outcomes: %+v", outsP)
	}
	for i := range outsP {
		if (outsP[i].Err == nil) != (outsU[i].Err == nil) || outsP[i].Duplicate != outsU[i].Duplicate ||
			(outsP[i].Err != nil && messages.ErrorCode(outsP[i].Err) != messages.ErrorCode(outsU[i].Err)) {
			t.Fatalf("outcome %d: prepared %+v, unprepared %+v", i, outsP[i], outsU[i])
		}
	}
	if listedP != 2 || queuedP != 2 || listedP != listedU || queuedP != queuedU {
		t.Fatalf("listed %d/%d, queued %d/%d", listedP, listedU, queuedP, queuedU)
	}
	if len(recsP) != len(recsU) || len(evsP) != 2 || len(evsP) != len(evsU) {
		t.Fatalf("records %d/%d events %d/%d", len(recsP), len(recsU), len(evsP), len(evsU))
	}
	for i := range recsP {
		if recsP[i] != recsU[i] {
			t.Fatalf("record %d:\nprepared   %s\nunprepared %s", i, recsP[i], recsU[i])
		}
	}
	for i := range evsP {
		if evsP[i] != evsU[i] {
			t.Fatalf("event %d:\nprepared   %s\nunprepared %s", i, evsP[i], evsU[i])
		}
	}
}

// TestPreparedCreationsStandWhenNothingChanged: with the workflow as it was
// prepared, the transaction takes the prepared creations as they are.
func TestPreparedCreationsStandWhenNothingChanged(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := putWorkflowForTest(t, s, "wf", true)
	draft := putWorkflowForTest(t, s, "draft", false)
	ps := []*preparedCreate{
		s.PrepareCreation(newExec(wf.ID, time.Now(), messages.PriorityNormal), "").(*preparedCreate),
		s.PrepareCreation(newExec(draft.ID, time.Now(), messages.PriorityNormal), "").(*preparedCreate),
	}
	if ps[0].refusal != nil || ps[0].e.Workflow.Name != "wf" || len(ps[0].record) == 0 || len(ps[0].index) != 4 ||
		ps[1].refusal == nil || ps[0].wf != ps[1].wf && ps[0].wf.wf.ID == ps[1].wf.wf.ID {
		t.Fatalf("prepared: %+v", ps)
	}
	var still bool
	if err := s.view(func(tx *bbolt.Tx) error { still = preparedStillTx(tx, ps); return nil }); err != nil || !still {
		t.Fatalf("still %v %v", still, err)
	}
}

// BenchmarkCreateBatchTxBody measures the part of a batch of 64 creations
// that runs inside the writer's transaction (rolled back, so no commit):
// the unprepared path (workflow decoded, records and events encoded in the
// transaction) against the prepared one (only the checks and the puts).
//
//	go test -run '^$' -bench CreateBatchTxBody ./storage
func BenchmarkCreateBatchTxBody(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	wf := putWorkflowForBench(b, s)
	batch := func() []*messages.Execution {
		es := make([]*messages.Execution, 64)
		for i := range es {
			es[i] = newExec(wf, time.Now(), messages.PriorityNormal)
			es[i].Input = []byte(`{"n":1}`)
		}
		return es
	}
	run := func(b *testing.B, body func(tx *bbolt.Tx, es []*messages.Execution, ps []*preparedCreate) error, prepare bool) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			es := batch()
			var ps []*preparedCreate
			if prepare {
				for _, e := range es {
					ps = append(ps, s.PrepareCreation(e, "").(*preparedCreate))
				}
			}
			tx, err := s.bolt.Begin(true)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := body(tx, es, ps); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = tx.Rollback()
			s.eventsRollback()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64)/1e3, "µs/creation")
	}
	b.Run("unprepared", func(b *testing.B) {
		run(b, func(tx *bbolt.Tx, es []*messages.Execution, _ []*preparedCreate) error {
			cb := newCreateBatch()
			for _, e := range es {
				if _, _, err := createExecutionTx(tx, newExecution{Execution: e}, cb); err != nil {
					return err
				}
			}
			if err := cb.applyTx(tx); err != nil {
				return err
			}
			return s.appendEventsTx(tx, cb.events)
		}, false)
	})
	b.Run("prepared", func(b *testing.B) {
		run(b, func(tx *bbolt.Tx, _ []*messages.Execution, ps []*preparedCreate) error {
			cb := newCreateBatch()
			if !preparedStillTx(tx, ps) {
				b.Fatal("prepared workflow changed")
			}
			for _, p := range ps {
				if _, _, err := putPreparedTx(tx, p, cb); err != nil {
					return err
				}
			}
			if err := cb.applyTx(tx); err != nil {
				return err
			}
			return s.appendEventsTx(tx, cb.events)
		}, true)
	})
}

// BenchmarkCreateBatchPages reports what a commit of 64 creations writes:
// pages, and the bytes per entry of each bucket a creation touches, on a
// store already holding 25,600 executions.
//
//	go test -run '^$' -bench CreateBatchPages -benchtime 200x ./storage
func BenchmarkCreateBatchPages(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	wf := putWorkflowForBench(b, s)
	batch := func() {
		es := make([]*messages.Execution, 64)
		for i := range es {
			es[i] = newExec(wf, time.Now(), messages.PriorityNormal)
			es[i].Input = []byte(`{"n":1}`)
		}
		done := make(chan error, 1)
		s.CreateExecutionsAsync(es, nil, func(_ []messages.CreateOutcome, err error) { done <- err })
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 400; i++ {
		batch()
	}
	st0 := s.bolt.Stats()
	c0, n0 := s.stats.Commits.Load(), s.stats.CommitNanos.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch()
	}
	b.StopTimer()
	st1 := s.bolt.Stats()
	d := st1.Sub(&st0)
	c := float64(s.stats.Commits.Load() - c0)
	b.ReportMetric(float64(d.TxStats.GetWrite())/c, "pages/commit")
	b.ReportMetric(float64(d.TxStats.GetWriteTime().Microseconds())/c/1e3, "write+sync-ms/commit")
	b.ReportMetric(float64(s.stats.CommitNanos.Load()-n0)/c/1e6, "ms/commit")
	_ = s.bolt.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketExecutions, bucketEvents, bucketExecByStatus, bucketExecByWorkflow, bucketExecByWfStatus, bucketExecQueue} {
			bs := tx.Bucket(name).Stats()
			b.ReportMetric(float64(bs.LeafInuse)/float64(bs.KeyN), string(name)+"-B/entry")
		}
		return nil
	})
}
