package storage

import (
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

func newTestWorkflow(t *testing.T, s *Store, name string) *messages.Workflow {
	t.Helper()
	now := time.Now()
	w := &messages.Workflow{ID: messages.NewID(now), Name: name, CreatedBy: "u1", CreatedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now)}
	if err := s.CreateWorkflow(w, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func saveTestDraft(t *testing.T, s *Store, wf string) *messages.Version {
	t.Helper()
	now := time.Now()
	v, err := s.SaveDraft(&messages.Version{ID: messages.NewID(now), WorkflowID: wf, GraphJSON: `{"nodes":[],"edges":[]}`, CreatedAt: messages.TimeOf(now)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWorkflowDraftNumbersConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openAnalyticsStore(t, dir)
	w := newTestWorkflow(t, s, "concurrent")
	const n = 50
	var wg sync.WaitGroup
	nums := make([]int, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			now := time.Now()
			v, err := s.SaveDraft(&messages.Version{ID: messages.NewID(now), WorkflowID: w.ID, GraphJSON: "{}", CreatedAt: messages.TimeOf(now)}, nil)
			errs[i] = err
			if err == nil {
				nums[i] = v.Number
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Ints(nums)
	for i, got := range nums {
		if got != i+1 {
			t.Fatalf("numbers = %v, want 1..%d exactly", nums, n)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAnalyticsStore(t, dir)
	defer s.Close()
	vs, err := s.ListVersions(w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != n || vs[0].Number != n || vs[n-1].Number != 1 {
		t.Fatalf("versions after reopen: %d, first %d", len(vs), vs[0].Number)
	}
	got, err := s.GetWorkflow(w.ID)
	if err != nil || got.LatestVersionNumber != n {
		t.Fatalf("workflow after reopen: %+v, %v", got, err)
	}
	next := saveTestDraft(t, s, w.ID)
	if next.Number != n+1 {
		t.Fatalf("next number %d, want %d", next.Number, n+1)
	}
}

func TestWorkflowPublishLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openAnalyticsStore(t, dir)
	w := newTestWorkflow(t, s, "wf")

	if _, err := s.PublishLatest(w.ID, 1, nil); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("publish without versions: %v", err)
	}
	if _, err := s.PublishLatest("nope", 1, nil); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("publish unknown: %v", err)
	}
	if _, err := s.LatestVersion(w.ID); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("latest without versions: %v", err)
	}
	v1 := saveTestDraft(t, s, w.ID)
	p1, err := s.PublishLatest(w.ID, 100, nil)
	if err != nil || p1.ID != v1.ID || p1.Status != messages.VersionPublished || p1.PublishedAt != 100 {
		t.Fatalf("publish v1: %+v %v", p1, err)
	}
	if _, err := s.PublishLatest(w.ID, 101, nil); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("publish twice: %v", err)
	}
	v2 := saveTestDraft(t, s, w.ID)
	if _, err := s.PublishLatest(w.ID, 200, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAnalyticsStore(t, dir)
	defer s.Close()
	got, _ := s.GetWorkflow(w.ID)
	if string(got.PublishedVersionID) != v2.ID || got.LatestVersionNumber != 2 {
		t.Fatalf("workflow = %+v", got)
	}
	old, _ := s.GetVersion(v1.ID)
	if old.Status != messages.VersionSuperseded {
		t.Fatalf("v1 status %s", old.Status)
	}
	latest, err := s.LatestVersion(w.ID)
	if err != nil || latest.ID != v2.ID || latest.Status != messages.VersionPublished {
		t.Fatalf("latest = %+v %v", latest, err)
	}
	name := "renamed"
	up, err := s.UpdateWorkflow(w.ID, &name, nil, nil, 300, nil)
	if err != nil || up.Name != "renamed" || string(up.PublishedVersionID) != v2.ID {
		t.Fatalf("update = %+v %v", up, err)
	}
}

func TestWorkflowDeleteCascadeAndConflict(t *testing.T) {
	s := openAnalyticsStore(t, filepath.Join(t.TempDir(), "data"))
	defer s.Close()
	w := newTestWorkflow(t, s, "doomed")
	keep := newTestWorkflow(t, s, "kept")
	saveTestDraft(t, s, w.ID)
	saveTestDraft(t, s, keep.ID)
	now := time.Now()
	tr := &messages.Trigger{ID: messages.NewID(now), WorkflowID: w.ID, Type: messages.TriggerWebhook, Config: "{}", Enabled: true}
	if err := s.CreateTrigger(tr, "s3cret", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	other := &messages.Trigger{ID: messages.NewID(now), WorkflowID: keep.ID, Type: messages.TriggerSchedule, Config: "{}", Enabled: true}
	if err := s.CreateTrigger(other, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTrigger(&messages.Trigger{ID: messages.NewID(now), WorkflowID: "missing"}, "", messages.Effects{}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("trigger of unknown workflow: %v", err)
	}
	d, err := s.WorkflowDetail(w.ID)
	if err != nil || len(d.Versions) != 1 || len(d.Triggers) != 1 || !d.Triggers[0].HasSecret {
		t.Fatalf("detail = %+v %v", d, err)
	}

	// An active execution blocks the delete.
	if err := s.update(func(tx *bbolt.Tx) error { return addCounterTx(tx, activeCounter(w.ID), 1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteWorkflow(w.ID, nil); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("delete with active: %v", err)
	}
	if err := s.update(func(tx *bbolt.Tx) error { return addCounterTx(tx, activeCounter(w.ID), -1) }); err != nil {
		t.Fatal(err)
	}
	ids, err := s.DeleteWorkflow(w.ID, nil)
	if err != nil || len(ids) != 1 || ids[0] != tr.ID {
		t.Fatalf("delete = %v %v", ids, err)
	}
	if got, _ := s.GetWorkflow(w.ID); got != nil {
		t.Fatal("workflow still there")
	}
	if got, _ := s.GetTrigger(tr.ID); got != nil {
		t.Fatal("trigger still there")
	}
	if _, err := s.ListVersions(w.ID); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("versions of deleted: %v", err)
	}
	if _, err := s.DeleteWorkflow(w.ID, nil); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("delete twice: %v", err)
	}
	// The other workflow is untouched.
	if vs, _ := s.ListVersions(keep.ID); len(vs) != 1 {
		t.Fatalf("kept versions %d", len(vs))
	}
	list, total, err := s.ListWorkflows(messages.Page{Page: 1, Limit: 10})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != keep.ID {
		t.Fatalf("list = %v %d %v", list, total, err)
	}
	all, _ := s.AllTriggers()
	if len(all) != 1 || all[0].Trigger.ID != other.ID {
		t.Fatalf("all triggers = %+v", all)
	}
	if n, _ := s.CountWorkflows(); n != 1 {
		t.Fatalf("count %d", n)
	}
}

func TestTriggerStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openAnalyticsStore(t, dir)
	w := newTestWorkflow(t, s, "wf")
	w2 := newTestWorkflow(t, s, "wf2")
	now := time.Now()
	var ids []string
	for i, spec := range []struct {
		wf  string
		typ messages.TriggerType
	}{{w.ID, messages.TriggerSchedule}, {w.ID, messages.TriggerWebhook}, {w2.ID, messages.TriggerWebhook}} {
		tr := &messages.Trigger{ID: messages.NewID(now.Add(time.Duration(i) * time.Millisecond)), WorkflowID: spec.wf, Type: spec.typ, Config: "{}", Enabled: true}
		if err := s.CreateTrigger(tr, "", messages.Effects{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tr.ID)
	}
	secret := "abc"
	off := false
	cfg := `{"rateLimit":5}`
	rec, err := s.UpdateTrigger(ids[1], messages.TriggerChange{Config: &cfg, Secret: &secret, Enabled: &off, UpdatedAt: 5}, messages.Effects{})
	if err != nil || rec.Secret != "abc" || !rec.Trigger.HasSecret || rec.Trigger.Enabled || rec.Trigger.Config != cfg {
		t.Fatalf("update = %+v %v", rec, err)
	}
	if err := s.RecordTriggerFire(ids[0], 10, "queued x", 20, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordTriggerFire("missing", 10, "queued x", 20, messages.Effects{}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("fire of missing: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAnalyticsStore(t, dir)
	defer s.Close()
	got, _ := s.GetTrigger(ids[0])
	if got.LastFiredAt != 10 || got.LastResult != "queued x" || got.NextRunAt != 20 {
		t.Fatalf("fired trigger = %+v", got)
	}
	page := messages.Page{Page: 1, Limit: 50}
	list, total, _ := s.ListTriggers(messages.TriggerFilter{}, page)
	if total != 3 || list[0].ID != ids[2] {
		t.Fatalf("list all: %d", total)
	}
	list, total, _ = s.ListTriggers(messages.TriggerFilter{WorkflowID: w.ID}, page)
	if total != 2 || len(list) != 2 || list[0].ID != ids[1] || list[1].ID != ids[0] {
		t.Fatalf("by workflow: %d %+v", total, list)
	}
	list, total, _ = s.ListTriggers(messages.TriggerFilter{WorkflowID: w.ID}, messages.Page{Page: 2, Limit: 1})
	if total != 2 || len(list) != 1 || list[0].ID != ids[0] {
		t.Fatalf("by workflow page 2: %d %+v", total, list)
	}
	list, total, _ = s.ListTriggers(messages.TriggerFilter{WorkflowID: w.ID, Type: messages.TriggerWebhook}, page)
	if total != 1 || len(list) != 1 || list[0].ID != ids[1] || !list[0].HasSecret {
		t.Fatalf("by workflow and type: %d %+v", total, list)
	}
	list, total, _ = s.ListTriggers(messages.TriggerFilter{Type: messages.TriggerWebhook}, messages.Page{Page: 2, Limit: 1})
	if total != 2 || len(list) != 1 || list[0].ID != ids[1] || !list[0].HasSecret {
		t.Fatalf("by type page 2: %d %+v", total, list)
	}
	if err := s.DeleteTrigger(ids[0], messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTrigger(ids[0], messages.Effects{}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("delete twice: %v", err)
	}
	_, total, _ = s.ListTriggers(messages.TriggerFilter{}, page)
	if total != 2 {
		t.Fatalf("total after delete %d", total)
	}
}
