package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/storage"
)

// Upgrades in place: every release keeps a small database written by the
// release before it under testdata/releases/<n>/ (docs/operations.md,
// "Upgrading"). The test starts this build on a copy of each one and checks
// that every record the old release answered is still answered the same
// way, and that the stored secrets (password hashes, runner secret hashes,
// sealed webhook secrets, the JWT key) still work.
//
// A fixture is written by the release it belongs to:
//
//	EXEKRA_WRITE_RELEASE_FIXTURE=testdata/releases/<schema version> \
//	  go test -run TestE2EWriteReleaseFixture ./cmd/exekra
//
// run at that release's commit, before the schema version moves on.

// releaseFixture is what a fixture directory holds besides exekra.db.
type releaseFixture struct {
	SchemaVersion   uint64            `json:"schemaVersion"`
	WrittenBy       string            `json:"writtenBy"`
	AdminEmail      string            `json:"adminEmail"`
	AdminPassword   string            `json:"adminPassword"`
	RunnerKey       string            `json:"runnerKey"`
	RunnerSecret    string            `json:"runnerSecret"`
	WebhookID       string            `json:"webhookId"`
	WebhookSecret   string            `json:"webhookSecret"`
	WebhookWorkflow string            `json:"webhookWorkflowId"`
	Answers         map[string]any    `json:"answers"` // GET path → the JSON the old release answered
	Volatile        []string          `json:"volatile"`
	Notes           map[string]string `json:"notes,omitempty"`

	// Written from schema 2 on (empty in older fixtures): an API key, a
	// labelled runner whose queued HIGH execution references sealed assets,
	// and a subscription with its secret.
	APIKey             string            `json:"apiKey,omitempty"`
	LabelledRunnerID   string            `json:"labelledRunnerId,omitempty"`
	LabelledRunnerKey  string            `json:"labelledRunnerKey,omitempty"`
	LabelledRunnerSec  string            `json:"labelledRunnerSecret,omitempty"`
	LabelledExecution  string            `json:"labelledExecutionId,omitempty"`
	AssetValues        map[string]string `json:"assetValues,omitempty"` // "name" or "name.username|password" → value
	SubscriptionID     string            `json:"subscriptionId,omitempty"`
	SubscriptionSecret string            `json:"subscriptionSecret,omitempty"`
}

// fixtureVolatile are fields whose value follows the clock, not the data.
// Lists that grow by the test's own logins (the audit log) are compared by
// id: every old item must still be there, unchanged.
var fixtureVolatile = []string{"daysRemaining", "status@license", "nextRunAt", "timestamp", "status@runners",
	"lastLoginAt", "waiting", "total@audit", "totalPages@audit", "validatedAt", "updatedAt@runners", "offlineSince@runners"}

// TestE2EWriteReleaseFixture writes a release fixture (skipped unless asked).
func TestE2EWriteReleaseFixture(t *testing.T) {
	dir := os.Getenv("EXEKRA_WRITE_RELEASE_FIXTURE")
	if dir == "" {
		t.Skip("set EXEKRA_WRITE_RELEASE_FIXTURE=DIR to write a release fixture")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	priv := licenseKeyFile(t, filepath.Join(dir, "license.pub"))
	h := newUnactivatedHarness(t, func(c *Config) {
		c.LicensePublicKey, c.OutboundAllowLoopback = filepath.Join(dir, "license.pub"), true
	})
	h.priv = priv
	h.activate(h.issueLicense(licenseOpts{expires: time.Now().AddDate(90, 0, 0), runners: 50, users: 50}))
	h.admin = h.bootstrap(adminEmail, adminPassword)
	fx := releaseFixture{SchemaVersion: storage.SchemaVersion, WrittenBy: version, AdminEmail: adminEmail,
		AdminPassword: adminPassword, Answers: map[string]any{}, Volatile: fixtureVolatile}

	dev := h.userWithRole("DEVELOPER")
	h.expect(h.admin, "POST", "/api/auth/register", map[string]any{
		"email": "operator@example.com", "password": "operator-pass-1", "name": "Otto Operator", "role": "OPERATOR"}, 201)
	wf := h.publishedWorkflow(dev, "invoice-run")
	h.expect(dev, "PUT", "/api/workflows/"+wf, map[string]any{"description": "Monthly invoices"}, 200)
	h.expect(dev, "POST", "/api/workflows/"+wf+"/draft", map[string]any{
		"graphJson": `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"log","params":{"message":"v2"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"e"}]}`,
		"metadata":  "second draft"}, 201)
	other := h.createWorkflow(dev, "never-published")

	// Runners: one kept for credentials, one that finishes work.
	keep := h.rnRegister("robot-keep", "")
	worker := h.rnOnline("robot-work", "")
	h.rnRegister("robot-attended", "ATTENDED")
	fx.RunnerKey, fx.RunnerSecret = keep.key, keep.secret

	// Executions in every state a stored record can hold.
	done := h.createExecution(dev, map[string]any{"workflowId": wf, "priority": "HIGH", "input": map[string]any{"month": "2026-11"}}, 201).str("execution.id")
	h.expect(worker.c, "POST", "/api/runners/poll", map[string]any{}, 200)
	h.expect(worker.c, "POST", "/api/executions/"+done+"/status", map[string]any{"status": "RUNNING", "logs": "started\n"}, 200)
	h.expect(worker.c, "POST", "/api/executions/"+done+"/status", map[string]any{"status": "COMPLETED", "logs": "done\n",
		"metrics": map[string]any{"cpuPercent": 12.5, "memoryMb": 256}}, 200)
	failed := h.createExecution(dev, map[string]any{"workflowId": wf}, 201).str("execution.id")
	h.rnEventually("worker free", func() bool {
		return h.expect(h.admin, "GET", "/api/runners/"+worker.id, nil, 200).str("runner.status") == "ONLINE"
	})
	h.expect(worker.c, "POST", "/api/runners/poll", map[string]any{}, 200)
	h.expect(worker.c, "POST", "/api/executions/"+failed+"/status", map[string]any{"status": "FAILED", "error": "site down"}, 200)
	stopped := h.createExecution(dev, map[string]any{"workflowId": wf, "priority": "LOW"}, 201).str("execution.id")
	h.expect(dev, "POST", "/api/executions/"+stopped+"/stop", nil, 200)
	queued := h.createExecution(dev, map[string]any{"workflowId": wf, "input": []any{1, "two"}}, 201, "Idempotency-Key", "fixture-1").str("execution.id")

	// Triggers: a schedule and a webhook with a secret.
	h.expect(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE",
		"config": `{"cron":"0 3 * * *","timezone":"Europe/Berlin"}`, "enabled": true}, 201)
	fx.WebhookSecret = "fixture-webhook-secret"
	hook := h.expect(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": map[string]any{"secret": fx.WebhookSecret, "rateLimit": 1000, "priority": "HIGH"}, "enabled": true}, 201)
	fx.WebhookID, fx.WebhookWorkflow = hook.str("trigger.id"), wf
	h.expect(dev, "POST", "/api/triggers", map[string]any{"workflowId": other, "type": "WEBHOOK", "config": "{}", "enabled": false}, 201)

	extra := writeSchema2Records(h, &fx, dev)

	// Record what the old release answers.
	for _, path := range append(extra, []string{
		"/api/status", "/api/license/status", "/api/users?limit=200", "/api/audit?limit=200",
		"/api/workflows?limit=200", "/api/workflows/" + wf, "/api/workflows/" + other, "/api/workflows/" + wf + "/versions",
		"/api/executions?limit=200", "/api/executions/stats", "/api/executions/" + done, "/api/executions/" + failed,
		"/api/executions/" + stopped, "/api/executions/" + queued, "/api/runners?limit=200", "/api/triggers?limit=200",
		"/api/analytics/process-performance",
	}...) {
		fx.Answers[path] = h.expect(h.admin, "GET", path, nil, 200).json
	}
	h.stop()
	src, err := os.ReadFile(filepath.Join(h.cfg.DataDir, storage.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, storage.FileName), src, 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(fx, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fixture.json"), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestE2EUpgradeFromEveryRelease opens each stored release fixture with this
// build and finds every record intact.
func TestE2EUpgradeFromEveryRelease(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "releases", "*"))
	if len(dirs) == 0 {
		t.Fatal("no release fixtures under testdata/releases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { upgradeFrom(t, dir) })
	}
}

func upgradeFrom(t *testing.T, dir string) {
	var fx releaseFixture
	raw, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if fx.SchemaVersion > storage.SchemaVersion {
		t.Fatalf("fixture schema %d is newer than this build's %d", fx.SchemaVersion, storage.SchemaVersion)
	}
	data := t.TempDir()
	db, err := os.ReadFile(filepath.Join(dir, storage.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, storage.FileName), db, 0o600); err != nil {
		t.Fatal(err)
	}
	pubPath, err := filepath.Abs(filepath.Join(dir, "license.pub"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewMain().Config
	cfg.Addr, cfg.DataDir, cfg.InsecureHTTP, cfg.LicensePublicKey = "127.0.0.1:0", data, true, pubPath
	cfg.RateLimit, cfg.LogLevel, cfg.OutboundAllowLoopback = 0, "warn", true
	// The fixture's QUEUED execution must still be queued, however long ago
	// the fixture was written: no queue timeout within the test's lifetime.
	cfg.QueueTimeout = 100 * 365 * 24 * time.Hour
	h := &harness{t: t, cfg: cfg, clock: &skewClock{}, http: &http.Client{Timeout: 90 * time.Second}, logs: &syncBuffer{}}
	h.start()
	t.Cleanup(h.stop)

	// Passwords (bcrypt hashes) and the JWT key survived.
	h.admin = h.login(fx.AdminEmail, fx.AdminPassword)
	h.login("operator@example.com", "operator-pass-1")

	// Every answer of the old release is still given: each field it had
	// keeps its value (new fields may be added).
	paths := make([]string, 0, len(fx.Answers))
	for p := range fx.Answers {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		now := h.expect(h.admin, "GET", path, nil, 200).json
		for _, diff := range subsetDiff(path, fx.Answers[path], any(now), append(fx.Volatile, fixtureVolatile...)) {
			t.Errorf("%s", diff)
		}
	}

	// Runner secret hashes: the stored machine credentials still authenticate.
	h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": fx.RunnerKey, "machineSecret": fx.RunnerSecret}, 200)
	h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": fx.RunnerKey, "machineSecret": strings.Repeat("0", 64)}, 401)

	// Sealed webhook secrets: a correctly signed call is accepted, a wrong
	// signature refused.
	body := `{"from":"upgrade test"}`
	mac := hmac.New(sha256.New, []byte(fx.WebhookSecret))
	mac.Write([]byte(body))
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	h.expect(anon, "POST", "/api/triggers/webhook/"+fx.WebhookID, body, 401, "X-Exekra-Signature", "sha256="+strings.Repeat("0", 64))
	r := h.expect(anon, "POST", "/api/triggers/webhook/"+fx.WebhookID, body, 200, "X-Exekra-Signature", sig)
	if r.str("executionId") == "" {
		t.Fatalf("webhook answer: %s", r.body)
	}

	checkSchema2Records(h, &fx)

	// A restart of the upgraded database keeps everything too.
	h.restart()
	h.admin = h.login(fx.AdminEmail, fx.AdminPassword)
	st := h.expect(h.admin, "GET", "/api/executions/stats", nil, 200)
	old := fx.Answers["/api/executions/stats"].(map[string]any)
	if got, want := st.num("total"), old["total"].(float64)+1; got != want {
		t.Fatalf("after restart total = %v, want %v", got, want)
	}
}

// subsetDiff lists where got lacks or changed something want has. Keys in
// volatile ("name" or "name@pathfragment") are skipped.
func subsetDiff(path string, want, got any, volatile []string) []string {
	var out []string
	var walk func(at string, w, g any)
	walk = func(at string, w, g any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				out = append(out, fmt.Sprintf("%s %s: was an object, now %T", path, at, g))
				return
			}
			for k, v := range wv {
				if isVolatile(k, path+at, volatile) {
					continue
				}
				sub, present := gv[k]
				if !present {
					out = append(out, fmt.Sprintf("%s %s.%s: missing (was %v)", path, at, k, v))
					continue
				}
				walk(at+"."+k, v, sub)
			}
		case []any:
			gv, ok := g.([]any)
			if byID := indexByID(gv); ok && byID != nil && indexByID(wv) != nil {
				for i, item := range wv {
					id := item.(map[string]any)["id"].(string)
					match, found := byID[id]
					if !found {
						out = append(out, fmt.Sprintf("%s %s[%d]: id %s missing", path, at, i, id))
						continue
					}
					walk(fmt.Sprintf("%s[id=%s]", at, id), item, match)
				}
				return
			}
			if !ok || len(gv) != len(wv) {
				out = append(out, fmt.Sprintf("%s %s: was %d items, now %v", path, at, len(wv), g))
				return
			}
			for i := range wv {
				walk(fmt.Sprintf("%s[%d]", at, i), wv[i], gv[i])
			}
		default:
			if !reflect.DeepEqual(w, g) {
				out = append(out, fmt.Sprintf("%s %s: was %v, now %v", path, at, w, g))
			}
		}
	}
	walk("", want, got)
	return out
}

func isVolatile(key, where string, volatile []string) bool {
	for _, v := range volatile {
		name, frag, scoped := strings.Cut(v, "@")
		if name == key && (!scoped || strings.Contains(where, frag)) {
			return true
		}
	}
	return false
}

// indexByID maps a list of objects that all carry a string "id" (nil for
// any other list).
func indexByID(items []any) map[string]any {
	if len(items) == 0 {
		return nil
	}
	out := make(map[string]any, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil
		}
		id, ok := m["id"].(string)
		if !ok {
			return nil
		}
		out[id] = m
	}
	return out
}
