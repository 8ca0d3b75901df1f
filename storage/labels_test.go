package storage

import (
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// An execution takes its workflow's runner labels unless it brings its
// own (an empty list: none); the queue index carries them, through a
// re-queue and a rebuilt index alike.
func TestExecutionRunnerLabels(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	wf := putWorkflowForTest(t, s, "wf", true)
	if _, err := s.UpdateWorkflow(wf.ID, nil, nil, []string{"eu", "finance"}, 5, nil); err != nil {
		t.Fatal(err)
	}
	if w, err := s.GetWorkflow(wf.ID); err != nil || len(w.RunnerLabels) != 2 {
		t.Fatalf("workflow labels: %+v %v", w, err)
	}
	base := time.Now()
	inherit, _, err := s.CreateExecution(newExec(wf.ID, base, messages.PriorityNormal), "")
	if err != nil {
		t.Fatal(err)
	}
	own := newExec(wf.ID, base.Add(time.Millisecond), messages.PriorityNormal)
	own.RunnerLabels = []string{"gpu"}
	ownE, _, err := s.CreateExecution(own, "")
	if err != nil {
		t.Fatal(err)
	}
	none := newExec(wf.ID, base.Add(2*time.Millisecond), messages.PriorityNormal)
	none.RunnerLabels = []string{}
	noneE, _, err := s.CreateExecution(none, "")
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		want := map[string]string{inherit.ID: "eu,finance", ownE.ID: "gpu", noneE.ID: ""}
		got := map[string]string{}
		if err := s.EachQueued(func(id []byte, _ messages.Priority, _ messages.Time, labels []byte) {
			got[string(id)] = string(labels)
		}); err != nil {
			t.Fatal(err)
		}
		for id, w := range want {
			if g, ok := got[id]; !ok || g != w {
				t.Fatalf("%s: %s labels %q, want %q", when, id, g, w)
			}
		}
		if e, _ := s.GetExecution(inherit.ID); len(e.RunnerLabels) != 2 || e.RunnerLabels[1] != "finance" {
			t.Fatalf("%s: stored labels %v", when, e.RunnerLabels)
		}
	}
	check("created")
	// As if the index had to be rebuilt (a database from before it).
	if err := s.update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketExecQueue); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketExecQueue)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}

// A runner record from before labels reads with none ([] on lists).
func TestRunnerLabelsOptional(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	r := &messages.Runner{ID: messages.NewID(time.Now()), Name: "old", MachineKey: "FC-1", Type: messages.RunnerUnattended}
	if err := s.CreateRunner(r, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.ListRunners(messages.RunnerFilter{}, messages.Page{Page: 1, Limit: 10})
	if err != nil || len(list) != 1 || list[0].Labels == nil || len(list[0].Labels) != 0 {
		t.Fatalf("list: %+v %v", list, err)
	}
	r.Labels = []string{"finance"}
	if err := s.SaveRunner(r, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRunner(r.ID); err != nil || len(got.Labels) != 1 || got.Labels[0] != "finance" {
		t.Fatalf("get: %+v %v", got, err)
	}
}
