package storage

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// putWorkflowForTest writes a workflow and, when published, a published
// version, as the workflows repository would.
func putWorkflowForTest(t testing.TB, s *Store, name string, published bool) *messages.Workflow {
	t.Helper()
	now := time.Now()
	wf := &messages.Workflow{ID: messages.NewID(now), Name: name, CreatedAt: messages.TimeOf(now)}
	var v *messages.Version
	if published {
		v = &messages.Version{ID: messages.NewID(now), WorkflowID: wf.ID, Number: 1, Status: messages.VersionPublished, GraphJSON: `{"nodes":[],"edges":[]}`}
		wf.PublishedVersionID = messages.NullString(v.ID)
		wf.LatestVersionNumber = 1
	}
	err := s.updateCatalog(func(tx *bbolt.Tx) error {
		if v != nil {
			if err := putTx(tx, bucketVersions, v.ID, v); err != nil {
				return err
			}
		}
		return putTx(tx, bucketWorkflows, wf.ID, wf)
	})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func newExec(wfID string, at time.Time, p messages.Priority) *messages.Execution {
	ts := messages.TimeOf(at)
	return &messages.Execution{ID: messages.NewID(at), WorkflowID: wfID, Status: messages.ExecQueued, Priority: p,
		Attempt: 1, EnqueuedAt: ts, CreatedAt: ts, UpdatedAt: ts}
}

// createStored creates es in one write and replaces each with the record
// as stored (bound to its workflow and version, as the execution's owner
// holds it); a refused creation leaves its entry as it was.
func createStored(tb testing.TB, s *Store, es []*messages.Execution) {
	tb.Helper()
	done := make(chan error, 1)
	s.CreateExecutionsAsync(es, nil, func(out []messages.CreateOutcome, err error) {
		for i, o := range out {
			if o.Execution != nil {
				es[i] = o.Execution
			}
		}
		done <- err
	})
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
}

func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExecutionCreateAndErrors(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := putWorkflowForTest(t, s, "wf", true)
	draft := putWorkflowForTest(t, s, "draft", false)

	e, dup, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), "k1")
	if err != nil || dup {
		t.Fatalf("create: %v %v", err, dup)
	}
	if e.VersionID != string(wf.PublishedVersionID) || e.Workflow.Name != "wf" {
		t.Fatalf("binding: %+v", e)
	}
	again, dup, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), "k1")
	if err != nil || !dup || again.ID != e.ID {
		t.Fatalf("dedupe: %v %v %v", err, dup, again)
	}
	// After the window the key makes a new execution.
	later := time.Now().Add(messages.DedupeWindow + time.Minute)
	fresh, dup, err := s.CreateExecution(newExec(wf.ID, later, messages.PriorityNormal), "k1")
	if err != nil || dup || fresh.ID == e.ID {
		t.Fatalf("dedupe window: %v %v", err, dup)
	}
	_, _, err = s.CreateExecution(newExec(messages.NewID(time.Now()), time.Now(), messages.PriorityNormal), "")
	if messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("missing workflow: %v", err)
	}
	_, _, err = s.CreateExecution(newExec(draft.ID, time.Now(), messages.PriorityNormal), "")
	if messages.ErrorCode(err) != messages.CodeNoPublished {
		t.Fatalf("no published: %v", err)
	}
	got, err := s.GetExecution(e.ID)
	if err != nil || got == nil || got.ID != e.ID {
		t.Fatalf("get: %v %v", got, err)
	}
	if none, err := s.GetExecution("nope"); none != nil || err != nil {
		t.Fatalf("absent: %v %v", none, err)
	}
	if n, _ := s.Counter(activeCounter(wf.ID)); n != 2 {
		t.Fatalf("active = %d", n)
	}
	if n, _ := s.Counter(workflowExecutionsCounter(wf.ID)); n != 2 {
		t.Fatalf("executions = %d", n)
	}
}

func TestExecutionTransitionsIndexesAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	wf := putWorkflowForTest(t, s, "wf", true)
	wf2 := putWorkflowForTest(t, s, "other", true)
	base := time.Now().Add(-time.Hour)
	var ids []string
	for i := 0; i < 10; i++ {
		w := wf.ID
		if i%2 == 1 {
			w = wf2.ID
		}
		x := newExec(w, base.Add(time.Duration(i)*time.Minute), messages.PriorityNormal)
		if i == 0 || i == 2 {
			tid := "t1"
			x.TriggerID = &tid
		}
		e, _, err := s.CreateExecution(x, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	// Assign ids[0] to runner r1, run and complete it with logs.
	e, _ := s.GetExecution(ids[0])
	r := "r1"
	e.Status, e.RunnerID = messages.ExecAssigned, &r
	if err := s.SaveExecution(e, messages.ExecQueued, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveExecution(e, messages.ExecQueued, "", messages.Effects{}); messages.ErrorCode(err) != messages.CodeInvalidTransition {
		t.Fatalf("expect check: %v", err)
	}
	e.Status = messages.ExecRunning
	if err := s.SaveExecution(e, "", "a\n", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	e.Status, e.CompletedAt = messages.ExecCompleted, messages.TimeOf(time.Now())
	if err := s.SaveExecution(e, "", "b\n", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	failed, _ := s.GetExecution(ids[1])
	failed.Status, failed.CompletedAt = messages.ExecFailed, messages.TimeOf(time.Now())
	if err := s.SaveExecution(failed, "", "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTestStore(t, dir)
	defer s.Close()
	got, _ := s.GetExecution(ids[0])
	if got.Status != messages.ExecCompleted || got.Logs == nil || *got.Logs != "a\nb\n" {
		t.Fatalf("after reopen: %+v", got)
	}
	st, _ := s.ExecutionStats()
	want := messages.ExecutionStats{Total: 10, Queued: 8, Completed: 1, Failed: 1}
	if st != want {
		t.Fatalf("stats %+v want %+v", st, want)
	}
	page := messages.Page{Page: 1, Limit: 50}
	check := func(name string, f messages.ExecutionFilter, wantTotal int) []*messages.Execution {
		t.Helper()
		list, total, err := s.ListExecutions(f, page)
		if err != nil || total != wantTotal || len(list) != wantTotal {
			t.Fatalf("%s: total %d len %d err %v, want %d", name, total, len(list), err, wantTotal)
		}
		for i := 1; i < len(list); i++ {
			if list[i-1].ID < list[i].ID {
				t.Fatalf("%s: not newest first", name)
			}
		}
		return list
	}
	all := check("all", messages.ExecutionFilter{}, 10)
	if all[0].ID != ids[9] {
		t.Fatal("newest first")
	}
	check("workflow", messages.ExecutionFilter{WorkflowID: wf.ID}, 5)
	check("status", messages.ExecutionFilter{Status: messages.ExecQueued}, 8)
	check("wf+status", messages.ExecutionFilter{WorkflowID: wf.ID, Status: messages.ExecQueued}, 4)
	check("runner", messages.ExecutionFilter{RunnerID: "r1"}, 1)
	check("runner+status", messages.ExecutionFilter{RunnerID: "r1", Status: messages.ExecQueued}, 0)
	check("trigger", messages.ExecutionFilter{TriggerID: "t1"}, 2)
	check("trigger+wf", messages.ExecutionFilter{WorkflowID: wf.ID, TriggerID: "t1"}, 2)
	check("trigger+status", messages.ExecutionFilter{TriggerID: "t1", Status: messages.ExecQueued}, 1)
	check("trigger+other wf", messages.ExecutionFilter{WorkflowID: wf2.ID, TriggerID: "t1"}, 0)
	from := messages.TimeOf(base.Add(2 * time.Minute))
	to := messages.TimeOf(base.Add(5 * time.Minute))
	check("range", messages.ExecutionFilter{From: from, To: to}, 4)
	check("range+wf", messages.ExecutionFilter{WorkflowID: wf.ID, From: from, To: to}, 2)
	// Paging.
	list, total, _ := s.ListExecutions(messages.ExecutionFilter{}, messages.Page{Page: 2, Limit: 3})
	if total != 10 || len(list) != 3 || list[0].ID != ids[6] {
		t.Fatalf("page 2: %d %d", total, len(list))
	}
	list, total, _ = s.ListExecutions(messages.ExecutionFilter{From: from}, messages.Page{Page: 2, Limit: 3})
	if total != 8 || len(list) != 3 || list[0].ID != ids[6] {
		t.Fatalf("ranged page 2: %d %d", total, len(list))
	}
	if n, _ := s.Counter(activeCounter(wf.ID)); n != 4 {
		t.Fatalf("active = %d", n)
	}
	// Retention removes the two finished ones.
	n, err := s.DeleteExecutionsFinishedBefore(time.Now().Add(time.Minute), 1)
	if err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	n, _ = s.DeleteExecutionsFinishedBefore(time.Now().Add(time.Minute), 10)
	if n != 1 {
		t.Fatalf("delete 2: %d", n)
	}
	st, _ = s.ExecutionStats()
	if st.Total != 8 || st.Completed != 0 || st.Failed != 0 {
		t.Fatalf("stats after retention: %+v", st)
	}
	if got, _ := s.GetExecution(ids[0]); got != nil {
		t.Fatal("removed execution still there")
	}
	check("runner after retention", messages.ExecutionFilter{RunnerID: "r1"}, 0)
}

func TestQueuedExecutionsOrder(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := putWorkflowForTest(t, s, "wf", true)
	base := time.Now()
	prios := []messages.Priority{messages.PriorityLow, messages.PriorityNormal, messages.PriorityHigh, messages.PriorityNormal, messages.PriorityHigh}
	var ids []string
	for i, p := range prios {
		e, _, err := s.CreateExecution(newExec(wf.ID, base.Add(time.Duration(i)*time.Millisecond), p), "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	q, err := s.QueuedExecutions()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ids[2], ids[4], ids[1], ids[3], ids[0]}
	for i := range want {
		if q[i].ID != want[i] {
			t.Fatalf("order at %d: %s want %s", i, q[i].ID, want[i])
		}
	}
	act, _ := s.ActiveExecutions()
	if len(act) != 5 {
		t.Fatalf("active %d", len(act))
	}
}

func TestExecutionLogCap(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := putWorkflowForTest(t, s, "wf", true)
	e, _, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), "")
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("é", 300<<10) // 600 KiB
	for i := 0; i < 3; i++ {
		if err := s.SaveExecution(e, "", chunk+"END", messages.Effects{}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.GetExecution(e.ID)
	if len(*got.Logs) > MaxLogBytes || !strings.HasSuffix(*got.Logs, "END") || !strings.HasPrefix(*got.Logs, "é") {
		t.Fatalf("log cap: len %d", len(*got.Logs))
	}
	// A terminal record refuses another terminal status.
	e.Status = messages.ExecStopped
	if err := s.SaveExecution(e, "", "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	e2 := *e
	e2.Status = messages.ExecFailed
	var me *messages.Error
	if err := s.SaveExecution(&e2, "", "", messages.Effects{}); !errors.As(err, &me) || me.Code != messages.CodeInvalidTransition {
		t.Fatalf("terminal is final: %v", err)
	}
}

// A batch creation refused for an id that exists writes nothing: the
// dedupe key keeps pointing at the execution it was first given to.
func TestCreateExecutionsAsyncConflictWritesNothing(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := putWorkflowForTest(t, s, "wf", true)
	now := time.Now()
	first := newExec(wf.ID, now, messages.PriorityNormal)
	if _, _, err := s.CreateExecution(first, "k1"); err != nil {
		t.Fatal(err)
	}
	other := newExec(wf.ID, now.Add(time.Millisecond), messages.PriorityNormal)
	if _, _, err := s.CreateExecution(other, ""); err != nil {
		t.Fatal(err)
	}
	clash := *other // same id as an existing execution, a new dedupe key
	done := make(chan []messages.CreateOutcome, 1)
	s.CreateExecutionsAsync([]*messages.Execution{&clash}, []string{"k2"}, func(o []messages.CreateOutcome, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- o
	})
	out := <-done
	if len(out) != 1 || messages.ErrorCode(out[0].Err) != messages.CodeConflict {
		t.Fatalf("outcome = %+v, want CONFLICT", out)
	}
	// "k2" was not recorded: a creation with it is new, not a duplicate.
	again := newExec(wf.ID, now.Add(2*time.Millisecond), messages.PriorityNormal)
	got, dup, err := s.CreateExecution(again, "k2")
	if err != nil || dup || got.ID != again.ID {
		t.Fatalf("k2 reuse: got %v dup=%v err=%v", got, dup, err)
	}
}
