package storage

import (
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

func queuedIDs(t *testing.T, s *Store) []string {
	t.Helper()
	var ids []string
	if err := s.EachQueued(func(id []byte, _ messages.Priority, _ messages.Time) { ids = append(ids, string(id)) }); err != nil {
		t.Fatal(err)
	}
	return ids
}

// The queue index follows every status change, reads in queue order, and
// survives a reopen; a database written before it existed gets it built.
func TestQueueIndex(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	wf := putWorkflowForTest(t, s, "wf", true)
	base := time.Now()
	prios := []messages.Priority{messages.PriorityLow, messages.PriorityNormal, messages.PriorityHigh, messages.PriorityNormal, messages.PriorityHigh}
	var es []*messages.Execution
	for i, p := range prios {
		e, _, err := s.CreateExecution(newExec(wf.ID, base.Add(time.Duration(i)*time.Millisecond), p), "")
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	if got, want := queuedIDs(t, s), []string{es[2].ID, es[4].ID, es[1].ID, es[3].ID, es[0].ID}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	var prio messages.Priority
	var enq messages.Time
	_ = s.EachQueued(func(id []byte, p messages.Priority, at messages.Time) {
		if string(id) == es[0].ID {
			prio, enq = p, at
		}
	})
	if prio != messages.PriorityLow || enq != es[0].EnqueuedAt {
		t.Fatalf("entry of %s: %s %d", es[0].ID, prio, enq)
	}
	// Assigned: out of the index; back to the queue later: in again, at
	// its new enqueue time (behind the other NORMAL one).
	next := *es[1]
	runner := "r1"
	next.Status, next.RunnerID = messages.ExecAssigned, &runner
	if err := s.SaveExecution(&next, messages.ExecQueued, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if got := queuedIDs(t, s); slices.Contains(got, es[1].ID) || len(got) != 4 {
		t.Fatalf("after assignment %v", got)
	}
	back := next
	back.Status, back.RunnerID, back.EnqueuedAt = messages.ExecQueued, nil, messages.TimeOf(base.Add(time.Second))
	if err := s.SaveExecution(&back, messages.ExecAssigned, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	want := []string{es[2].ID, es[4].ID, es[3].ID, es[1].ID, es[0].ID}
	if got := queuedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("after re-queue %v, want %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	if got := queuedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("after reopen %v, want %v", got, want)
	}
	// As if written by the previous release: no index at all.
	if err := s.update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketExecQueue); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketExecQueue)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := queuedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("after building the index %v, want %v", got, want)
	}
	// Marked complete but short of an entry (a build without the index
	// queued an execution in between): rebuilt.
	if err := s.update(func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket(bucketExecQueue).Cursor().First()
		return tx.Bucket(bucketExecQueue).Delete(k)
	}); err != nil {
		t.Fatal(err)
	}
	if got := queuedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("after an entry went missing %v, want %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
