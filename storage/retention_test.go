package storage

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// finishAt drives a new execution to status, completed at t.
func finishAt(t *testing.T, s *Store, wfID string, status messages.ExecutionStatus, at time.Time) string {
	t.Helper()
	e, _, err := s.CreateExecution(newExec(wfID, at.Add(-time.Minute), messages.PriorityNormal), "")
	if err != nil {
		t.Fatal(err)
	}
	if status == messages.ExecQueued {
		return e.ID
	}
	r := "r1"
	e.Status, e.RunnerID = messages.ExecAssigned, &r
	if err := s.SaveExecution(e, messages.ExecQueued, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	e.Status, e.StartedAt = messages.ExecRunning, messages.TimeOf(at.Add(-30*time.Second))
	if err := s.SaveExecution(e, "", "working\n", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	e.Status, e.CompletedAt = status, messages.TimeOf(at)
	if err := s.SaveExecution(e, "", "done\n", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

func TestRetentionRemovesOldFinishedExecutions(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	defer s.Close()
	clock := &fakeClock{}
	clock.ms.Store(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	wf := putWorkflowForTest(t, s, "wf", true)
	start := clock.Now()

	var old []string
	for i := 0; i < RetentionBatch+50; i++ { // more than one batch
		st := messages.ExecCompleted
		if i%3 == 0 {
			st = messages.ExecFailed
		}
		old = append(old, finishAt(t, s, wf.ID, st, start.Add(-40*24*time.Hour+time.Duration(i)*time.Second)))
	}
	recent := finishAt(t, s, wf.ID, messages.ExecStopped, start.Add(-5*24*time.Hour))
	queued := finishAt(t, s, wf.ID, messages.ExecQueued, start.Add(-90*24*time.Hour))
	perfBefore, err := s.ProcessPerformance(0, 0)
	if err != nil {
		t.Fatal(err)
	}

	r := StartRetention(s, 30, time.Hour, clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := s.ExecutionStats()
		if st.Total == 2 && r.Stats().Runs == 1 { // the run ends after its analytics-rows prune
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention at start did not remove the old executions: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, id := range []string{old[0], old[len(old)-1]} {
		if e, _ := s.GetExecution(id); e != nil {
			t.Fatalf("old execution %s survived", id)
		}
	}
	for _, id := range []string{recent, queued} {
		if e, _ := s.GetExecution(id); e == nil {
			t.Fatalf("execution %s was removed", id)
		}
	}
	perfAfter, _ := s.ProcessPerformance(0, 0)
	if len(perfAfter) != 1 || len(perfBefore) != 1 || perfAfter[0].Total != perfBefore[0].Total || perfAfter[0].Total != len(old)+1 {
		t.Fatalf("analytics changed: before %+v after %+v", perfBefore, perfAfter)
	}
	list, total, err := s.ListExecutions(messages.ExecutionFilter{}, messages.Page{Page: 1, Limit: 50})
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("list after retention: %d %d %v", total, len(list), err)
	}

	// Later runs (the hourly ones) use the clock: 26 days on, the recent
	// one is past the 30 days too; the queued one is never removed.
	clock.Advance(26 * 24 * time.Hour)
	if n, err := r.RunOnce(clock.Now().Add(-30 * 24 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("RunOnce: %d %v", n, err)
	}
	if e, _ := s.GetExecution(queued); e == nil {
		t.Fatal("a QUEUED execution was removed")
	}
	if st := r.Stats(); st.Removed != uint64(len(old)+1) || st.Runs != 1 || st.Failures != 0 {
		t.Fatalf("stats: %+v", st)
	}
	r.Stop()
	r.Stop() // idempotent
}
