package storage

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// TestRunnerProcessesFollowCatalogWrites: the cached list changes with
// every kind of workflow write, and under concurrent reads and writes it
// ends equal to a fresh computation.
func TestRunnerProcessesFollowCatalogWrites(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	names := func() []string {
		t.Helper()
		procs, err := s.RunnerProcesses()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range procs {
			out = append(out, p.Name)
		}
		return out
	}
	now := messages.TimeOf(time.Now())
	w := &messages.Workflow{ID: messages.NewID(time.Now()), Name: "one", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateWorkflow(w, nil); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("unpublished listed: %v", got)
	}
	draft := &messages.Version{ID: messages.NewID(time.Now()), WorkflowID: w.ID, Status: messages.VersionDraft,
		GraphJSON: `{"nodes":[{"id":"a","type":"start"}],"edges":[]}`, CreatedAt: now}
	if _, err := s.SaveDraft(draft, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublishLatest(w.ID, now, nil); err != nil {
		t.Fatal(err)
	}
	if got := names(); !reflect.DeepEqual(got, []string{"one"}) {
		t.Fatalf("after publish: %v", got)
	}
	renamed := "uno"
	if _, err := s.UpdateWorkflow(w.ID, &renamed, nil, nil, now, nil); err != nil {
		t.Fatal(err)
	}
	if got := names(); !reflect.DeepEqual(got, []string{"uno"}) {
		t.Fatalf("after rename: %v", got)
	}
	if _, err := s.DeleteWorkflow(w.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}

	// Readers racing writers: once the writers are done, the cache agrees
	// with the database.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					if _, err := s.RunnerProcesses(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 30; i++ {
		putWorkflowForTest(t, s, "w", i%2 == 0)
	}
	close(stop)
	wg.Wait()
	cached, err := s.RunnerProcesses()
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := s.readRunnerProcesses()
	if err != nil {
		t.Fatal(err)
	}
	if len(cached) != 15 || !reflect.DeepEqual(cached, fresh) {
		t.Fatalf("cache %d entries, database %d", len(cached), len(fresh))
	}
}
