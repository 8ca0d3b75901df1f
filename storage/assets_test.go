package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

const (
	testSecretValue = "s3cret-VALUE-never-in-clear"
	testPassword    = "p4ss-WORD-never-in-clear"
)

func strp(s string) *string { return &s }

// createAssetForTest creates an asset or fails the test.
func createAssetForTest(t *testing.T, s *Store, name string, typ messages.AssetType, value, username, password *string) *messages.Asset {
	t.Helper()
	now := time.Now()
	a, err := s.CreateAsset(&messages.Asset{ID: messages.NewID(now), Name: name, Type: typ, CreatedAt: messages.TimeOf(now)},
		value, username, password, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// handOver runs HandOverAssets and waits for its answer.
func handOver(t *testing.T, s *Store, execID, runnerID string, audit *messages.AuditEntry) (messages.AssetBundle, error) {
	t.Helper()
	type result struct {
		b   messages.AssetBundle
		err error
	}
	ch := make(chan result, 1)
	s.HandOverAssets(execID, runnerID, audit, func(b messages.AssetBundle, err error) { ch <- result{b, err} })
	select {
	case r := <-ch:
		return r.b, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("hand-over never answered")
		return nil, nil
	}
}

// publishForTest saves graph as a draft of a new workflow and publishes it.
func publishForTest(t *testing.T, s *Store, wf *messages.Workflow, graph string) (*messages.Version, error) {
	t.Helper()
	now := time.Now()
	if _, err := s.SaveDraft(&messages.Version{ID: messages.NewID(now), WorkflowID: wf.ID, GraphJSON: graph, CreatedAt: messages.TimeOf(now)}, nil); err != nil {
		t.Fatal(err)
	}
	return s.PublishLatest(wf.ID, messages.TimeOf(now), nil)
}

func newWorkflowForTest(t *testing.T, s *Store, name string) *messages.Workflow {
	t.Helper()
	now := time.Now()
	wf := &messages.Workflow{ID: messages.NewID(now), Name: name, CreatedAt: messages.TimeOf(now)}
	if err := s.CreateWorkflow(wf, nil); err != nil {
		t.Fatal(err)
	}
	return wf
}

const assetGraph = `{"nodes":[{"id":"s","type":"start"},` +
	`{"id":"h","type":"http","params":{"url":"https://erp.example.com/login","headers":{"X-User":"{{asset:erp.username}}","X-Pass":"{{ asset:erp.password }}"},"body":"key={{asset:ApiKey}}"}},` +
	`{"id":"l","type":"log","params":{"message":["site {{asset:site}}"]}}],"edges":[{"source":"s","target":"h"},{"source":"h","target":"l"}]}`

func TestAssetSecretsSealedOnDiskAndAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	sec := createAssetForTest(t, s, "ApiKey", messages.AssetSecret, strp(testSecretValue), nil, nil)
	cred := createAssetForTest(t, s, "erp", messages.AssetCredential, nil, strp("robot-7"), strp(testPassword))
	text := createAssetForTest(t, s, "site", messages.AssetText, strp("https://erp.example.com"), nil, nil)
	empty := createAssetForTest(t, s, "later", messages.AssetSecret, nil, nil, nil)
	if !sec.HasValue || sec.Value != nil || !cred.HasValue || cred.Username == nil || *cred.Username != "robot-7" ||
		!text.HasValue || text.Value == nil || empty.HasValue {
		t.Fatalf("created: %+v %+v %+v %+v", sec, cred, text, empty)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{testSecretValue, testPassword} {
		if bytes.Contains(data, []byte(secret)) {
			t.Fatalf("%q is in the database file in plain text", secret)
		}
	}

	s = openTestStore(t, dir)
	defer s.Close()
	list, total, err := s.ListAssets(messages.Page{Page: 1, Limit: 10})
	if err != nil || total != 4 || len(list) != 4 || list[0].Name != "later" || list[3].Name != "ApiKey" {
		t.Fatalf("list: %d %v %+v", total, err, list)
	}
	for _, a := range list {
		if a.Type != messages.AssetText && a.Value != nil {
			t.Fatalf("%s shows a value: %+v", a.Name, a)
		}
	}
	got, err := s.GetAsset(cred.ID)
	if err != nil || got == nil || !got.HasValue || *got.Username != "robot-7" || got.Value != nil {
		t.Fatalf("get: %+v %v", got, err)
	}
	if none, err := s.GetAsset("nope"); none != nil || err != nil {
		t.Fatalf("absent: %v %v", none, err)
	}

	// The values open again after the reopen, in a hand-over.
	wf := newWorkflowForTest(t, s, "erp-login")
	v, err := publishForTest(t, s, wf, assetGraph)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(v.AssetNames, ",") != "ApiKey,erp,site" {
		t.Fatalf("assetNames = %v", v.AssetNames)
	}
	e, _, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), "")
	if err != nil {
		t.Fatal(err)
	}
	r := "r1"
	e.Status, e.RunnerID = messages.ExecAssigned, &r
	if err := s.SaveExecution(e, messages.ExecQueued, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	audit := &messages.AuditEntry{ID: messages.NewID(time.Now()), Action: messages.AuditAssetHandedOut, ActorType: messages.ActorRunner,
		ActorID: r, TargetType: "execution", TargetID: e.ID}
	b, err := handOver(t, s, e.ID, r, audit)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 3 || *b["ApiKey"].Value != testSecretValue || *b["erp"].Password != testPassword ||
		*b["erp"].Username != "robot-7" || *b["site"].Value != "https://erp.example.com" || b["erp"].Value != nil {
		t.Fatalf("bundle: %+v", b)
	}
	// Another runner gets nothing, and nothing is audited for it.
	if _, err := handOver(t, s, e.ID, "r2", audit); messages.ErrorCode(err) != messages.CodeForbidden {
		t.Fatalf("other runner: %v", err)
	}
	if _, err := handOver(t, s, "nope", r, audit); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("absent execution: %v", err)
	}
	entries, n, err := s.ListAudit(messages.Page{Page: 1, Limit: 50})
	if err != nil || n != 1 || entries[0].Details != "assets: ApiKey, erp, site; version "+v.ID {
		t.Fatalf("audit: %d %v %+v", n, err, entries)
	}
	// Once RUNNING, the execution's assets are not handed over again.
	e.Status = messages.ExecRunning
	if err := s.SaveExecution(e, messages.ExecAssigned, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if _, err := handOver(t, s, e.ID, r, audit); messages.ErrorCode(err) != messages.CodeForbidden {
		t.Fatalf("running: %v", err)
	}
}

func TestAssetNamesAndUpdates(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	a := createAssetForTest(t, s, "Token", messages.AssetSecret, strp("one"), nil, nil)
	now := time.Now()
	_, err := s.CreateAsset(&messages.Asset{ID: messages.NewID(now), Name: "TOKEN", Type: messages.AssetText}, nil, nil, nil, nil)
	if messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("case-insensitive duplicate: %v", err)
	}
	other := createAssetForTest(t, s, "other", messages.AssetText, strp("x"), nil, nil)
	if _, err := s.UpdateAsset(other.ID, messages.AssetChange{Name: strp("token")}, nil); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	// A change of case keeps the name index; a rename frees the old name.
	got, err := s.UpdateAsset(a.ID, messages.AssetChange{Name: strp("TOKEN"), Value: strp("two"), Description: strp("d")}, nil)
	if err != nil || got.Name != "TOKEN" || got.Description != "d" || !got.HasValue || got.Value != nil {
		t.Fatalf("update: %+v %v", got, err)
	}
	if _, err := s.UpdateAsset(a.ID, messages.AssetChange{Name: strp("renamed")}, nil); err != nil {
		t.Fatal(err)
	}
	createAssetForTest(t, s, "token", messages.AssetText, nil, nil, nil)
	// Clearing a secret shows hasValue false.
	got, err = s.UpdateAsset(a.ID, messages.AssetChange{Value: strp("")}, nil)
	if err != nil || got.HasValue {
		t.Fatalf("cleared: %+v %v", got, err)
	}
	if _, err := s.UpdateAsset("nope", messages.AssetChange{Description: strp("d")}, nil); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("absent: %v", err)
	}
	if err := s.DeleteAsset(other.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAsset(other.ID, nil); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("deleted twice: %v", err)
	}
	createAssetForTest(t, s, "OTHER", messages.AssetText, nil, nil, nil) // the name is free again
	if _, total, _ := s.ListAssets(messages.Page{Page: 1, Limit: 1}); total != 3 {
		t.Fatalf("total = %d", total)
	}
}

func TestPublishResolvesAssetReferences(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := newWorkflowForTest(t, s, "robot")

	_, err := publishForTest(t, s, wf, assetGraph)
	if messages.ErrorCode(err) != messages.CodeValidation || !strings.Contains(err.Error(), "ApiKey, erp, site") {
		t.Fatalf("unknown names: %v", err)
	}
	createAssetForTest(t, s, "apikey", messages.AssetSecret, strp(testSecretValue), nil, nil) // any case resolves
	createAssetForTest(t, s, "erp", messages.AssetSecret, strp("x"), nil, nil)
	site := createAssetForTest(t, s, "site", messages.AssetText, strp("https://x"), nil, nil)
	_, err = publishForTest(t, s, wf, assetGraph)
	if messages.ErrorCode(err) != messages.CodeValidation || !strings.Contains(err.Error(), `"erp" is a SECRET`) {
		t.Fatalf("field of a SECRET: %v", err)
	}
	if v, _ := s.LatestVersion(wf.ID); v.Status != messages.VersionDraft {
		t.Fatalf("a refused publish changed the version: %+v", v)
	}
	bad := `{"nodes":[{"id":"l","type":"log","params":{"message":"{{asset:a.b.c}}"}}],"edges":[]}`
	if _, err := publishForTest(t, s, wf, bad); messages.ErrorCode(err) != messages.CodeValidation || !strings.Contains(err.Error(), "asset:a.b.c") {
		t.Fatalf("malformed reference: %v", err)
	}
	credOnly := `{"nodes":[{"id":"l","type":"log","params":{"message":"{{asset:erp2}}"}}],"edges":[]}`
	createAssetForTest(t, s, "erp2", messages.AssetCredential, nil, strp("u"), strp("p"))
	if _, err := publishForTest(t, s, wf, credOnly); messages.ErrorCode(err) != messages.CodeValidation || !strings.Contains(err.Error(), "CREDENTIAL") {
		t.Fatalf("bare reference to a CREDENTIAL: %v", err)
	}

	ok := `{"nodes":[{"id":"l","type":"log","params":{"message":"{{asset:SITE}} as {{asset:erp2.username}}"}}],"edges":[]}`
	v, err := publishForTest(t, s, wf, ok)
	if err != nil || strings.Join(v.AssetNames, ",") != "SITE,erp2" {
		t.Fatalf("publish: %+v %v", v, err)
	}
	if got, _ := s.GetVersion(v.ID); strings.Join(got.AssetNames, ",") != "SITE,erp2" {
		t.Fatalf("stored assetNames: %v", got.AssetNames)
	}
	// In use by the published version: no delete, no rename.
	err = s.DeleteAsset(site.ID, nil)
	if messages.ErrorCode(err) != messages.CodeConflict || !strings.Contains(err.Error(), `workflow "robot"`) {
		t.Fatalf("delete in use: %v", err)
	}
	if _, err := s.UpdateAsset(site.ID, messages.AssetChange{Name: strp("site2")}, nil); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("rename in use: %v", err)
	}
	if _, err := s.UpdateAsset(site.ID, messages.AssetChange{Value: strp("https://y")}, nil); err != nil {
		t.Fatalf("a value change is fine: %v", err)
	}
	// Once superseded by a version without it, the asset may go.
	if _, err := publishForTest(t, s, wf, `{"nodes":[{"id":"s","type":"start"}],"edges":[]}`); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAsset(site.ID, nil); err != nil {
		t.Fatalf("delete after supersede: %v", err)
	}
	// A deleted workflow holds no asset either.
	v, err = publishForTest(t, s, wf, `{"nodes":[{"id":"l","type":"log","params":{"message":"{{asset:erp2.password}}"}}],"edges":[]}`)
	if err != nil || strings.Join(v.AssetNames, ",") != "erp2" {
		t.Fatalf("publish: %+v %v", v, err)
	}
	erp2, _, _ := s.ListAssets(messages.Page{Page: 1, Limit: 1})
	if err := s.DeleteAsset(erp2[0].ID, nil); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("delete in use: %v", err)
	}
	if _, err := s.DeleteWorkflow(wf.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAsset(erp2[0].ID, nil); err != nil {
		t.Fatalf("delete after the workflow went: %v", err)
	}
}
