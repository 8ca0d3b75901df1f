package actors

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// stuckStore blocks CreateWorkflow until release is closed: an actor
// stuck in a write that does not come back.
type stuckStore struct {
	*storage.Store
	entered chan struct{}
	release chan struct{}
}

func (s *stuckStore) CreateWorkflow(w *messages.Workflow, audit *messages.AuditEntry) error {
	close(s.entered)
	<-s.release
	return s.Store.CreateWorkflow(w, audit)
}

func TestStopWithinBoundsAStuckActor(t *testing.T) {
	st, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stuck := &stuckStore{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	sys, err := Start(Config{RunnerTTL: time.Minute, OfflineGrace: time.Minute,
		QueueTimeout: time.Minute, StaleCheckInterval: time.Second}, stuck)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = sys.Ask(&messages.CreateWorkflow{Name: "stuck"}) }()
	select {
	case <-stuck.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the write never started")
	}
	start := time.Now()
	if sys.StopWithin(300 * time.Millisecond) {
		t.Fatal("StopWithin says the tree stopped while an actor is stuck")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("StopWithin took %v", el)
	}
	if _, err := sys.Ask(&messages.CreateWorkflow{Name: "after"}); err != ErrStopped {
		t.Fatalf("Ask after stop: %v", err)
	}
	close(stuck.release)
	_ = st.Close()

	// A tree that is not stuck stops within the bound and says so.
	st2, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	sys2, err := Start(Config{RunnerTTL: time.Minute, OfflineGrace: time.Minute,
		QueueTimeout: time.Minute, StaleCheckInterval: time.Second}, st2)
	if err != nil {
		t.Fatal(err)
	}
	if !sys2.StopWithin(10 * time.Second) {
		t.Fatal("an idle tree did not stop")
	}
}

// failingTriggersStore fails every read of the triggers at start.
type failingTriggersStore struct{ *storage.Store }

func (failingTriggersStore) AllTriggers() ([]*messages.TriggerRecord, error) {
	return nil, errors.New("disk says no")
}

// TestStartFailsFastWhenAChildCannotStart: a top-level child whose
// rehydration keeps failing stops the start with an error at once, instead
// of a start that waits a minute.
func TestStartFailsFastWhenAChildCannotStart(t *testing.T) {
	st, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	sys, err := Start(Config{RunnerTTL: time.Minute, OfflineGrace: time.Minute,
		QueueTimeout: time.Minute, StaleCheckInterval: time.Second, Logger: slog.New(slog.DiscardHandler)}, failingTriggersStore{st})
	if err == nil {
		sys.Stop()
		t.Fatal("started without its triggers")
	}
	if el := time.Since(start); el > 20*time.Second || !strings.Contains(err.Error(), "triggers") {
		t.Fatalf("after %v: %v", el, err)
	}
}
