package storage

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// TestVersionCacheFollowsCatalogWrites: GetVersion answers from its cache
// until a catalog write, and every catalog write that changes a version
// (publish supersedes the previous one, a workflow's delete removes its
// versions) is seen by the next read.
func TestVersionCacheFollowsCatalogWrites(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	now := time.Now()
	w := &messages.Workflow{ID: messages.NewID(now), Name: "cached", CreatedAt: messages.TimeOf(now)}
	if err := s.CreateWorkflow(w, nil); err != nil {
		t.Fatal(err)
	}
	v1 := saveTestDraft(t, s, w.ID)
	if _, err := s.PublishLatest(w.ID, 100, nil); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetVersion(v1.ID)
	if err != nil || a == nil || a.Status != messages.VersionPublished {
		t.Fatalf("v1 = %+v, %v", a, err)
	}
	if b, _ := s.GetVersion(v1.ID); b != a {
		t.Fatal("a second read of an unchanged version was not served from the cache")
	}
	saveTestDraft(t, s, w.ID)
	if _, err := s.PublishLatest(w.ID, 200, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetVersion(v1.ID); got == nil || got.Status != messages.VersionSuperseded {
		t.Fatalf("v1 after the next publish = %+v, want SUPERSEDED", got)
	}
	if _, err := s.DeleteWorkflow(w.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetVersion(v1.ID); got != nil || err != nil {
		t.Fatalf("v1 after its workflow's delete = %+v, %v", got, err)
	}
}
