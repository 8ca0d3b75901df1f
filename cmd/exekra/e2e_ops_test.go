package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// End-to-end tests of the operations surface: the OpenAPI document,
// /metrics, the hot backup and its restore into a new server.

// scrape fetches /metrics and returns its samples by series.
func (h *harness) scrape() map[string]float64 {
	h.t.Helper()
	r := h.request(anon, "GET", "/metrics", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		h.t.Fatalf("GET /metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	line := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$`)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(r.body)))
	for sc.Scan() {
		text := sc.Text()
		if strings.HasPrefix(text, "# HELP ") || strings.HasPrefix(text, "# TYPE ") {
			continue
		}
		m := line.FindStringSubmatch(text)
		if m == nil {
			h.t.Fatalf("/metrics: not an exposition line: %q", text)
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			h.t.Fatalf("/metrics: bad value in %q", text)
		}
		out[m[1]] = v
	}
	return out
}

// downloadBackup fetches GET /api/system/backup as c into a file.
func (h *harness) downloadBackup(c *client) (path string, resp *http.Response) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.base+"/api/system/backup", nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	path = filepath.Join(h.t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
	return path, resp
}

// restoreAndStart restores a backup into a new data dir with the real
// command and starts a second server on it (same license key).
func (h *harness) restoreAndStart(backup string) *harness {
	h.t.Helper()
	dir := filepath.Join(h.t.TempDir(), "restored")
	if code, stdout, stderr := runCmd("restore", "--from", backup, "--data-dir", dir); code != 0 {
		h.t.Fatalf("exekra restore: %d %s %s", code, stdout, stderr)
	}
	cfg := h.cfg
	cfg.DataDir, cfg.Addr = dir, "127.0.0.1:0"
	h2 := &harness{t: h.t, cfg: cfg, keyDir: h.keyDir, priv: h.priv, clock: h.clock, http: h.http, logs: &syncBuffer{}}
	h2.start()
	h.t.Cleanup(h2.stop)
	return h2
}

func TestE2EOpsSurfaceBeforeReady(t *testing.T) {
	h := newUnactivatedHarness(t)
	r := h.expect(anon, "GET", "/api/openapi.json", nil, 200)
	if r.header.Get("Content-Type") != "application/json" || r.json["openapi"] == nil || r.json["paths"] == nil {
		t.Fatalf("openapi: %s %.100s", r.header.Get("Content-Type"), r.body)
	}
	m := h.scrape()
	if m[`exekra_system_state{state="UNACTIVATED"}`] != 1 {
		t.Fatalf("system state metric: %v", m[`exekra_system_state{state="UNACTIVATED"}`])
	}
	h.expectError(anon, "GET", "/api/system/backup", nil, 503, "SYSTEM_NOT_READY")
}

func TestE2EMetricsReflectTraffic(t *testing.T) {
	h := newHarness(t, withRateLimit(3))
	h.userWithRole("OPERATOR")
	for i := 0; i < 6; i++ { // /metrics is never rate limited
		r := h.request(anon, "GET", "/metrics", nil)
		if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("scrape %d: %d, rate limit header %q", i, r.status, r.header.Get("X-RateLimit-Limit"))
		}
	}
	m := h.scrape()
	for series, min := range map[string]float64{
		`exekra_http_requests_total{method="POST",route="/api/auth/register",status="201"}`: 1,
		`exekra_http_requests_total{method="GET",route="/metrics",status="200"}`:            6,
		`exekra_http_request_duration_seconds_count{method="POST",route="/api/auth/login"}`: 1,
		`exekra_storage_commits_total`:              3,
		`exekra_storage_batch_size_count`:           3,
		`exekra_system_state{state="BOOTSTRAPPED"}`: 1,
	} {
		if m[series] < min {
			t.Errorf("%s = %v, want ≥ %v", series, m[series], min)
		}
	}
	for _, series := range []string{`exekra_runners{status="ONLINE"}`, `exekra_queue_depth{priority="HIGH"}`,
		`exekra_long_polls_waiting`, `exekra_execution_actors`, `exekra_actor_restarts_total`,
		`exekra_executions{status="QUEUED"}`, `exekra_storage_commit_duration_seconds_bucket{le="+Inf"}`} {
		if _, ok := m[series]; !ok {
			t.Errorf("%s is missing", series)
		}
	}
}

func TestE2EHotBackupRestoresIntoANewServer(t *testing.T) {
	h := newHarness(t)
	op := h.userWithRole("OPERATOR")
	dev := h.userWithRole("DEVELOPER")
	h.expectError(anon, "GET", "/api/system/backup", nil, 401, "UNAUTHORIZED")
	h.expectError(op, "GET", "/api/system/backup", nil, 403, "FORBIDDEN")
	wf := h.publishedWorkflow(h.admin, "backed-up")
	rn := h.rnOnline("backed-up-runner", "UNATTENDED")
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	finished := h.runToCompletion(rn, "COMPLETED")
	queued := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "priority": "HIGH"}, 201).str("execution.id")

	_, audit := h.do(h.admin, "GET", "/api/audit?limit=200", nil)
	wantAudit := len(audit["entries"].([]any))
	path, resp := h.downloadBackup(h.admin)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("backup: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cd := resp.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="exekra-\d{8}T\d{6}Z\.db"$`).MatchString(cd) {
		t.Fatalf("Content-Disposition %q", cd)
	}
	// The download is audited (before the copy starts, so the copy has it too).
	admin := h.admin
	hasBackupAudit := func(h *harness) bool {
		_, audit := h.do(admin, "GET", "/api/audit?limit=200", nil)
		for _, e := range audit["entries"].([]any) {
			e := e.(map[string]any)
			if e["action"] == "system.backup.downloaded" && e["actorId"] == admin.user["id"] {
				return true
			}
		}
		return false
	}
	if !hasBackupAudit(h) {
		t.Fatal("the backup download is not in the audit log")
	}

	h2 := h.restoreAndStart(path)
	// Sessions survive (the JWT key lives in the database).
	st, users := h2.do(h.admin, "GET", "/api/users", nil)
	if st != 200 {
		t.Fatalf("admin token on the restored server: %d", st)
	}
	emails := map[string]bool{}
	for _, u := range users["users"].([]any) {
		emails[u.(map[string]any)["email"].(string)] = true
	}
	for _, c := range []*client{h.admin, op, dev} {
		if !emails[c.user["email"].(string)] {
			t.Errorf("user %s missing after restore", c.user["email"])
		}
	}
	if !hasBackupAudit(h2) {
		t.Error("the restored audit log lacks the backup's own entry")
	}
	_, audit2 := h2.do(h.admin, "GET", "/api/audit?limit=200", nil)
	if got := len(audit2["entries"].([]any)); got < wantAudit {
		t.Errorf("audit entries after restore: %d, want ≥ %d", got, wantAudit)
	}
	h2.login(dev.user["email"].(string), "password-123")
	// Executions (with logs) and the queue come back; the runner's token
	// still works and it gets the queued execution.
	if r := h2.expect(h.admin, "GET", "/api/executions/"+finished, nil, 200); r.str("execution.status") != "COMPLETED" || !strings.Contains(r.str("execution.logs"), "end") {
		t.Fatalf("finished execution after restore: %s", r.body)
	}
	h2.expect(rn.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	if got := h2.runToCompletion(rn, "COMPLETED"); got != queued {
		t.Fatalf("the restored queue handed out %s, want %s", got, queued)
	}
}

func TestE2EHotBackupDuringWrites(t *testing.T) {
	h := newHarness(t)
	var (
		mu    sync.Mutex
		acked = map[string]time.Time{} // email → acknowledged at
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() { // a bounded writer: users through the API until stopped
		defer close(done)
		for i := 0; i < 300; i++ {
			select {
			case <-stop:
				return
			default:
			}
			email := fmt.Sprintf("writer-%d@example.com", i)
			r := h.request(h.admin, "POST", "/api/auth/register", map[string]any{"email": email, "password": "password-123", "name": "W"})
			if r.status != 201 {
				t.Errorf("register during backup: %d %s", r.status, r.body)
				return
			}
			mu.Lock()
			acked[email] = time.Now()
			mu.Unlock()
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) { // let some writes land first
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	before := make([]string, 0, len(acked))
	for e := range acked {
		before = append(before, e)
	}
	mu.Unlock()
	path, resp := h.downloadBackup(h.admin)
	close(stop)
	<-done
	if resp.StatusCode != 200 || len(before) == 0 {
		t.Fatalf("backup: %d with %d users acknowledged before it", resp.StatusCode, len(before))
	}
	h2 := h.restoreAndStart(path)
	_, users := h2.do(h.admin, "GET", "/api/users?limit=200", nil)
	have := map[string]bool{}
	for _, u := range users["users"].([]any) {
		have[u.(map[string]any)["email"].(string)] = true
	}
	for _, e := range before {
		if !have[e] {
			t.Errorf("user %s acknowledged before the backup is missing from it", e)
		}
	}
	t.Logf("%d users acknowledged before the backup, %d in it", len(before), len(have))
}

// runToCompletion makes the runner take the head of the queue and finish it.
func (h *harness) runToCompletion(rn *rnRunner, status string) string {
	h.t.Helper()
	p := h.expect(rn.c, "POST", "/api/runners/poll", nil, 200)
	id := p.str("execution.id")
	// Seen once under load: a poll right after a 201 (or right after the
	// runner's previous terminal report) found no work. Retry briefly and
	// say so, so the flake is visible in -v output.
	for i := 0; id == "" && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
		p = h.expect(rn.c, "POST", "/api/runners/poll", nil, 200)
		if id = p.str("execution.id"); id != "" {
			h.t.Logf("poll found the queued work only after %d retries", i+1)
		}
	}
	if id == "" {
		h.t.Fatalf("poll gave no work: %s", p.body)
	}
	h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING", "logs": "start\n"}, 200)
	h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": status, "logs": "end\n",
		"metrics": map[string]any{"cpuAvg": 10, "cpuPeak": 15, "memAvgMB": 100, "memPeakMB": 120}}, 200)
	return id
}

func TestE2ERetentionRemovesOldFinishedExecutions(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "retained")
	rn := h.rnOnline("retention-runner", "UNATTENDED")
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	done := h.runToCompletion(rn, "COMPLETED")
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	failed := h.runToCompletion(rn, "FAILED")
	perf := h.expect(h.admin, "GET", "/api/analytics/process-performance", nil, 200)

	// Two days on, a server with --retention-days 1 removes both at start.
	h.clock.Advance(49 * time.Hour)
	h.cfg.RetentionDays = 1
	h.restart()
	deadline := time.Now().Add(10 * time.Second)
	for h.request(h.admin, "GET", "/api/executions/"+failed, nil).status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("retention did not remove the old FAILED execution at start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.expectError(h.admin, "GET", "/api/executions/"+done, nil, 404, "NOT_FOUND")
	// The job counts its run once its last batch is durable, a moment
	// after the deletions are visible: wait (bounded) for the count.
	m := h.scrape()
	for deadline := time.Now().Add(5 * time.Second); m["exekra_retention_runs_total"] < 1 && time.Now().Before(deadline); m = h.scrape() {
		time.Sleep(10 * time.Millisecond)
	}
	if m["exekra_retention_removed_total"] != 2 || m["exekra_retention_runs_total"] < 1 {
		t.Errorf("retention metrics: removed %v, runs %v", m["exekra_retention_removed_total"], m["exekra_retention_runs_total"])
	}
	if st := h.expect(h.admin, "GET", "/api/executions/stats", nil, 200); st.num("total") != 0 || st.num("completed") != 0 {
		t.Fatalf("stats after retention: %s", st.body)
	}
	after := h.expect(h.admin, "GET", "/api/analytics/process-performance", nil, 200)
	if string(after.body) != string(perf.body) {
		t.Fatalf("analytics changed:\nbefore %s\nafter  %s", perf.body, after.body)
	}

	// A recent execution survives a server with retention on.
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	rn2 := h.rnOnline("retention-runner-2", "UNATTENDED")
	recent := h.runToCompletion(rn2, "COMPLETED")
	h.restart()
	h.expect(h.admin, "GET", "/api/executions/"+recent, nil, 200)
}

func TestE2EMetricsFollowExecutionsAndRunners(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "metered")
	rn := h.rnOnline("metered-runner", "UNATTENDED")
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	h.runToCompletion(rn, "COMPLETED")
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "priority": "HIGH"}, 201)
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "priority": "LOW"}, 201)
	want := map[string]float64{
		`exekra_executions{status="COMPLETED"}`:                                                         1,
		`exekra_executions{status="QUEUED"}`:                                                            2,
		`exekra_queue_depth{priority="HIGH"}`:                                                           1,
		`exekra_queue_depth{priority="LOW"}`:                                                            1,
		`exekra_runners{status="ONLINE"}`:                                                               1,
		`exekra_system_state{state="OPERATIONAL"}`:                                                      1,
		`exekra_http_requests_total{method="POST",route="/api/executions/{id}/status",status="200"}`:    2,
		`exekra_http_request_duration_seconds_count{method="POST",route="/api/executions/{id}/status"}`: 2,
	}
	// Gauges follow the owning actors, a moment after the 2xx: wait a little.
	var wrong []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m := h.scrape()
		wrong = wrong[:0]
		for series, v := range want {
			if m[series] != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v, want %v", series, m[series], v))
			}
		}
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range wrong {
		t.Error(w)
	}
}

// TestE2ECompactAfterRetention: executions with big logs fill the file,
// retention removes them, the file does not shrink by itself, and
// `exekra compact` on the stopped server gives the space back.
func TestE2ECompactAfterRetention(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "bulky")
	rn := h.rnOnline("bulky-runner", "UNATTENDED")
	chunk := strings.Repeat("x", 900<<10)
	for i := 0; i < 8; i++ {
		h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
		var id string
		for deadline := time.Now().Add(5 * time.Second); id == "" && time.Now().Before(deadline); {
			id = h.expect(rn.c, "POST", "/api/runners/poll", nil, 200).str("execution.id")
		}
		h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING", "logs": chunk}, 200)
		h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "COMPLETED"}, 200)
	}
	db := filepath.Join(h.cfg.DataDir, "exekra.db")
	size := func() int64 {
		fi, err := os.Stat(db)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	h.clock.Advance(49 * time.Hour)
	h.cfg.RetentionDays = 1
	h.restart()
	for deadline := time.Now().Add(10 * time.Second); h.expect(h.admin, "GET", "/api/executions/stats", nil, 200).num("total") != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("retention did not run")
		}
	}
	h.stop()
	before := size()
	code, stdout, stderr := runCmd("compact", "--data-dir", h.cfg.DataDir)
	if code != 0 {
		t.Fatalf("compact: %d %s %s", code, stdout, stderr)
	}
	after := size()
	t.Logf("after retention: %d bytes; compacted: %d bytes (%s)", before, after, strings.TrimSpace(stdout))
	if after*4 > before {
		t.Fatalf("compact did not shrink the file enough: %d → %d", before, after)
	}
	h.start()
	h.expect(h.admin, "GET", "/api/workflows/"+wf, nil, 200)
}
