package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/cmd/internal/refrunner"
)

// helloGraph is the README's first workflow: start → log → end.
const helloGraph = `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"log","params":{"message":"hello"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"e"}]}`

// startRefRunner runs the reference runner in-process against h until the
// test ends.
func (h *harness) startRefRunner(key, secret string, allowShell bool) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- refrunner.Run(ctx, refrunner.Config{
			URL: h.base, MachineKey: key, MachineSecret: secret, InsecureSkipVerify: true, AllowShell: allowShell,
			HeartbeatInterval: time.Second, StopCheckInterval: 200 * time.Millisecond, PollWait: time.Second,
			IdlePollDelay: 50 * time.Millisecond, BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second,
			SampleInterval: 50 * time.Millisecond,
		})
	}()
	h.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				h.t.Errorf("runner: %v", err)
			}
		case <-time.After(15 * time.Second):
			h.t.Error("runner did not stop")
		}
	})
}

// waitExecution polls an execution until it is terminal.
func (h *harness) waitExecution(id string) *response {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := h.expect(h.admin, "GET", "/api/executions/"+id, nil, 200)
		switch r.str("execution.status") {
		case "COMPLETED", "FAILED", "STOPPED":
			return r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("execution %s still %s", id, r.str("execution.status"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestREADMEWalkthrough follows the README from a fresh HTTPS server to a
// completed execution run by the reference runner.
func TestREADMEWalkthrough(t *testing.T) {
	h := newUnactivatedHarness(t, func(c *Config) { c.InsecureHTTP = false })
	h.base = strings.Replace(h.base, "http://", "https://", 1)
	h.http.Transport = insecureTransport()
	if h.expect(anon, "GET", "/api/status", nil, 200).str("state") != "UNACTIVATED" {
		t.Fatal("fresh server not UNACTIVATED")
	}
	h.activate(h.issueLicense(licenseOpts{}))
	h.admin = h.bootstrap(adminEmail, adminPassword)

	wf := h.expect(h.admin, "POST", "/api/workflows", map[string]any{"name": "Hello", "description": "first workflow"}, 201).str("workflow.id")
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": helloGraph}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "runner-01", "type": "UNATTENDED"}, 201)
	if h.expect(anon, "GET", "/api/status", nil, 200).str("state") != "OPERATIONAL" {
		t.Fatal("not OPERATIONAL after a runner registered")
	}
	h.startRefRunner(reg.str("machineKey"), reg.str("machineSecret"), false)

	ex := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201).str("execution.id")
	done := h.waitExecution(ex)
	if done.str("execution.status") != "COMPLETED" || !strings.Contains(done.str("execution.logs"), "hello") ||
		done.str("execution.startedAt") == "" || done.str("execution.completedAt") == "" ||
		done.str("execution.runnerId") != reg.str("id") {
		t.Fatalf("execution: %s", done.body)
	}
	if m, ok := dig(done.json, "execution.metrics").(map[string]any); !ok || m["cpuAvg"] == nil || m["memPeakMB"] == nil {
		t.Fatalf("no metrics: %s", done.body)
	}
	// The runner is back to ONLINE and heartbeating; the analytics saw the run.
	// The runner hears of the end a moment after it is stored.
	var r *response
	h.rnEventually("the runner back ONLINE", func() bool {
		r = h.expect(h.admin, "GET", "/api/runners/"+reg.str("id"), nil, 200)
		return r.str("runner.status") == "ONLINE"
	})
	if r.str("runner.status") != "ONLINE" || r.str("runner.lastHeartbeatAt") == "" || strings.Contains(string(r.body), reg.str("machineSecret")) {
		t.Fatalf("runner: %s", r.body)
	}
	a := h.expect(h.admin, "GET", "/api/analytics/process-performance", nil, 200)
	rows, _ := a.json["workflows"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["completed"].(float64) != 1 {
		t.Fatalf("analytics: %s", a.body)
	}
}

// TestWebhookToRunner runs server and reference runner together through a
// webhook-triggered workflow with a signed body, and checks that a shell
// node is refused by a runner started without --allow-shell.
func TestWebhookToRunner(t *testing.T) {
	h := newHarness(t)
	wf := h.expect(h.admin, "POST", "/api/workflows", map[string]any{"name": "Hooked"}, 201).str("workflow.id")
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": helloGraph}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	trig := h.expect(h.admin, "POST", "/api/triggers", map[string]any{
		"workflowId": wf, "type": "WEBHOOK", "config": `{"secret":"s3cret-value"}`, "enabled": true}, 201)
	path := trig.str("trigger.webhookPath")
	if path == "" || trig.json["trigger"].(map[string]any)["hasSecret"] != true || strings.Contains(string(trig.body), "s3cret-value") {
		t.Fatalf("trigger: %s", trig.body)
	}
	reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "hook-runner"}, 201)
	h.startRefRunner(reg.str("machineKey"), reg.str("machineSecret"), false)

	body := `{"invoice":42}`
	mac := hmac.New(sha256.New, []byte("s3cret-value"))
	mac.Write([]byte(body))
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED")
	fired := h.expect(anon, "POST", path, body, 200, "X-Exekra-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	if fired.json["success"] != true || fired.str("executionId") == "" {
		t.Fatalf("webhook: %s", fired.body)
	}
	done := h.waitExecution(fired.str("executionId"))
	if done.str("execution.status") != "COMPLETED" || done.str("execution.triggerId") != trig.str("trigger.id") ||
		dig(done.json, "execution.triggeredBy") != nil || dig(done.json, "execution.input.invoice") != float64(42) {
		t.Fatalf("webhook execution: %s", done.body)
	}

	// A shell node fails the execution on a runner without --allow-shell.
	shell := h.expect(h.admin, "POST", "/api/workflows", map[string]any{"name": "Shell"}, 201).str("workflow.id")
	h.expect(h.admin, "POST", "/api/workflows/"+shell+"/draft", map[string]any{"graphJson": `{"nodes":[{"id":"s","type":"start"},{"id":"x","type":"shell","params":{"command":"touch /tmp/should-not-exist"}}],"edges":[{"source":"s","target":"x"}]}`}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+shell+"/publish", nil, 200)
	ex := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": shell}, 201).str("execution.id")
	failed := h.waitExecution(ex)
	if failed.str("execution.status") != "FAILED" || !strings.Contains(strings.ToLower(failed.str("execution.error")), "shell") {
		t.Fatalf("shell execution: %s", failed.body)
	}
}
