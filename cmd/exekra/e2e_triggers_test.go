package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// waitTrigger polls a trigger until ok accepts it or the deadline passes.
func (h *harness) waitTrigger(id string, within time.Duration, ok func(r *response) bool) *response {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := h.expect(h.admin, "GET", "/api/triggers/"+id, nil, 200)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("trigger %s did not reach the expected state in %v: %s", id, within, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestE2ETriggersCRUD(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")
	op := h.userWithRole("OPERATOR")
	wf := h.createWorkflow(dev, "scheduled")

	// validation and references
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"type": "SCHEDULE", "config": `{"cron":"0 * * * *"}`}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "config": `{"cron":"0 * * * *"}`}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "EMAIL"}, 400, "VALIDATION_ERROR")
	for _, cfg := range []any{`{"cron":"not a cron"}`, `{"cron":"* * * * * *"}`, `{}`, `{"cron":"0 * * * *","timezone":"Mars/Base"}`, `[1]`, 42, `{"cron":5}`} {
		h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE", "config": cfg}, 400, "VALIDATION_ERROR")
	}
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": map[string]any{"rateLimit": -1}}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "priority": "URGENT"}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": "nope", "type": "SCHEDULE", "config": `{"cron":"0 * * * *"}`}, 404, "NOT_FOUND")
	h.expectError(op, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE", "config": `{"cron":"0 * * * *"}`}, 403, "FORBIDDEN")

	// a schedule (config as a JSON string), with a zone and a priority
	r := h.expect(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE",
		"config": `{"cron":"30 6 * * 1-5","timezone":"Europe/Paris","priority":"HIGH"}`}, 201)
	sched := r.str("trigger.id")
	next, err := time.Parse(time.RFC3339, r.str("trigger.nextRunAt"))
	if err != nil || !next.After(time.Now()) || r.str("trigger.priority") != "HIGH" || r.json["trigger"].(map[string]any)["enabled"] != true ||
		r.str("trigger.type") != "SCHEDULE" || r.str("trigger.workflowId") != wf {
		t.Fatalf("schedule: %s (%v)", r.body, err)
	}
	if loc, _ := time.LoadLocation("Europe/Paris"); next.In(loc).Hour() != 6 || next.In(loc).Minute() != 30 {
		t.Fatalf("nextRunAt %v is not 06:30 Paris", next)
	}
	// a webhook (config as an object), disabled
	r = h.expect(dev, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": map[string]any{"secret": "top-secret-value", "rateLimit": 10}, "enabled": false}, 201)
	hook := r.str("trigger.id")
	if r.str("trigger.webhookPath") != "/api/triggers/webhook/"+hook || r.json["trigger"].(map[string]any)["hasSecret"] != true ||
		r.json["trigger"].(map[string]any)["enabled"] != false || r.str("trigger.priority") != "NORMAL" || len(hook) < 26 {
		t.Fatalf("webhook: %s", r.body)
	}

	// reads: any role, filters, pagination; the secret never shows
	r = h.expect(op, "GET", "/api/triggers", nil, 200)
	if r.num("pagination.total") != 2 || r.json["triggers"].([]any)[0].(map[string]any)["id"] != hook {
		t.Fatalf("list: %s", r.body)
	}
	r = h.expect(op, "GET", "/api/triggers?type=SCHEDULE&workflowId="+wf, nil, 200)
	if r.num("pagination.total") != 1 || r.json["triggers"].([]any)[0].(map[string]any)["id"] != sched {
		t.Fatalf("filtered: %s", r.body)
	}
	r = h.expect(op, "GET", "/api/triggers?workflowId=other", nil, 200)
	if r.num("pagination.total") != 0 {
		t.Fatalf("other workflow: %s", r.body)
	}
	h.expectError(op, "GET", "/api/triggers?type=EMAIL", nil, 400, "VALIDATION_ERROR")
	h.expectError(op, "GET", "/api/triggers/nope", nil, 404, "NOT_FOUND")
	r = h.expect(op, "GET", "/api/workflows/"+wf, nil, 200)
	if len(dig(r.json, "workflow.triggers").([]any)) != 2 {
		t.Fatalf("workflow detail triggers: %s", r.body)
	}

	// update: disable the schedule (no next run), change its cron, re-enable
	r = h.expect(dev, "PATCH", "/api/triggers/"+sched, map[string]any{"enabled": false}, 200)
	if r.json["trigger"].(map[string]any)["nextRunAt"] != nil || r.json["trigger"].(map[string]any)["enabled"] != false {
		t.Fatalf("disabled: %s", r.body)
	}
	r = h.expect(dev, "PUT", "/api/triggers/"+sched, map[string]any{"enabled": true, "config": map[string]any{"cron": "@daily"}}, 200)
	next, _ = time.Parse(time.RFC3339, r.str("trigger.nextRunAt"))
	if next.UTC().Hour() != 0 || next.UTC().Minute() != 0 || !next.After(time.Now()) {
		t.Fatalf("@daily: %s", r.body)
	}
	h.expectError(dev, "PATCH", "/api/triggers/"+sched, map[string]any{"config": `{"cron":"61 * * * *"}`}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "PATCH", "/api/triggers/"+sched, map[string]any{}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "PATCH", "/api/triggers/nope", map[string]any{"enabled": true}, 404, "NOT_FOUND")
	h.expectError(op, "PATCH", "/api/triggers/"+sched, map[string]any{"enabled": true}, 403, "FORBIDDEN")
	// a webhook config change keeps the secret unless it names one
	r = h.expect(dev, "PATCH", "/api/triggers/"+hook, map[string]any{"config": map[string]any{"rateLimit": 20}}, 200)
	if r.json["trigger"].(map[string]any)["hasSecret"] != true || !strings.Contains(r.str("trigger.config"), "20") {
		t.Fatalf("webhook patch: %s", r.body)
	}

	// delete: ADMIN only
	h.expectError(dev, "DELETE", "/api/triggers/"+sched, nil, 403, "FORBIDDEN")
	r = h.expect(h.admin, "DELETE", "/api/triggers/"+sched, nil, 200)
	if r.json["success"] != true {
		t.Fatalf("delete: %s", r.body)
	}
	h.expectError(op, "GET", "/api/triggers/"+sched, nil, 404, "NOT_FOUND")
	h.expectError(h.admin, "DELETE", "/api/triggers/"+sched, nil, 404, "NOT_FOUND")

	// the secret never appears in any answer, the audit log or the logs
	for _, path := range []string{"/api/triggers", "/api/triggers/" + hook, "/api/workflows/" + wf, "/api/audit?limit=200"} {
		if r := h.expect(h.admin, "GET", path, nil, 200); strings.Contains(string(r.body), "top-secret-value") {
			t.Fatalf("%s leaks the secret: %s", path, r.body)
		}
	}
	if strings.Contains(h.logs.String(), "top-secret-value") {
		t.Fatal("the logs leak the secret")
	}
	r = h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	for _, a := range []string{"trigger.created", "trigger.updated", "trigger.deleted"} {
		if !strings.Contains(string(r.body), a) {
			t.Errorf("audit lacks %s", a)
		}
	}

	// deleting the workflow removes its triggers
	h.expect(h.admin, "DELETE", "/api/workflows/"+wf, nil, 200)
	h.expectError(op, "GET", "/api/triggers/"+hook, nil, 404, "NOT_FOUND")
	h.expectError(anon, "POST", "/api/triggers/webhook/"+hook, "{}", 404, "NOT_FOUND")
}

func TestE2EWebhook(t *testing.T) {
	h := newHarness(t)
	wf := h.createWorkflow(h.admin, "hooked")
	const secret = "hmac-key-123"
	r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": map[string]any{"secret": secret, "priority": "LOW"}}, 201)
	hook := r.str("trigger.id")
	path := "/api/triggers/webhook/" + hook
	body := `{"order":42}`

	// no published version → 409 (signature checked first)
	h.expectError(anon, "POST", path, body, 409, "NO_PUBLISHED_VERSION", "X-Exekra-Signature", sign(secret, body))
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)

	// signature: missing, malformed, wrong → 401
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", "md5=abc")
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", sign("wrong", body))
	h.expectError(anon, "POST", path, `{"order":43}`, 401, "UNAUTHORIZED", "X-Exekra-Signature", sign(secret, body))
	// good signature → 200 with an execution id
	r = h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", sign(secret, body))
	exec := r.str("executionId")
	if r.json["success"] != true || exec == "" {
		t.Fatalf("webhook: %s", r.body)
	}
	// invalid JSON (well signed) → 400
	h.expectError(anon, "POST", path, "{not json", 400, "VALIDATION_ERROR", "X-Exekra-Signature", sign(secret, "{not json"))
	// Idempotency-Key: the second call answers the first execution
	r1 := h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", sign(secret, body), "Idempotency-Key", "k-1")
	r2 := h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", sign(secret, body), "Idempotency-Key", "k-1")
	h.expectError(anon, "POST", path, body, 400, "VALIDATION_ERROR", "X-Exekra-Signature", sign(secret, body), "Idempotency-Key", strings.Repeat("k", 201))
	if r1.str("executionId") == "" || r1.str("executionId") != r2.str("executionId") || r1.str("executionId") == exec {
		t.Fatalf("idempotency: %s %s", r1.body, r2.body)
	}
	// the execution carries the input and the trigger (when the executions API is there)
	if er := h.request(h.admin, "GET", "/api/executions/"+exec, nil); er.status == 200 {
		if er.str("execution.triggerId") != hook || dig(er.json, "execution.triggeredBy") != nil ||
			dig(er.json, "execution.input.order") != float64(42) || er.str("execution.priority") != "LOW" ||
			er.str("execution.status") != "QUEUED" {
			t.Fatalf("execution: %s", er.body)
		}
	}

	// unknown → 404, not a webhook → 400, disabled → 403
	h.expectError(anon, "POST", "/api/triggers/webhook/"+strings.Repeat("0", 36), "{}", 404, "NOT_FOUND")
	r = h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE", "config": `{"cron":"0 0 1 1 *"}`}, 201)
	h.expectError(anon, "POST", "/api/triggers/webhook/"+r.str("trigger.id"), "{}", 400, "VALIDATION_ERROR")
	h.expect(h.admin, "PATCH", "/api/triggers/"+hook, map[string]any{"enabled": false}, 200)
	h.expectError(anon, "POST", path, body, 403, "FORBIDDEN", "X-Exekra-Signature", sign(secret, body))
	h.expect(h.admin, "PATCH", "/api/triggers/"+hook, map[string]any{"enabled": true}, 200)

	// without a secret: no signature needed, empty body allowed; rate limit → 429
	r = h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": `{"rateLimit":2}`}, 201)
	open := "/api/triggers/webhook/" + r.str("trigger.id")
	if r.json["trigger"].(map[string]any)["hasSecret"] != false {
		t.Fatalf("open webhook: %s", r.body)
	}
	h.expect(anon, "POST", open, nil, 200)
	h.expect(anon, "POST", open, `{"a":1}`, 200)
	lim := h.expectError(anon, "POST", open, nil, 429, "RATE_LIMITED")
	if lim.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// the webhook survives a restart (the id stays the credential)
	h.restart()
	h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", sign(secret, body))
}

func TestE2EScheduleFires(t *testing.T) {
	h := newHarness(t)
	wf := h.createWorkflow(h.admin, "ticking")
	r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE", "config": `{"cron":"@every 1s"}`}, 201)
	id := r.str("trigger.id")

	// no published version: the fire is recorded, not queued
	h.waitTrigger(id, 5*time.Second, func(r *response) bool {
		return r.str("trigger.lastResult") == "skipped: no published version" && r.str("trigger.lastFiredAt") != ""
	})
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)

	// published: a fire queues an execution ...
	r = h.waitTrigger(id, 5*time.Second, func(r *response) bool { return strings.HasPrefix(r.str("trigger.lastResult"), "queued ") })
	exec := strings.TrimPrefix(r.str("trigger.lastResult"), "queued ")
	if er := h.request(h.admin, "GET", "/api/executions/"+exec, nil); er.status == 200 {
		if er.str("execution.triggerId") != id || dig(er.json, "execution.triggeredBy") != nil || er.str("execution.status") != "QUEUED" {
			t.Fatalf("scheduled execution: %s", er.body)
		}
	}
	// ... and, with no runner to take it, the next fires are skipped as duplicates
	h.waitTrigger(id, 5*time.Second, func(r *response) bool {
		return r.str("trigger.lastResult") == "skipped: previous run still queued"
	})
	r = h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	if !strings.Contains(string(r.body), "trigger.fired") {
		t.Fatalf("audit lacks trigger.fired")
	}

	// after a restart the schedule runs again
	h.restart()
	before := h.expect(h.admin, "GET", "/api/triggers/"+id, nil, 200).str("trigger.lastFiredAt")
	h.waitTrigger(id, 5*time.Second, func(r *response) bool { return r.str("trigger.lastFiredAt") != before })

	// disabling stops it at once; deleting too
	h.expect(h.admin, "PATCH", "/api/triggers/"+id, map[string]any{"enabled": false}, 200)
	stopped := h.expect(h.admin, "GET", "/api/triggers/"+id, nil, 200).str("trigger.lastFiredAt")
	time.Sleep(1500 * time.Millisecond)
	if got := h.expect(h.admin, "GET", "/api/triggers/"+id, nil, 200).str("trigger.lastFiredAt"); got != stopped {
		t.Fatalf("a disabled schedule fired: %s → %s", stopped, got)
	}
	h.expect(h.admin, "DELETE", "/api/triggers/"+id, nil, 200)
}

// TestE2EWebhookBurst measures webhook bursts from 64 concurrent senders
// (set EXEKRA_BURST=1; it reports, it does not assert on speed). `exekra
// loadtest webhook` is the full measurement against a bare fasthttp baseline.
// A webhook call is a fire: once its execution is durable the trigger shows
// it (lastFiredAt, lastResult "queued <id>", as a schedule fire does) and a
// trigger event follows on /api/events. A duplicate (same Idempotency-Key)
// and a refused call fire nothing.
func TestE2EWebhookFireShowsOnTrigger(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "hooked")
	r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": `{"secret":"s3cret-key"}`}, 201)
	hook := r.str("trigger.id")
	if got := r.str("trigger.lastFiredAt"); got != "" {
		t.Fatalf("a new trigger has fired: %s", r.body)
	}
	events := h.openEvents(h.admin, "?types=trigger")
	path := "/api/triggers/webhook/" + hook
	h.expectError(anon, "POST", path, `{}`, 401, "UNAUTHORIZED")
	body := `{"n":1}`
	exec := h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", sign("s3cret-key", body), "Idempotency-Key", "once").str("executionId")
	ev := events.next(t, "the fire's trigger event", func(ev sseEvent) bool { return ev.data["id"] == hook })
	if ev.data["lastResult"] != "queued "+exec || ev.data["lastFiredAt"] == nil || ev.data["hasSecret"] != true || ev.data["sealedSecret"] != nil {
		t.Fatalf("trigger event after the fire: %v", ev.data)
	}
	got := h.expect(h.admin, "GET", "/api/triggers/"+hook, nil, 200)
	x := h.expect(h.admin, "GET", "/api/executions/"+exec, nil, 200)
	if got.str("trigger.lastResult") != "queued "+exec || got.str("trigger.lastFiredAt") != x.str("execution.createdAt") {
		t.Fatalf("trigger after a fire: %s (execution %s)", got.body, x.body)
	}
	// The same call again is the same execution: no new fire.
	h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", sign("s3cret-key", body), "Idempotency-Key", "once")
	second := h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", sign("s3cret-key", body)).str("executionId")
	ev = events.next(t, "the second fire's trigger event", func(ev sseEvent) bool { return ev.data["id"] == hook })
	if ev.data["lastResult"] != "queued "+second {
		t.Fatalf("the duplicate fired, or the second fire is missing: %v (second %s)", ev.data, second)
	}
	// The fire is stored, not only announced.
	h.restart()
	if got := h.expect(h.admin, "GET", "/api/triggers/"+hook, nil, 200); got.str("trigger.lastResult") != "queued "+second {
		t.Fatalf("after a restart: %s", got.body)
	}
}

func TestE2EWebhookBurst(t *testing.T) {
	if os.Getenv("EXEKRA_BURST") == "" {
		t.Skip("set EXEKRA_BURST=1 to measure webhook bursts")
	}
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "burst")
	var paths []string
	for i := 0; i < 8; i++ {
		r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK"}, 201)
		paths = append(paths, h.base+r.str("trigger.webhookPath"))
	}
	const senders, each = 64, 300
	c := &fasthttp.Client{MaxConnsPerHost: senders}
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := 0; i < each; i++ {
				req.Reset()
				req.Header.SetMethod("POST")
				req.SetRequestURI(paths[(s+i)%len(paths)])
				req.SetBodyString(`{"n":1}`)
				if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					failed.Add(1)
				}
			}
		}(s)
	}
	wg.Wait()
	el := time.Since(start)
	t.Logf("%d webhooks from %d senders in %v: %.0f req/s, %d failed", senders*each, senders, el, float64(senders*each)/el.Seconds(), failed.Load())
	if r := h.request(anon, "GET", "/metrics", nil); r.status == 200 {
		for _, line := range strings.Split(string(r.body), "\n") {
			if strings.Contains(line, "commit") && !strings.HasPrefix(line, "#") {
				t.Log(line)
			}
		}
	}
}

func TestE2EProcessPerformance(t *testing.T) {
	h := newHarness(t)
	op := h.userWithRole("OPERATOR")
	r := h.expect(op, "GET", "/api/analytics/process-performance", nil, 200)
	if rows, ok := r.json["workflows"].([]any); !ok || len(rows) != 0 {
		t.Fatalf("empty analytics: %s", r.body)
	}
	h.expectError(op, "GET", "/api/analytics/process-performance?from=yesterday", nil, 400, "VALIDATION_ERROR")
	h.expectError(op, "GET", "/api/analytics/process-performance?to=2026-13-45", nil, 400, "VALIDATION_ERROR")
	h.expectError(anon, "GET", "/api/analytics/process-performance", nil, 401, "UNAUTHORIZED")

	h.clearOfMidnight(5 * time.Minute)
	wf := h.publishedWorkflow(h.admin, "Analyzed")
	reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "r1", "type": "UNATTENDED"}, 201)
	auth := h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{
		"machineKey": reg.str("machineKey"), "machineSecret": reg.str("machineSecret")}, 200)
	runner := &client{token: auth.str("token")}
	h.expect(runner, "POST", "/api/runners/heartbeat", map[string]any{}, 200)

	// run executes one execution on the runner: RUNNING, then after the
	// given (server clock) duration the final status with metrics.
	run := func(final string, d time.Duration, metrics map[string]any) {
		t.Helper()
		h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
		p := h.expect(runner, "POST", "/api/runners/poll", map[string]any{}, 200)
		id := p.str("execution.id")
		if id == "" {
			t.Fatalf("poll: %s", p.body)
		}
		h.expect(runner, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, 200)
		h.clock.Advance(d)
		body := map[string]any{"status": final}
		if metrics != nil {
			body["metrics"] = metrics
		}
		h.expect(runner, "POST", "/api/executions/"+id+"/status", body, 200)
	}
	run("COMPLETED", 2*time.Second, map[string]any{"cpuAvg": 10, "cpuPeak": 40, "memAvgMB": 100, "memPeakMB": 200})
	run("COMPLETED", 4*time.Second, map[string]any{"cpuAvg": 30, "cpuPeak": 90, "memAvgMB": 300, "memPeakMB": 350})
	run("FAILED", 3*time.Second, nil)
	q := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	h.expect(h.admin, "POST", "/api/executions/"+q.str("execution.id")+"/stop", nil, 200)

	row := func(from, to string) map[string]any {
		t.Helper()
		path := "/api/analytics/process-performance"
		if from != "" || to != "" {
			path += "?from=" + from + "&to=" + to
		}
		r := h.expect(op, "GET", path, nil, 200)
		for _, x := range r.json["workflows"].([]any) {
			if m := x.(map[string]any); m["workflowId"] == wf {
				return m
			}
		}
		return nil
	}
	var got map[string]any
	deadline := time.Now().Add(3 * time.Second)
	for got = row("", ""); (got == nil || got["total"] != float64(4)) && time.Now().Before(deadline); got = row("", "") {
		time.Sleep(50 * time.Millisecond)
	}
	if got == nil {
		t.Fatal("no analytics row for the workflow")
	}
	want := map[string]float64{"total": 4, "completed": 2, "failed": 1, "stopped": 1, "successRate": 0.5, "failureRate": 0.25,
		"cpuAvg": 20, "cpuPeak": 90, "memAvgMB": 200, "memPeakMB": 350}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (row %v)", k, got[k], v, got)
		}
	}
	if d, _ := got["avgDurationMs"].(float64); d < 3000 || d > 3500 {
		t.Errorf("avgDurationMs = %v, want about 3000", got["avgDurationMs"])
	}
	if got["workflowName"] != "Analyzed" {
		t.Errorf("workflowName = %v", got["workflowName"])
	}
	// createdAt ranges: today holds them, tomorrow does not.
	today := h.clock.Now().UTC().Format("2006-01-02")
	tomorrow := h.clock.Now().UTC().Add(24 * time.Hour).Format("2006-01-02")
	if r := row(today, today+"T23:59:59.999Z"); r == nil || r["total"] != float64(4) {
		t.Errorf("today: %v", r)
	}
	if r := row(tomorrow, ""); r != nil {
		t.Errorf("tomorrow: %v", r)
	}
	// Totals outlive the workflow and a restart.
	h.expect(h.admin, "DELETE", "/api/workflows/"+wf, nil, 200)
	h.restart()
	if r := row("", ""); r == nil || r["total"] != float64(4) || r["workflowName"] != "Analyzed" {
		t.Errorf("after delete and restart: %v", r)
	}
}

func TestE2EWorkflowDeleteWithActiveExecution(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "busy")
	r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK"}, 201)
	hook := r.str("trigger.id")
	e := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	id := e.str("execution.id")
	h.expectError(h.admin, "DELETE", "/api/workflows/"+wf, nil, 409, "CONFLICT")
	if d := h.expect(h.admin, "GET", "/api/workflows/"+wf, nil, 200); d.num("workflow.executionCount") != 1 {
		t.Fatalf("executionCount: %s", d.body)
	}
	h.expect(h.admin, "POST", "/api/executions/"+id+"/stop", nil, 200)
	h.expect(h.admin, "DELETE", "/api/workflows/"+wf, nil, 200)
	// the finished execution stays readable with the workflow's name; the trigger is gone
	if g := h.expect(h.admin, "GET", "/api/executions/"+id, nil, 200); g.str("execution.workflow.name") != "busy" {
		t.Fatalf("execution after delete: %s", g.body)
	}
	h.expectError(anon, "POST", "/api/triggers/webhook/"+hook, nil, 404, "NOT_FOUND")
}

// TestE2EWebhookInvalidUTF8 checks docs/api.md, "Details clients depend on" on the webhook: a body that is
// not valid UTF-8 is invalid JSON → 400, and no execution is created.
func TestE2EWebhookInvalidUTF8(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "utf8")
	const secret = "utf8-key"
	open := "/api/triggers/webhook/" + h.expect(h.admin, "POST", "/api/triggers",
		map[string]any{"workflowId": wf, "type": "WEBHOOK"}, 201).str("trigger.id")
	signed := "/api/triggers/webhook/" + h.expect(h.admin, "POST", "/api/triggers",
		map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": map[string]any{"secret": secret}}, 201).str("trigger.id")
	total := func() float64 { return h.expect(h.admin, "GET", "/api/executions", nil, 200).num("pagination.total") }
	before := total()
	for _, body := range []string{"{\"a\":\"\xff\xfe\"}", "\"\xc3\x28\"", "[\"\xed\xa0\x80\"]"} {
		h.expectError(anon, "POST", open, body, 400, "VALIDATION_ERROR")
		h.expectError(anon, "POST", signed, body, 400, "VALIDATION_ERROR", "X-Exekra-Signature", sign(secret, body))
		h.expectError(anon, "POST", open, body, 400, "VALIDATION_ERROR", "Idempotency-Key", "utf8")
	}
	if after := total(); after != before {
		t.Fatalf("invalid UTF-8 bodies created executions: %v → %v", before, after)
	}
	// Valid UTF-8 beyond ASCII is fine.
	h.expect(anon, "POST", open, `{"name":"Zoë ✓"}`, 200)
}

// TestE2EWebhookSignatureOverRawBody checks docs/api.md, "Conventions": the HMAC is over the
// raw body as received, a body of only whitespace included.
func TestE2EWebhookSignatureOverRawBody(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "raw")
	const secret = "raw-key"
	hook := "/api/triggers/webhook/" + h.expect(h.admin, "POST", "/api/triggers",
		map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": map[string]any{"secret": secret}}, 201).str("trigger.id")
	for _, body := range []string{" ", "\n", " \r\n\t ", "  {\"a\":1}\n"} {
		r := h.expect(anon, "POST", hook, body, 200, "X-Exekra-Signature", sign(secret, body))
		er := h.expect(h.admin, "GET", "/api/executions/"+r.str("executionId"), nil, 200)
		if strings.TrimSpace(body) == "" && dig(er.json, "execution.input") != nil {
			t.Fatalf("blank body %q: input %s", body, er.body)
		}
		if strings.TrimSpace(body) != "" && dig(er.json, "execution.input.a") != float64(1) {
			t.Fatalf("body %q: input %s", body, er.body)
		}
	}
	// The signature of the trimmed body is not the signature of the body.
	h.expectError(anon, "POST", hook, " ", 401, "UNAUTHORIZED", "X-Exekra-Signature", sign(secret, ""))
}

// TestE2ETriggerConfigRoundTrip checks docs/api.md, "Conventions": config comes back as sent
// (a string exactly; an object compacted in the client's key order), minus
// the write-only secret, and so after a restart.
func TestE2ETriggerConfigRoundTrip(t *testing.T) {
	h := newHarness(t)
	wf := h.createWorkflow(h.admin, "config")
	create := func(typ, config string) *response {
		t.Helper()
		body := `{"workflowId":"` + wf + `","type":"` + typ + `","config":` + config + `}`
		return h.expect(h.admin, "POST", "/api/triggers", body, 201)
	}
	cases := []struct {
		typ, config, want string
	}{
		{"SCHEDULE", `"{\"cron\": \"0 9 * * 1-5\"}"`, `{"cron": "0 9 * * 1-5"}`},
		{"SCHEDULE", `"{\"timezone\":\"Europe/Paris\",\n \"cron\":\"@daily\"}"`, "{\"timezone\":\"Europe/Paris\",\n \"cron\":\"@daily\"}"},
		{"SCHEDULE", `{ "timezone" : "UTC", "cron" : "0 9 * * 1-5", "priority": "LOW" }`, `{"timezone":"UTC","cron":"0 9 * * 1-5","priority":"LOW"}`},
		{"WEBHOOK", `{"rateLimit": 5, "priority": "HIGH"}`, `{"rateLimit":5,"priority":"HIGH"}`},
		{"WEBHOOK", `{"rateLimit": 5, "secret": "round-trip-secret", "priority": "HIGH"}`, `{"rateLimit":5,"priority":"HIGH"}`},
		{"WEBHOOK", `"{\"secret\": \"round-trip-secret\", \"zeta\": 1, \"alpha\": [1, 2]}"`, `{"zeta":1,"alpha":[1,2]}`},
		{"WEBHOOK", `"{}"`, `{}`},
		{"WEBHOOK", `null`, `{}`},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		r := create(c.typ, c.config)
		if got := r.str("trigger.config"); got != c.want {
			t.Fatalf("create %s %s: config %q, want %q", c.typ, c.config, got, c.want)
		}
		ids[i] = r.str("trigger.id")
	}
	// A PATCH of the config answers and stores it as sent too.
	r := h.expect(h.admin, "PATCH", "/api/triggers/"+ids[0], map[string]any{"config": `{"cron":  "0 10 * * 1-5" }`}, 200)
	if got := r.str("trigger.config"); got != `{"cron":  "0 10 * * 1-5" }` {
		t.Fatalf("patch: config %q", got)
	}
	cases[0].want = `{"cron":  "0 10 * * 1-5" }`
	check := func() {
		t.Helper()
		for i, c := range cases {
			if got := h.expect(h.admin, "GET", "/api/triggers/"+ids[i], nil, 200).str("trigger.config"); got != c.want {
				t.Fatalf("get %s: config %q, want %q", ids[i], got, c.want)
			}
		}
		if r := h.expect(h.admin, "GET", "/api/triggers?limit=200", nil, 200); strings.Contains(string(r.body), "round-trip-secret") {
			t.Fatalf("the list leaks the secret: %s", r.body)
		}
	}
	check()
	h.restart()
	check()
	if strings.Contains(h.logs.String(), "round-trip-secret") {
		t.Fatal("the logs leak the secret")
	}
}

// TestE2ETriggerSecretClearedHasSecret checks that clearing a webhook's
// secret answers "hasSecret": false at once, as later reads do.
func TestE2ETriggerSecretClearedHasSecret(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "cleared")
	for _, clear := range []any{"", nil} {
		r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
			"config": map[string]any{"secret": "to-be-cleared"}}, 201)
		id := r.str("trigger.id")
		r = h.expect(h.admin, "PATCH", "/api/triggers/"+id, map[string]any{"config": map[string]any{"secret": clear}}, 200)
		if dig(r.json, "trigger.hasSecret") != false {
			t.Fatalf("secret %v: PATCH answers %s", clear, r.body)
		}
		if r := h.expect(h.admin, "GET", "/api/triggers/"+id, nil, 200); dig(r.json, "trigger.hasSecret") != false {
			t.Fatalf("secret %v: GET answers %s", clear, r.body)
		}
		h.expect(anon, "POST", "/api/triggers/webhook/"+id, `{"x":1}`, 200)
		// Setting one again answers true.
		r = h.expect(h.admin, "PATCH", "/api/triggers/"+id, map[string]any{"config": map[string]any{"secret": "again"}}, 200)
		if dig(r.json, "trigger.hasSecret") != true {
			t.Fatalf("secret set again: PATCH answers %s", r.body)
		}
	}
}

// TestE2ETriggerConfigUpdateKeepsPriority checks that a config update keeps
// the trigger's priority unless the request sets one.
func TestE2ETriggerConfigUpdateKeepsPriority(t *testing.T) {
	h := newHarness(t)
	wf := h.createWorkflow(h.admin, "prio")
	prio := func(r *response) string { return r.str("trigger.priority") }
	hook := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"priority": "HIGH", "config": map[string]any{"rateLimit": 10}}, 201)
	id := hook.str("trigger.id")
	steps := []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"config": map[string]any{"rateLimit": 20}}, "HIGH"},
		{map[string]any{"config": `{"rateLimit":30}`, "enabled": false}, "HIGH"},
		{map[string]any{"config": map[string]any{"rateLimit": 20, "priority": "LOW"}}, "LOW"},
		{map[string]any{"config": map[string]any{"rateLimit": 20}}, "LOW"},
		{map[string]any{"config": map[string]any{"rateLimit": 20, "priority": "LOW"}, "priority": "NORMAL"}, "NORMAL"},
		{map[string]any{"priority": "HIGH"}, "HIGH"},
		{map[string]any{"config": map[string]any{}}, "HIGH"},
	}
	for i, s := range steps {
		if got := prio(h.expect(h.admin, "PATCH", "/api/triggers/"+id, s.body, 200)); got != s.want {
			t.Fatalf("step %d %v: priority %s, want %s", i, s.body, got, s.want)
		}
		if got := prio(h.expect(h.admin, "GET", "/api/triggers/"+id, nil, 200)); got != s.want {
			t.Fatalf("step %d %v: stored priority %s, want %s", i, s.body, got, s.want)
		}
	}
	sched := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE",
		"config": `{"cron":"@daily","priority":"HIGH"}`}, 201).str("trigger.id")
	if got := prio(h.expect(h.admin, "PUT", "/api/triggers/"+sched, map[string]any{"config": `{"cron":"@hourly"}`}, 200)); got != "HIGH" {
		t.Fatalf("schedule: priority %s after a cron change", got)
	}
}
