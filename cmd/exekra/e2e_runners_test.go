package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// End-to-end tests of runners: credentials, liveness, polling and the
// runner side of the execution protocol (docs/api.md and the OpenAPI document).

// rnRunner is a registered runner as a test sees it.
type rnRunner struct {
	id, name, key, secret string
	c                     *client // holds the runner token after rnAuth
}

// rnRegister registers a runner as the admin.
func (h *harness) rnRegister(name, typ string) *rnRunner {
	h.t.Helper()
	body := map[string]any{"name": name}
	if typ != "" {
		body["type"] = typ
	}
	r := h.expect(h.admin, "POST", "/api/runners/register", body, 201)
	rr := &rnRunner{id: r.str("id"), name: r.str("name"), key: r.str("machineKey"), secret: r.str("machineSecret")}
	if rr.id == "" || !strings.HasPrefix(rr.key, "FC-") || len(rr.key) != 35 || len(rr.secret) != 64 {
		h.t.Fatalf("register: %s", r.body)
	}
	return rr
}

// rnAuth authenticates a runner and keeps its token.
func (h *harness) rnAuth(rr *rnRunner) *rnRunner {
	h.t.Helper()
	r := h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rr.key, "machineSecret": rr.secret}, 200)
	if r.str("token") == "" || r.str("expiresAt") == "" || r.str("runner.id") != rr.id {
		h.t.Fatalf("authenticate: %s", r.body)
	}
	rr.c = &client{token: r.str("token")}
	return rr
}

// rnOnline registers, authenticates and heartbeats a runner.
func (h *harness) rnOnline(name, typ string) *rnRunner {
	h.t.Helper()
	rr := h.rnAuth(h.rnRegister(name, typ))
	h.expect(rr.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	return rr
}

// rnQueue creates a QUEUED execution of a workflow and returns its id.
func (h *harness) rnQueue(wf string) string {
	h.t.Helper()
	r := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	return r.str("execution.id")
}

// rnEventually retries check for up to 10 s.
func (h *harness) rnEventually(what string, check func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPollsParked waits (bounded) until n runner long polls are parked
// waiting for work (exekra_long_polls_waiting).
func (h *harness) waitPollsParked(n int) {
	h.t.Helper()
	h.rnEventually(fmt.Sprintf("%d parked long polls", n), func() bool { return h.scrape()["exekra_long_polls_waiting"] == float64(n) })
}

func stopIDs(r *response) []any {
	v, ok := r.json["stopExecutionIds"].([]any)
	if !ok {
		return nil
	}
	return v
}

func TestE2ERunnerProtocol(t *testing.T) {
	h := newHarness(t)
	op := h.userWithRole("OPERATOR")

	// register: validation, roles, unique names, OPERATIONAL.
	h.expectError(op, "POST", "/api/runners/register", map[string]any{"name": "x"}, 403, "FORBIDDEN")
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "x", "type": "BOGUS"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "  "}, 400, "VALIDATION_ERROR")
	rr := h.rnRegister("bot-1", "")
	if s := h.expect(anon, "GET", "/api/status", nil, 200).str("state"); s != "OPERATIONAL" {
		t.Fatalf("state %s", s)
	}
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bot-1"}, 409, "CONFLICT")

	// authenticate
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rr.key, "machineSecret": strings.Repeat("0", 64)}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": "FC-nope", "machineSecret": rr.secret}, 401, "UNAUTHORIZED")
	h.rnAuth(rr)
	// tokens do not cross over
	h.expectError(h.admin, "GET", "/api/runners/poll", nil, 401, "UNAUTHORIZED")
	h.expectError(rr.c, "GET", "/api/runners", nil, 401, "UNAUTHORIZED")

	// never beat: OFFLINE; reads never show a secret
	g := h.expect(op, "GET", "/api/runners/"+rr.id, nil, 200)
	if g.str("runner.status") != "OFFLINE" || strings.Contains(string(g.body), rr.secret) || strings.Contains(string(g.body), "secret") {
		t.Fatalf("get: %s", g.body)
	}
	for _, none := range []string{"ipAddress", "lastHeartbeatAt", "metrics"} {
		if v, ok := g.json["runner"].(map[string]any)[none]; !ok || v != nil {
			t.Fatalf("%s before the first heartbeat: %v (want null)", none, v)
		}
	}
	if _, ok := g.json["runner"].(map[string]any)["currentExecutionId"]; !ok {
		t.Fatalf("no currentExecutionId: %s", g.body)
	}
	p := h.expect(rr.c, "GET", "/api/runners/poll", nil, 200)
	if p.json["hasWork"] != false || stopIDs(p) == nil {
		t.Fatalf("offline poll: %s", p.body)
	}

	// heartbeat: token, or credentials in the body
	hb := h.expect(rr.c, "POST", "/api/runners/heartbeat", map[string]any{"ipAddress": "10.9.8.7", "metrics": map[string]any{"cpu": 3.5}}, 200)
	if hb.str("status") != "ONLINE" || hb.num("ttlSeconds") != 120 || stopIDs(hb) == nil {
		t.Fatalf("heartbeat: %s", hb.body)
	}
	h.expect(anon, "POST", "/api/runners/heartbeat", map[string]any{"machineKey": rr.key, "machineSecret": rr.secret, "ipAddress": "10.9.8.7"}, 200)
	h.expectError(anon, "POST", "/api/runners/heartbeat", map[string]any{"machineKey": rr.key, "machineSecret": "wrong"}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/heartbeat", map[string]any{}, 401, "UNAUTHORIZED")
	h.expectError(rr.c, "POST", "/api/runners/heartbeat", map[string]any{"metrics": "no"}, 400, "VALIDATION_ERROR")
	// The metrics the API reference names are numbers; wrong types change nothing.
	for _, bad := range []map[string]any{{"cpu": "high"}, {"memTotalMB": -1}, {"memUsedMB": true}, {"memUsage": map[string]any{}}} {
		h.expectError(rr.c, "POST", "/api/runners/heartbeat", map[string]any{"metrics": bad}, 400, "VALIDATION_ERROR")
	}
	if got := h.expect(h.admin, "GET", "/api/runners/"+rr.id, nil, 200); dig(got.json, "runner.metrics.cpu") != 3.5 {
		t.Fatalf("a refused heartbeat changed the metrics: %s", got.body)
	}
	g = h.expect(op, "GET", "/api/runners/"+rr.id, nil, 200)
	if g.str("runner.status") != "ONLINE" || g.str("runner.ipAddress") != "10.9.8.7" || g.num("runner.metrics.cpu") != 3.5 || g.str("runner.lastHeartbeatAt") == "" {
		t.Fatalf("after heartbeat: %s", g.body)
	}

	// lists and filters
	l := h.expect(op, "GET", "/api/runners?status=ONLINE&type=UNATTENDED", nil, 200)
	if l.num("pagination.total") != 1 {
		t.Fatalf("list: %s", l.body)
	}
	l = h.expect(op, "GET", "/api/runners?status=OFFLINE", nil, 200)
	if l.num("pagination.total") != 0 {
		t.Fatalf("list offline: %s", l.body)
	}
	h.expectError(op, "GET", "/api/runners?status=SLEEPING", nil, 400, "VALIDATION_ERROR")
	h.expectError(op, "GET", "/api/runners?type=ROBOT", nil, 400, "VALIDATION_ERROR")
	h.expectError(op, "GET", "/api/runners/nope", nil, 404, "NOT_FOUND")

	// poll arguments
	h.expectError(rr.c, "GET", "/api/runners/poll?wait=61", nil, 400, "VALIDATION_ERROR")
	h.expectError(rr.c, "GET", "/api/runners/poll?wait=abc", nil, 400, "VALIDATION_ERROR")
	p = h.expect(rr.c, "GET", "/api/runners/poll", nil, 200)
	if p.json["hasWork"] != false || len(stopIDs(p)) != 0 {
		t.Fatalf("idle poll: %s", p.body)
	}

	// processes
	wf := h.publishedWorkflow(h.admin, "rn-flow")
	pr := h.expect(rr.c, "GET", "/api/runners/processes", nil, 200)
	procs, _ := pr.json["processes"].([]any)
	if len(procs) != 1 || procs[0].(map[string]any)["workflowId"] != wf || procs[0].(map[string]any)["versionNumber"] != 1.0 {
		t.Fatalf("processes: %s", pr.body)
	}
	h.expectError(h.admin, "GET", "/api/runners/processes", nil, 401, "UNAUTHORIZED")

	// work: poll → ASSIGNED, BUSY; a repeated poll gets the same one
	ex := h.rnQueue(wf)
	p = h.expect(rr.c, "POST", "/api/runners/poll", nil, 200)
	if p.json["hasWork"] != true || p.str("execution.id") != ex || p.str("execution.workflowName") != "rn-flow" ||
		!strings.Contains(p.str("execution.graphJson"), `"nodes"`) || p.str("execution.workflowId") != wf || p.str("execution.versionId") == "" {
		t.Fatalf("poll with work: %s", p.body)
	}
	g = h.expect(op, "GET", "/api/runners/"+rr.id, nil, 200)
	if g.str("runner.status") != "BUSY" || g.str("runner.currentExecutionId") != ex {
		t.Fatalf("busy: %s", g.body)
	}
	if s := h.expect(op, "GET", "/api/executions/"+ex, nil, 200).str("execution.status"); s != "ASSIGNED" {
		t.Fatalf("execution %s", s)
	}
	if p = h.expect(rr.c, "GET", "/api/runners/poll", nil, 200); p.str("execution.id") != ex {
		t.Fatalf("repeated poll: %s", p.body)
	}
	hb = h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200)
	if hb.str("status") != "BUSY" {
		t.Fatalf("busy heartbeat: %s", hb.body)
	}

	// RUNNING, then a stop request reaches the runner through heartbeat and poll
	h.expect(rr.c, "POST", "/api/executions/"+ex+"/status", map[string]any{"status": "RUNNING"}, 200)
	if p = h.expect(rr.c, "GET", "/api/runners/poll", nil, 200); p.json["hasWork"] != false {
		t.Fatalf("poll while running: %s", p.body)
	}
	h.expect(op, "POST", "/api/executions/"+ex+"/stop", nil, 200)
	h.rnEventually("stop id in heartbeat", func() bool {
		ids := stopIDs(h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200))
		return len(ids) == 1 && ids[0] == ex
	})
	if ids := stopIDs(h.expect(rr.c, "GET", "/api/runners/poll", nil, 200)); len(ids) != 1 || ids[0] != ex {
		t.Fatalf("stop id in poll: %v", ids)
	}
	h.expect(rr.c, "POST", "/api/executions/"+ex+"/status", map[string]any{"status": "STOPPED"}, 200)
	h.rnEventually("runner released", func() bool {
		g := h.expect(op, "GET", "/api/runners/"+rr.id, nil, 200)
		return g.str("runner.status") == "ONLINE" && dig(g.json, "runner.currentExecutionId") == nil
	})
	if ids := stopIDs(h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200)); len(ids) != 0 {
		t.Fatalf("stop ids after release: %v", ids)
	}

	// a long poll is answered when work arrives
	done := make(chan *response, 1)
	go func() {
		done <- h.request(rr.c, "GET", "/api/runners/poll?wait=20", nil)
	}()
	h.waitPollsParked(1)
	ex2 := h.rnQueue(wf)
	select {
	case p = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("long poll not answered")
	}
	if p.status != 200 || p.str("execution.id") != ex2 {
		t.Fatalf("long poll: %d %s", p.status, p.body)
	}

	// RUNNING → COMPLETED with metrics
	h.expect(rr.c, "POST", "/api/executions/"+ex2+"/status", map[string]any{"status": "RUNNING", "logs": "step 1\n"}, 200)
	h.expect(rr.c, "POST", "/api/executions/"+ex2+"/status", map[string]any{"status": "COMPLETED", "logs": "done\n",
		"metrics": map[string]any{"cpuAvg": 12.5, "cpuPeak": 40, "memAvgMB": 100, "memPeakMB": 150}}, 200)
	e := h.expect(op, "GET", "/api/executions/"+ex2, nil, 200)
	if e.str("execution.status") != "COMPLETED" || e.num("execution.metrics.cpuPeak") != 40 || e.str("execution.runnerId") != rr.id {
		t.Fatalf("completed: %s", e.body)
	}
	h.rnEventually("runner online after completion", func() bool {
		return h.expect(op, "GET", "/api/runners/"+rr.id, nil, 200).str("runner.status") == "ONLINE"
	})

	// a short poll while nothing is queued comes back empty at once
	start := time.Now()
	p = h.expect(rr.c, "GET", "/api/runners/poll?wait=1", nil, 200)
	if p.json["hasWork"] != false || time.Since(start) > 5*time.Second {
		t.Fatalf("empty long poll: %s after %v", p.body, time.Since(start))
	}
}

func TestE2ERunnerCredentialsDie(t *testing.T) {
	h := newHarness(t)
	rr := h.rnAuth(h.rnRegister("cred-bot", "UNATTENDED"))
	oldToken, oldSecret := rr.c.token, rr.secret
	h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200)

	op := h.userWithRole("OPERATOR")
	h.expectError(op, "POST", "/api/runners/"+rr.id+"/regenerate-secret", nil, 403, "FORBIDDEN")
	r := h.expect(h.admin, "POST", "/api/runners/"+rr.id+"/regenerate-secret", nil, 200)
	if r.str("id") != rr.id || r.str("machineKey") != rr.key || len(r.str("machineSecret")) != 64 || r.str("machineSecret") == oldSecret || r.str("name") != "cred-bot" || r.str("type") != "UNATTENDED" {
		t.Fatalf("regenerate: %s", r.body)
	}
	rr.secret = r.str("machineSecret")
	h.expectError(rr.c, "POST", "/api/runners/heartbeat", nil, 401, "UNAUTHORIZED")
	h.expectError(rr.c, "GET", "/api/runners/poll", nil, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rr.key, "machineSecret": oldSecret}, 401, "UNAUTHORIZED")
	h.rnAuth(rr)
	h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200)

	h.restart()
	h.expectError(&client{token: oldToken}, "POST", "/api/runners/heartbeat", nil, 401, "UNAUTHORIZED")
	h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200)

	// delete with an ASSIGNED execution: it is re-queued
	wf := h.publishedWorkflow(h.admin, "cred-flow")
	ex := h.rnQueue(wf)
	if p := h.expect(rr.c, "GET", "/api/runners/poll", nil, 200); p.str("execution.id") != ex {
		t.Fatalf("poll: %s", p.body)
	}
	h.expectError(op, "DELETE", "/api/runners/"+rr.id, nil, 403, "FORBIDDEN")
	d := h.expect(h.admin, "DELETE", "/api/runners/"+rr.id, nil, 200)
	if d.json["success"] != true {
		t.Fatalf("delete: %s", d.body)
	}
	h.expectError(rr.c, "POST", "/api/runners/heartbeat", nil, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rr.key, "machineSecret": rr.secret}, 401, "UNAUTHORIZED")
	h.expectError(h.admin, "GET", "/api/runners/"+rr.id, nil, 404, "NOT_FOUND")
	h.expectError(h.admin, "DELETE", "/api/runners/"+rr.id, nil, 404, "NOT_FOUND")
	h.rnEventually("execution re-queued", func() bool {
		return h.expect(h.admin, "GET", "/api/executions/"+ex, nil, 200).str("execution.status") == "QUEUED"
	})
	// the name is free again; deleting a runner with a RUNNING execution fails it
	again := h.rnAuth(h.rnRegister("cred-bot", ""))
	h.expect(again.c, "POST", "/api/runners/heartbeat", nil, 200)
	if p := h.expect(again.c, "GET", "/api/runners/poll?wait=10", nil, 200); p.str("execution.id") != ex {
		t.Fatalf("poll of the re-queued execution: %s", p.body)
	}
	h.expect(again.c, "POST", "/api/executions/"+ex+"/status", map[string]any{"status": "RUNNING"}, 200)
	h.expect(h.admin, "DELETE", "/api/runners/"+again.id, nil, 200)
	h.rnEventually("running execution failed", func() bool {
		e := h.expect(h.admin, "GET", "/api/executions/"+ex, nil, 200)
		return e.str("execution.status") == "FAILED" && strings.Contains(e.str("execution.error"), "deleted")
	})
	// the audit log has the runner changes
	a := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	for _, action := range []string{"runner.registered", "runner.deleted", "runner.secret.regenerated"} {
		if !strings.Contains(string(a.body), action) {
			t.Errorf("audit lacks %s", action)
		}
	}
	h.restart()
	h.expectError(rr.c, "POST", "/api/runners/heartbeat", nil, 401, "UNAUTHORIZED")
	h.expectError(h.admin, "GET", "/api/runners/"+rr.id, nil, 404, "NOT_FOUND")
}

func TestE2ERunnerStaleRules(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.RunnerTTL, c.OfflineGrace, c.StaleCheckInterval = 30*time.Second, 30*time.Second, 50*time.Millisecond
	})
	wf := h.publishedWorkflow(h.admin, "stale-flow")
	a := h.rnOnline("stale-a", "")
	ex := h.rnQueue(wf)
	if p := h.expect(a.c, "GET", "/api/runners/poll", nil, 200); p.str("execution.id") != ex {
		t.Fatalf("poll: %s", p.body)
	}
	// silence past the TTL: OFFLINE; past the grace: re-queued (attempt 2)
	h.clock.Advance(31 * time.Second)
	h.rnEventually("runner offline", func() bool {
		return h.expect(h.admin, "GET", "/api/runners/"+a.id, nil, 200).str("runner.status") == "OFFLINE"
	})
	if s := h.expect(h.admin, "GET", "/api/executions/"+ex, nil, 200).str("execution.status"); s != "ASSIGNED" {
		t.Fatalf("before the grace: %s", s)
	}
	// Still its own until the grace ends: a poll (a lost answer, say) gets
	// the same assignment back even while OFFLINE.
	if p := h.expect(a.c, "GET", "/api/runners/poll", nil, 200); p.str("execution.id") != ex {
		t.Fatalf("poll while OFFLINE before the grace: %s", p.body)
	}
	h.clock.Advance(31 * time.Second)
	h.rnEventually("re-queued", func() bool {
		e := h.expect(h.admin, "GET", "/api/executions/"+ex, nil, 200)
		return e.str("execution.status") == "QUEUED" && e.num("execution.attempt") == 2
	})
	h.rnEventually("runner released", func() bool {
		return dig(h.expect(h.admin, "GET", "/api/runners/"+a.id, nil, 200).json, "runner.currentExecutionId") == nil
	})
	// an OFFLINE runner gets no work
	if p := h.expect(a.c, "GET", "/api/runners/poll", nil, 200); p.json["hasWork"] != false {
		t.Fatalf("offline poll: %s", p.body)
	}
	// another runner takes it and goes silent while RUNNING: FAILED
	b := h.rnOnline("stale-b", "")
	if p := h.expect(b.c, "GET", "/api/runners/poll?wait=10", nil, 200); p.str("execution.id") != ex {
		t.Fatalf("second poll: %s", p.body)
	}
	h.expect(b.c, "POST", "/api/executions/"+ex+"/status", map[string]any{"status": "RUNNING"}, 200)
	h.clock.Advance(31 * time.Second)
	h.rnEventually("runner b offline", func() bool {
		return h.expect(h.admin, "GET", "/api/runners/"+b.id, nil, 200).str("runner.status") == "OFFLINE"
	})
	h.clock.Advance(31 * time.Second)
	h.rnEventually("failed", func() bool {
		e := h.expect(h.admin, "GET", "/api/executions/"+ex, nil, 200)
		return e.str("execution.status") == "FAILED" && e.str("execution.error") != ""
	})
	// The runner hears of the failure a moment after it is stored (as in
	// the re-queue above): once released, a heartbeat brings it back
	// ONLINE with no work.
	h.rnEventually("runner b released", func() bool {
		return dig(h.expect(h.admin, "GET", "/api/runners/"+b.id, nil, 200).json, "runner.currentExecutionId") == nil
	})
	hb := h.expect(b.c, "POST", "/api/runners/heartbeat", nil, 200)
	if hb.str("status") != "ONLINE" {
		t.Fatalf("back online: %s", hb.body)
	}
	// restart after the TTL passed while down: OFFLINE
	h.stop()
	h.clock.Advance(31 * time.Second)
	h.start()
	if s := h.expect(h.admin, "GET", "/api/runners/"+b.id, nil, 200).str("runner.status"); s != "OFFLINE" {
		t.Fatalf("after restart: %s", s)
	}
}

func TestE2ERunnersRaceForTheQueue(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "race-flow")
	const runners, execs = 12, 60
	rs := make([]*rnRunner, runners)
	for i := range rs {
		rs[i] = h.rnOnline(fmt.Sprintf("race-%d", i), "")
	}
	want := map[string]bool{}
	for i := 0; i < execs; i++ {
		want[h.rnQueue(wf)] = true
	}
	var mu sync.Mutex
	got := map[string]string{} // execution → runner
	dups := []string{}
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for _, rr := range rs {
		wg.Add(1)
		go func(rr *rnRunner) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				finished := len(got) == execs
				mu.Unlock()
				if finished {
					return
				}
				p := h.request(rr.c, "GET", "/api/runners/poll?wait=1", nil)
				if p.status != 200 {
					t.Errorf("poll: %d %s", p.status, p.body)
					return
				}
				id := p.str("execution.id")
				if id == "" {
					continue
				}
				mu.Lock()
				if prev, ok := got[id]; ok && prev != rr.id {
					dups = append(dups, id)
				}
				got[id] = rr.id
				mu.Unlock()
				if r := h.request(rr.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, nil...); r.status != 200 {
					t.Errorf("running %s: %d %s", id, r.status, r.body)
					return
				}
				if r := h.request(rr.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "COMPLETED"}, nil...); r.status != 200 {
					t.Errorf("completed %s: %d %s", id, r.status, r.body)
					return
				}
			}
		}(rr)
	}
	wg.Wait()
	if len(dups) > 0 {
		t.Fatalf("executions assigned to two runners: %v", dups)
	}
	if len(got) != execs {
		t.Fatalf("%d of %d executions assigned", len(got), execs)
	}
	for id := range want {
		if got[id] == "" {
			t.Fatalf("execution %s never assigned", id)
		}
	}
	st := h.expect(h.admin, "GET", "/api/executions/stats", nil, 200)
	if st.num("completed") != execs {
		t.Fatalf("stats: %s", st.body)
	}
}

func TestE2EAttendedRunner(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "attended-flow")
	at := h.rnOnline("desk-1", "ATTENDED")
	un := h.rnOnline("farm-1", "UNATTENDED")
	h.expectError(un.c, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}, 403, "FORBIDDEN")
	h.expectError(at.c, "POST", "/api/runners/executions", map[string]any{}, 400, "VALIDATION_ERROR")
	h.expectError(at.c, "POST", "/api/runners/executions", map[string]any{"workflowId": "nope"}, 404, "NOT_FOUND")
	r := h.expect(at.c, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}, 201)
	ex := r.str("execution.id")
	if r.str("execution.status") != "RUNNING" || r.str("execution.runnerId") != at.id {
		t.Fatalf("attended start: %s", r.body)
	}
	// One at a time: a second start right away is refused until the first
	// is reported finished (else the first would be left RUNNING, out of
	// the runner's sight, by the stale rules and by a delete).
	h.expectError(at.c, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}, 409, "CONFLICT")
	h.rnEventually("attended runner busy", func() bool {
		g := h.expect(h.admin, "GET", "/api/runners/"+at.id, nil, 200)
		return g.str("runner.status") == "BUSY" && g.str("runner.currentExecutionId") == ex
	})
	// attended runners never take queued work
	h.rnQueue(wf)
	if p := h.expect(at.c, "GET", "/api/runners/poll", nil, 200); p.json["hasWork"] != false {
		t.Fatalf("attended poll: %s", p.body)
	}
	h.expect(at.c, "POST", "/api/executions/"+ex+"/status", map[string]any{"status": "COMPLETED"}, 200)
	h.rnEventually("attended runner online", func() bool {
		return h.expect(h.admin, "GET", "/api/runners/"+at.id, nil, 200).str("runner.status") == "ONLINE"
	})
	// Finished: the next one starts; after a restart the running one still
	// holds the runner.
	next := h.expect(at.c, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}, 201).str("execution.id")
	h.restart()
	h.expect(at.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	h.expectError(at.c, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}, 409, "CONFLICT")
	h.expect(at.c, "POST", "/api/executions/"+next+"/status", map[string]any{"status": "FAILED", "error": "closed by the user"}, 200)
	h.rnEventually("attended runner free again", func() bool {
		return h.request(at.c, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}).status == 201
	})
}

func TestE2ERunnerEndpointsNotRateLimited(t *testing.T) {
	h := newHarness(t, withRateLimit(3))
	rr := h.rnOnline("limited-1", "")
	for i := 0; i < 20; i++ {
		h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200)
		h.expect(rr.c, "GET", "/api/runners/poll", nil, 200)
		h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rr.key, "machineSecret": rr.secret}, 200)
	}
}

// Benchmarks of the idle poll (issue 4.6; figures in docs/performance.md).
//
// BenchmarkIdlePollHTTP and BenchmarkConstantHTTP drive the real server and
// a bare fasthttp server with a constant handler over loopback TCP from the
// same client, so their ratio is the cost of the whole request chain
// (routing, token check, runner session, idle check) relative to the
// transport. BenchmarkIdlePollHandler calls the full handler in process to
// show its own cost and allocations.

// rnBench is a running server with one authenticated, idle runner.
type rnBench struct {
	m     *Main
	addr  string
	token string
}

func rnStartBench(b *testing.B) *rnBench {
	b.Helper()
	h := newHarness(b, func(c *Config) { c.LogLevel = "error" })
	reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bench"}, 201)
	token := h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{
		"machineKey": reg.str("machineKey"), "machineSecret": reg.str("machineSecret")}, 200).str("token")
	h.expect(&client{token: token}, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	return &rnBench{m: h.m, addr: h.m.Addr().String(), token: token}
}

// rnLoad sends GET path to addr from parallel clients until b.N requests
// are done, checking each answer's status.
func rnLoad(b *testing.B, addr, path, token string) {
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: 256}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + path)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for pb.Next() {
			if err := hc.Do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// rnBurst sends n GET path requests to addr from 16 goroutines and returns
// the time taken.
func rnBurst(b *testing.B, hc *fasthttp.HostClient, addr, path, token string, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + path)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			for next.Add(1) <= int64(n) {
				if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Errorf("%s: %v %d", addr, err, resp.StatusCode())
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkIdlePollRatio alternates bursts against the real server's idle
// poll and a constant fasthttp handler (ten slices each), so background
// load on the machine hits both alike, and reports both rates and their
// ratio (poll/constant).
func BenchmarkIdlePollRatio(b *testing.B) {
	s := rnStartBench(b)
	constAddr := rnConstServer(b)
	pollHC := &fasthttp.HostClient{Addr: s.addr, MaxConns: 256}
	constHC := &fasthttp.HostClient{Addr: constAddr, MaxConns: 256}
	rnBurst(b, pollHC, s.addr, "/api/runners/poll", s.token, 2000) // warm up
	rnBurst(b, constHC, constAddr, "/", "", 2000)
	b.ResetTimer()
	slice := b.N/10 + 1
	var pollT, constT time.Duration
	for i := 0; i < 10; i++ {
		pollT += rnBurst(b, pollHC, s.addr, "/api/runners/poll", s.token, slice)
		constT += rnBurst(b, constHC, constAddr, "/", "", slice)
	}
	n := float64(10 * slice)
	pollRate, constRate := n/pollT.Seconds(), n/constT.Seconds()
	b.ReportMetric(pollRate, "poll-req/s")
	b.ReportMetric(constRate, "const-req/s")
	b.ReportMetric(pollRate/constRate, "ratio")
}

func BenchmarkIdlePollHTTP(b *testing.B) {
	s := rnStartBench(b)
	rnLoad(b, s.addr, "/api/runners/poll", s.token)
}

func BenchmarkConstantHTTP(b *testing.B) {
	rnLoad(b, rnConstServer(b), "/api/runners/poll", "")
}

// rnConstServer starts the bare server with the idle poll's constant body.
func rnConstServer(b *testing.B) string {
	return constServer(b, `{"hasWork":false,"stopExecutionIds":[]}`+"\n")
}

// constServer starts a bare fasthttp server on 127.0.0.1 that answers every
// request with the constant JSON body (the baseline of the ratio
// benchmarks); it returns its address and stops with the benchmark.
func constServer(b *testing.B, constBody string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(constBody)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func BenchmarkIdlePollHandler(b *testing.B) {
	s := rnStartBench(b)
	handler := s.m.http.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		var req fasthttp.Request
		req.Header.SetMethod("GET")
		req.SetRequestURI("/api/runners/poll")
		req.Header.Set("Authorization", "Bearer "+s.token)
		remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
		for pb.Next() {
			ctx.Response.Reset()
			ctx.Init(&req, remote, nil)
			handler(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	})
}

func TestE2ERunnerLicenseAndGauges(t *testing.T) {
	h := newUnactivatedHarness(t)
	h.activate(h.issueLicense(licenseOpts{runners: 1}))
	h.admin = h.bootstrap(adminEmail, adminPassword)
	if s := h.expect(anon, "GET", "/api/status", nil, 200).str("state"); s != "BOOTSTRAPPED" {
		t.Fatalf("state %s", s)
	}
	rr := h.rnOnline("only-one", "")
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "two"}, 403, "LICENSE_LIMIT")
	if u := h.expect(h.admin, "GET", "/api/license/status", nil, 200).num("usage.runners"); u != 1 {
		t.Fatalf("usage.runners %v", u)
	}
	m := string(h.expect(anon, "GET", "/metrics", nil, 200).body)
	if !strings.Contains(m, `exekra_runners{status="ONLINE"} 1`) || !strings.Contains(m, `exekra_runners{status="OFFLINE"} 0`) {
		t.Fatalf("metrics lack the runner gauges:\n%s", m)
	}
	// Deleting frees the seat.
	h.expect(h.admin, "DELETE", "/api/runners/"+rr.id, nil, 200)
	rr = h.rnOnline("replacement", "")
	// Expired: no new runners, but the existing one keeps working.
	h.clock.Advance(31 * 24 * time.Hour)
	h.admin = h.login(adminEmail, adminPassword)                                    // the old session expired meanwhile
	h.expectError(rr.c, "POST", "/api/runners/heartbeat", nil, 401, "UNAUTHORIZED") // 24 h token expired
	h.rnAuth(rr)
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "late"}, 403, "LICENSE_EXPIRED")
	hb := h.expect(rr.c, "POST", "/api/runners/heartbeat", nil, 200)
	if hb.str("status") != "ONLINE" {
		t.Fatalf("heartbeat after expiry: %s", hb.body)
	}
	h.expect(rr.c, "GET", "/api/runners/poll", nil, 200)
}

func TestE2ERunnerConcurrentPollsOneExecution(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "conc-flow")
	const runners, pollsEach = 5, 4
	rs := make([]*rnRunner, runners)
	for i := range rs {
		rs[i] = h.rnOnline(fmt.Sprintf("conc-%d", i), "")
	}
	for i := 0; i < 2*runners; i++ {
		h.rnQueue(wf)
	}
	var mu sync.Mutex
	seen := map[string]map[string]bool{} // runner → execution ids it was given
	owner := map[string]string{}         // execution → runner
	var wg sync.WaitGroup
	for _, rr := range rs {
		seen[rr.id] = map[string]bool{}
		for j := 0; j < pollsEach; j++ {
			wg.Add(1)
			go func(rr *rnRunner) {
				defer wg.Done()
				p := h.request(rr.c, "POST", "/api/runners/poll?wait=2", nil)
				if p.status != 200 {
					t.Errorf("poll: %d %s", p.status, p.body)
					return
				}
				if id := p.str("execution.id"); id != "" {
					mu.Lock()
					seen[rr.id][id] = true
					if o, ok := owner[id]; ok && o != rr.id {
						t.Errorf("execution %s given to %s and %s", id, o, rr.id)
					}
					owner[id] = rr.id
					mu.Unlock()
				}
			}(rr)
		}
	}
	wg.Wait()
	for id, got := range seen {
		if len(got) != 1 {
			t.Errorf("runner %s was given %d executions by concurrent polls, want exactly 1", id, len(got))
		}
	}
	st := h.expect(h.admin, "GET", "/api/executions/stats", nil, 200)
	if st.num("assigned") != runners || st.num("queued") != runners {
		t.Fatalf("stats: %s", st.body)
	}
}

// Commands racing a runner's delete are answered at once: one delete wins,
// the others are 404, and the runner's own calls are 200 (before) or 401
// (after) — never a 500 after a 10 s wait for an actor that had stopped.
func TestE2ERunnerDeleteRaces(t *testing.T) {
	h := newHarness(t)
	for round := range 3 {
		rr := h.rnOnline(fmt.Sprintf("racing-%d", round), "")
		var wg sync.WaitGroup
		codes := make(chan string, 40)
		start := time.Now()
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0:
					codes <- fmt.Sprintf("delete %d", h.request(h.admin, "DELETE", "/api/runners/"+rr.id, nil).status)
				case 1:
					codes <- fmt.Sprintf("regenerate %d", h.request(h.admin, "POST", "/api/runners/"+rr.id+"/regenerate-secret", nil).status)
				case 2:
					codes <- fmt.Sprintf("heartbeat %d", h.request(rr.c, "POST", "/api/runners/heartbeat", map[string]any{}).status)
				default:
					codes <- fmt.Sprintf("poll %d", h.request(rr.c, "POST", "/api/runners/poll", map[string]any{}).status)
				}
			}()
		}
		wg.Wait()
		close(codes)
		deleted := 0
		for c := range codes {
			switch c {
			case "delete 200":
				deleted++
			case "delete 404", "regenerate 200", "regenerate 404", "heartbeat 200", "heartbeat 401", "poll 200", "poll 401":
			default:
				t.Errorf("round %d: %s", round, c)
			}
		}
		if deleted != 1 || time.Since(start) > 8*time.Second {
			t.Fatalf("round %d: %d deletes won, took %v", round, deleted, time.Since(start))
		}
	}
}
