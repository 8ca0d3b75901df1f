package main

import (
	"testing"
	"time"
)

// End-to-end tests of what /metrics tells an operator: execution outcomes,
// queue waits and run durations, webhook fires, the license dates and the
// process collectors (docs/operations.md, Metrics).

func TestE2EMetricsExecutionOutcomes(t *testing.T) {
	h := newHarness(t)
	op := h.userWithRole("OPERATOR")
	wf := h.publishedWorkflow(h.admin, "measured")
	r1, _ := h.onlineRunner("runner-1")

	m := h.scrape()
	for _, series := range []string{`exekra_execution_queue_wait_seconds_count`, `exekra_execution_run_duration_seconds_count`,
		`exekra_executions_finished_total{outcome="COMPLETED"}`, `exekra_executions_finished_total{outcome="STOPPED"}`,
		`exekra_webhook_fires_total{outcome="accepted"}`, `exekra_webhook_fires_total{outcome="rejected"}`} {
		if v, ok := m[series]; !ok || v != 0 {
			t.Fatalf("before any work %s = %v (present %v), want 0", series, v, ok)
		}
	}
	if m[`process_resident_memory_bytes`] <= 0 || m[`process_open_fds`] <= 0 || m[`go_goroutines`] <= 0 {
		t.Errorf("process collectors: rss %v fds %v goroutines %v", m[`process_resident_memory_bytes`], m[`process_open_fds`], m[`go_goroutines`])
	}
	if exp := m[`exekra_license_expiry_timestamp_seconds`]; exp < float64(time.Now().Unix()) || m[`exekra_license_state{state="ACTIVE"}`] != 1 {
		t.Errorf("license: expiry %v, ACTIVE %v", exp, m[`exekra_license_state{state="ACTIVE"}`])
	}

	// One run: queued 2 s (server clock), ran 3 s, completed.
	x := h.createExecution(op, map[string]any{"workflowId": wf}, 201).str("execution.id")
	h.clock.Advance(2 * time.Second)
	if got := h.pollID(r1); got != x {
		t.Fatalf("poll %q, want %s", got, x)
	}
	status := "/api/executions/" + x + "/status"
	h.expect(r1, "POST", status, map[string]any{"status": "RUNNING"}, 200)
	h.clock.Advance(3 * time.Second)
	h.expect(r1, "POST", status, map[string]any{"status": "COMPLETED"}, 200)
	h.expect(r1, "POST", status, map[string]any{"status": "COMPLETED"}, 200) // a repeat counts nothing
	// One stopped while queued: an outcome, neither a wait nor a run.
	q := h.createExecution(op, map[string]any{"workflowId": wf}, 201).str("execution.id")
	h.expect(op, "POST", "/api/executions/"+q+"/stop", nil, 200)
	// Webhooks: one accepted, one for no such trigger.
	hook := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": map[string]any{}}, 201).str("trigger.id")
	h.expect(anon, "POST", "/api/triggers/webhook/"+hook, `{"n":1}`, 200)
	h.expectError(anon, "POST", "/api/triggers/webhook/"+hook+"x", `{}`, 404, "NOT_FOUND")

	m = h.scrape()
	for series, want := range map[string]float64{
		`exekra_execution_queue_wait_seconds_count`:                                                 1,
		`exekra_execution_queue_wait_seconds_bucket{le="1"}`:                                        0,
		`exekra_execution_queue_wait_seconds_bucket{le="2.5"}`:                                      1,
		`exekra_execution_run_duration_seconds_count`:                                               1,
		`exekra_execution_run_duration_seconds_bucket{le="1"}`:                                      0,
		`exekra_execution_run_duration_seconds_bucket{le="5"}`:                                      1,
		`exekra_executions_finished_total{outcome="COMPLETED"}`:                                     1,
		`exekra_executions_finished_total{outcome="STOPPED"}`:                                       1,
		`exekra_executions_finished_total{outcome="FAILED"}`:                                        0,
		`exekra_webhook_fires_total{outcome="accepted"}`:                                            1,
		`exekra_webhook_fires_total{outcome="rejected"}`:                                            1,
		`exekra_webhook_fires_total{outcome="throttled"}`:                                           0,
		`exekra_executions{status="COMPLETED"}`:                                                     1,
		`exekra_storage_commit_failures_total`:                                                      0,
		`exekra_http_requests_total{method="POST",route="/api/triggers/webhook/{id}",status="200"}`: 1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if s := m[`exekra_execution_queue_wait_seconds_sum`]; s < 2 || s > 2.5 {
		t.Errorf("queue wait sum %v, want about 2 s", s)
	}
	if s := m[`exekra_execution_run_duration_seconds_sum`]; s < 3 || s > 3.5 {
		t.Errorf("run duration sum %v, want about 3 s", s)
	}
}
