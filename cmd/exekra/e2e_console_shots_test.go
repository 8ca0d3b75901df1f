package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestConsoleScreenshots writes a screenshot of every console page to the
// folder named by EXEKRA_CONSOLE_SHOTS (docs/console/ for docs/console.md);
// without it the test skips.
func TestConsoleScreenshots(t *testing.T) {
	dir := os.Getenv("EXEKRA_CONSOLE_SHOTS")
	if dir == "" {
		t.Skip("set EXEKRA_CONSOLE_SHOTS=DIR to write the console's screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(p *page, name string) { p.shot(filepath.Join(dir, name+".png")) }

	// First-run pages.
	fresh := newUnactivatedHarness(t)
	fp := newPage(t, fresh.base)
	fp.open("/")
	fp.waitFor("heading", "Activate Exekra")
	shot(fp, "activate")
	fp.fill("License", fresh.issueLicense(licenseOpts{}))
	fp.click("button", "Activate")
	fp.waitFor("button", "Create administrator")
	shot(fp, "bootstrap")
	fp.fill("Name", "First Admin")
	fp.fill("Password", adminPassword)
	fp.click("button", "Create administrator")
	fp.waitFor("heading", "Dashboard")
	// A queued execution with no runner: the page says why it waits.
	fresh.admin = fresh.login(adminEmail, adminPassword)
	qwf := fresh.consoleWorkflow("Payroll export", consoleLogGraph)
	fresh.expect(fresh.admin, "POST", "/api/executions", map[string]any{"workflowId": qwf, "priority": "LOW"}, 201)
	queued := fresh.expect(fresh.admin, "POST", "/api/executions", map[string]any{"workflowId": qwf, "input": map[string]any{"month": "2026-11"}, "runnerLabels": []string{"payroll"}}, 201).str("execution.id")
	fp.open("/executions/" + queued)
	fp.waitJS("the reason", `document.querySelector("main").innerText.includes("No runner has the labels [payroll]")`)
	shot(fp, "execution-queued")

	// A server with some history.
	h := newHarness(t)
	h.expect(h.admin, "POST", "/api/auth/register", map[string]any{"email": "dev@example.com", "password": "password-123", "name": "Dana Developer", "role": "DEVELOPER"}, 201)
	wf := h.expect(h.admin, "POST", "/api/workflows", map[string]any{"name": "Invoice intake", "description": "reads invoices from the inbox"}, 201).str("workflow.id")
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": consoleLogGraph}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	bad := h.expect(h.admin, "POST", "/api/workflows", map[string]any{"name": "Bank reconciliation", "description": "matches statements"}, 201).str("workflow.id")
	h.expect(h.admin, "POST", "/api/workflows/"+bad+"/draft", map[string]any{"graphJson": `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"log","params":{"message":"opening statement"}},{"id":"f","type":"fail","params":{"message":"statement total does not match the ledger"}}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"f"}]}`}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+bad+"/publish", nil, 200)
	h.expect(h.admin, "POST", "/api/subscriptions", map[string]any{"url": "https://hooks.example.com/exekra", "events": []string{"execution.failed", "runner.offline"}, "description": "on-call pager"}, 201)
	h.expect(h.admin, "POST", "/api/assets", map[string]any{"name": "erp-login", "type": "CREDENTIAL", "username": "robot", "password": "not-shown", "description": "the ERP's robot account"}, 201)
	h.expect(h.admin, "POST", "/api/assets", map[string]any{"name": "inbox-folder", "type": "TEXT", "value": "Invoices/Incoming"}, 201)
	h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE", "config": `{"cron":"0 7 * * 1-5","timezone":"Europe/Berlin"}`, "enabled": true}, 201)
	hook := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": `{"secret":"not-shown"}`, "enabled": true}, 201).str("trigger.id")
	h.expect(h.admin, "POST", "/api/auth/api-keys", map[string]any{"name": "ci-deploy", "role": "DEVELOPER"}, 201)
	h.expect(h.admin, "POST", "/api/auth/api-keys", map[string]any{"name": "nightly-report"}, 201)
	h.expect(h.admin, "PATCH", "/api/workflows/"+wf, map[string]any{"runnerLabels": []string{"finance"}}, 200)
	reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "runner-01", "type": "UNATTENDED", "labels": []string{"finance", "windows"}}, 201)
	h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "desk-02", "type": "ATTENDED"}, 201)
	h.startRefRunner(reg.str("machineKey"), reg.str("machineSecret"), false)
	var last string
	for i := 0; i < 3; i++ {
		last = h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "input": map[string]any{"invoice": fmt.Sprintf("INV-%d", 1000+i)}}, 201).str("execution.id")
		h.waitExecution(last)
	}
	failed := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": bad, "priority": "HIGH"}, 201).str("execution.id")
	h.waitExecution(failed)
	// The webhook fired once: the Triggers page shows its last run.
	body := `{"invoice":"INV-2000"}`
	h.waitExecution(h.expect(anon, "POST", "/api/triggers/webhook/"+hook, body, 200, "X-Exekra-Signature", sign("not-shown", body)).str("executionId"))

	p := newPage(t, h.base)
	p.open("/login")
	p.waitFor("heading", "Sign in")
	shot(p, "login")
	p.signIn(adminEmail, adminPassword)
	for _, pg := range []struct{ path, heading, file string }{
		{"/", "Dashboard", "dashboard"},
		{"/executions", "Executions", "executions"},
		{"/executions/" + last, "", "execution"},
		{"/executions/" + failed, "", "execution-failed"},
		{"/runners", "Runners", "runners"},
		{"/workflows", "Workflows", "workflows"},
		{"/workflows/" + bad, "Preview", "workflow"},
		{"/assets", "Assets", "assets"},
		{"/triggers", "Triggers", "triggers"},
		{"/analytics", "Analytics", "analytics"},
		{"/users", "Users", "users"},
		{"/audit", "Audit", "audit"},
		{"/license", "License", "license"},
		{"/system", "System", "system"},
		{"/subscriptions", "Event subscriptions", "subscriptions"},
		{"/account", "Account", "account"},
	} {
		p.open(pg.path)
		if pg.heading != "" {
			p.waitFor("heading", pg.heading)
		} else {
			p.waitFor("heading", "Log")
		}
		p.waitJS("page settled", `!document.querySelector("main").innerText.includes("…")`)
		shot(p, pg.file)
	}
	// A subscription's delivery log.
	p.open("/subscriptions")
	p.click("button", "Deliveries to https://hooks.example.com/exekra")
	p.waitFor("heading", "Deliveries to https://hooks.example.com/exekra")
	shot(p, "subscription-deliveries")
	// The dark theme follows the system setting.
	p.do("dark", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	p.open("/executions/" + last)
	p.waitFor("heading", "Log")
	shot(p, "execution-dark")
	for _, pg := range []struct{ path, heading, file string }{
		{"/", "Dashboard", "dashboard-dark"},
		{"/triggers", "Triggers", "triggers-dark"},
	} {
		p.open(pg.path)
		p.waitFor("heading", pg.heading)
		p.waitJS("page settled", `!document.querySelector("main").innerText.includes("…")`)
		shot(p, pg.file)
	}
}

// consoleLogGraph logs a few lines (one of them a warning) and ends.
const consoleLogGraph = `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"log","params":{"message":"fetching 3 invoices from the inbox"}},{"id":"d","type":"delay","params":{"ms":300}},{"id":"b","type":"log","params":{"message":"stored invoices INV-1000..INV-1002"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"a"},{"source":"a","target":"d"},{"source":"d","target":"b"},{"source":"b","target":"e"}]}`
