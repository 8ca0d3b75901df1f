package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of runner labels and targeted executions: labels on
// register, PATCH and the list filter; workflow, request and trigger
// runnerLabels; the waiting object; the queue timeout's message.

func labelsOf(t *testing.T, v any) string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("labels are not an array: %#v", v)
	}
	s := make([]string, len(list))
	for i, x := range list {
		s[i] = x.(string)
	}
	return strings.Join(s, ",")
}

func TestE2ERunnerLabels(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")

	// register: checked, deduplicated, sorted; none is []
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bad", "labels": []string{"Finance"}}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bad", "labels": []string{"-x"}}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bad", "labels": []string{strings.Repeat("a", 64)}}, 400, "VALIDATION_ERROR")
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("l%d", i)
	}
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bad", "labels": many}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bad", "labels": "finance"}, 400, "VALIDATION_ERROR")
	r := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "fin", "labels": []string{"win", "finance", "win"}}, 201)
	fin := &rnRunner{id: r.str("id"), key: r.str("machineKey"), secret: r.str("machineSecret")}
	g := h.expect(dev, "GET", "/api/runners/"+fin.id, nil, 200)
	if got := labelsOf(t, dig(g.json, "runner.labels")); got != "finance,win" {
		t.Fatalf("labels: %s", g.body)
	}
	plain := h.rnOnline("plain", "")
	if got := labelsOf(t, dig(h.expect(dev, "GET", "/api/runners/"+plain.id, nil, 200).json, "runner.labels")); got != "" {
		t.Fatalf("no labels: %q", got)
	}

	// filter: repeated or comma list, all must match
	count := func(q string) float64 {
		t.Helper()
		return h.expect(dev, "GET", "/api/runners?"+q, nil, 200).num("pagination.total")
	}
	if n := count("label=finance"); n != 1 {
		t.Fatalf("label=finance: %v", n)
	}
	if n := count("label=finance,win"); n != 1 {
		t.Fatalf("label=finance,win: %v", n)
	}
	if n := count("label=finance&label=gpu"); n != 0 {
		t.Fatalf("label=finance&label=gpu: %v", n)
	}
	if n := count(""); n != 2 {
		t.Fatalf("all: %v", n)
	}
	h.expectError(dev, "GET", "/api/runners?label=Bad!", nil, 400, "VALIDATION_ERROR")

	// PATCH: ADMIN only, validated
	h.expectError(dev, "PATCH", "/api/runners/"+fin.id, map[string]any{"labels": []string{"x"}}, 403, "FORBIDDEN")
	h.expectError(h.admin, "PATCH", "/api/runners/"+fin.id, map[string]any{}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "PATCH", "/api/runners/"+fin.id, map[string]any{"labels": []string{"UPPER"}}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "PATCH", "/api/runners/nope", map[string]any{"labels": []string{"x"}}, 404, "NOT_FOUND")
	r = h.expect(h.admin, "PATCH", "/api/runners/"+fin.id, map[string]any{"labels": []string{"finance", "eu"}}, 200)
	if got := labelsOf(t, dig(r.json, "runner.labels")); got != "eu,finance" || r.str("runner.id") != fin.id {
		t.Fatalf("patched: %s", r.body)
	}
	if n := count("label=win"); n != 0 {
		t.Fatalf("label=win after the patch: %v", n)
	}

	// workflow runnerLabels: create, read, update, checked
	h.expectError(dev, "POST", "/api/workflows", map[string]any{"name": "w-bad", "runnerLabels": []string{"A"}}, 400, "VALIDATION_ERROR")
	r = h.expect(dev, "POST", "/api/workflows", map[string]any{"name": "payroll", "runnerLabels": []string{"finance"}}, 201)
	wf := r.str("workflow.id")
	if got := labelsOf(t, dig(r.json, "workflow.runnerLabels")); got != "finance" {
		t.Fatalf("workflow: %s", r.body)
	}
	h.expect(dev, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph}, 201)
	h.expect(dev, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	other := h.publishedWorkflow(dev, "anywhere")
	if got := labelsOf(t, dig(h.expect(dev, "GET", "/api/workflows/"+other, nil, 200).json, "workflow.runnerLabels")); got != "" {
		t.Fatalf("default runnerLabels: %q", got)
	}
	h.expectError(dev, "PATCH", "/api/workflows/"+other, map[string]any{"runnerLabels": []string{"a b"}}, 400, "VALIDATION_ERROR")

	// an execution takes the workflow's labels and waits while only a
	// runner without them polls
	x := h.createExecution(h.admin, map[string]any{"workflowId": wf}, 201)
	xid := x.str("execution.id")
	if got := labelsOf(t, dig(x.json, "execution.runnerLabels")); got != "finance" {
		t.Fatalf("execution labels: %s", x.body)
	}
	if got := h.pollID(plain.c); got != "" {
		t.Fatalf("a runner without the label got %s", got)
	}
	g = h.expect(dev, "GET", "/api/executions/"+xid, nil, 200)
	if g.num("execution.waiting.position") != 1 || g.num("execution.waiting.ahead") != 0 ||
		g.num("execution.waiting.matchingRunners.offline") != 1 || g.num("execution.waiting.matchingRunners.online") != 0 ||
		!strings.Contains(g.str("execution.waiting.reason"), "offline") {
		t.Fatalf("waiting (the finance runner is offline): %s", g.body)
	}
	// a second one waits behind it; one needing another label says so
	y := h.createExecution(h.admin, map[string]any{"workflowId": wf}, 201).str("execution.id")
	if g = h.expect(dev, "GET", "/api/executions/"+y, nil, 200); g.num("execution.waiting.position") != 2 || g.num("execution.waiting.ahead") != 1 {
		t.Fatalf("second: %s", g.body)
	}
	z := h.createExecution(h.admin, map[string]any{"workflowId": wf, "runnerLabels": []string{"gpu"}}, 201).str("execution.id")
	if g = h.expect(dev, "GET", "/api/executions/"+z, nil, 200); g.str("execution.waiting.reason") != "No runner has the labels [gpu]." ||
		g.num("execution.waiting.position") != 1 || labelsOf(t, dig(g.json, "execution.runnerLabels")) != "gpu" {
		t.Fatalf("no runner with gpu: %s", g.body)
	}
	h.createExecution(h.admin, map[string]any{"workflowId": wf, "runnerLabels": []string{"GPU"}}, 400)

	// the matching runner comes online and takes them in order
	h.rnAuth(fin)
	h.expect(fin.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	if got := h.pollID(fin.c); got != xid {
		t.Fatalf("the finance runner got %q, want %s", got, xid)
	}
	h.expect(fin.c, "POST", "/api/executions/"+xid+"/status", map[string]any{"status": "RUNNING"}, 200)
	g = h.expect(dev, "GET", "/api/executions/"+y, nil, 200)
	if g.num("execution.waiting.matchingRunners.busy") != 1 || !strings.Contains(g.str("execution.waiting.reason"), "busy") {
		t.Fatalf("all matching busy: %s", g.body)
	}
	if g = h.expect(dev, "GET", "/api/executions/"+xid, nil, 200); g.json["execution"].(map[string]any)["waiting"] != nil {
		t.Fatalf("a RUNNING execution has no waiting: %s", g.body)
	}

	// relabelling a parked runner lets it take the work that waits
	done := make(chan *response, 1)
	go func() { done <- h.request(plain.c, "POST", "/api/runners/poll?wait=10", map[string]any{}) }()
	h.waitPollsParked(1)
	h.expect(h.admin, "PATCH", "/api/runners/"+plain.id, map[string]any{"labels": []string{"gpu"}}, 200)
	if p := <-done; p.status != 200 || p.str("execution.id") != z {
		t.Fatalf("relabelled runner: %d %s, want %s", p.status, p.body, z)
	}

	// override with [] on a labelled workflow: any runner
	h.expect(h.admin, "PATCH", "/api/runners/"+plain.id, map[string]any{"labels": []string{}}, 200)
	plain2 := h.rnOnline("plain2", "")
	any0 := h.createExecution(h.admin, map[string]any{"workflowId": wf, "runnerLabels": []string{}}, 201)
	if got := labelsOf(t, dig(any0.json, "execution.runnerLabels")); got != "" {
		t.Fatalf("override []: %s", any0.body)
	}
	if got := h.pollID(plain2.c); got != any0.str("execution.id") {
		t.Fatalf("unlabelled runner got %q, want %s", got, any0.str("execution.id"))
	}

	// trigger config runnerLabels: checked, and its executions carry them
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": other, "type": "WEBHOOK",
		"config": map[string]any{"runnerLabels": []string{"No"}}}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/triggers", map[string]any{"workflowId": other, "type": "WEBHOOK",
		"config": map[string]any{"runnerLabels": "eu"}}, 400, "VALIDATION_ERROR")
	tr := h.expect(dev, "POST", "/api/triggers", map[string]any{"workflowId": other, "type": "WEBHOOK",
		"config": map[string]any{"runnerLabels": []string{"eu"}}}, 201).str("trigger.id")
	h.expectError(dev, "PATCH", "/api/triggers/"+tr, map[string]any{"config": map[string]any{"runnerLabels": []string{"x y"}}}, 400, "VALIDATION_ERROR")
	fired := h.expect(anon, "POST", "/api/triggers/webhook/"+tr, `{}`, 200)
	eid := fired.str("executionId")
	if eid == "" {
		eid = fired.str("execution.id")
	}
	g = h.expect(dev, "GET", "/api/executions/"+eid, nil, 200)
	if labelsOf(t, dig(g.json, "execution.runnerLabels")) != "eu" || g.str("execution.status") != "QUEUED" {
		t.Fatalf("trigger override: %s", g.body)
	}
	if got := h.pollID(h.rnOnline("plain3", "").c); got != "" {
		t.Fatalf("unlabelled runner took an eu execution: %s", got)
	}

	// an attended runner without labels starts the finance workflow itself
	// (attended starts bypass the queue, labels do not apply)
	att := h.rnOnline("desk", "ATTENDED")
	a := h.expect(att.c, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}, 201)
	if a.str("execution.status") != "RUNNING" || labelsOf(t, dig(a.json, "execution.runnerLabels")) != "" {
		t.Fatalf("attended start: %s", a.body)
	}
}

// An execution whose labels no runner has fails at the queue timeout with
// a message that says so.
func TestE2ELabelledQueueTimeout(t *testing.T) {
	h := newHarness(t, withStaleCheck(50*time.Millisecond))
	wf := h.publishedWorkflow(h.admin, "timeout")
	x := h.createExecution(h.admin, map[string]any{"workflowId": wf, "runnerLabels": []string{"gpu", "eu"}}, 201).str("execution.id")
	h.clock.Advance(31 * time.Minute)
	h.rnEventually("queue timeout", func() bool {
		return h.expect(h.admin, "GET", "/api/executions/"+x, nil, 200).str("execution.status") == "FAILED"
	})
	g := h.expect(h.admin, "GET", "/api/executions/"+x, nil, 200)
	if got := g.str("execution.error"); got != "no runner with labels [eu, gpu] took it within 30m" {
		t.Fatalf("error: %q", got)
	}
}
