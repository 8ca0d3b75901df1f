package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the schedule test reads Asia/Tokyo whatever the machine has

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// TestConsoleAuthoring: a developer writes a graph with an error, sees it
// flagged at the offending node as they type, fixes it, saves the draft,
// sees the diff against the published version, publishes and runs it.
func TestConsoleAuthoring(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newHarness(t)
	// A DEVELOPER is offered the authoring pages, not the ADMIN's.
	p := consoleUserPage(t, h, "dev@example.com", "Dana", "DEVELOPER", "/workflows", "Workflows")
	p.fill("Workflow name", "Authored flow")
	p.click("button", "Create workflow")
	p.waitFor("heading", "Workflow Authored flow")
	p.waitFor("button", "Save draft")
	// Its runner labels: its executions go to finance runners only.
	p.fill("Workflow runner labels", "finance")
	p.click("button", "Save runner labels")
	p.waitFor("link", "finance")

	// The template is valid: save and publish it.
	p.waitJS("valid", `document.querySelector("#g-problems").innerText.includes("Valid")`)
	p.click("button", "Save draft")
	p.waitFor("button", "Publish")
	p.waitJS("a draft", `document.querySelector("main").innerText.includes("Draft v1 is not published yet")`)
	p.click("button", "Publish")
	p.waitFor("dialog", "Publish v1 of Authored flow?")
	p.click("button", "Publish")
	p.waitJS("published", `!!document.querySelector(".v-published")`)

	// An edge to a node that does not exist, and a node without a type.
	bad := `{"nodes":[{"id":"start","type":"start"},{"id":"greet"},{"id":"end","type":"end"}],"edges":[{"source":"start","target":"greet"},{"source":"greet","target":"nowhere"}]}`
	// Most of it pasted, the last key typed (typing all of it costs seconds).
	p.do("paste", chromedp.SetValue("", bad[:len(bad)-1], sel("textbox", "Graph JSON")...))
	p.typeInto("Graph JSON", bad[len(bad)-1:])
	p.waitJS("the errors", `document.querySelector("#g-problems").innerText.includes('edges[1].target "nowhere" names no node')`)
	if !eval[bool](p, `document.querySelector("#g-problems").innerText.includes('node "greet": type must be a non-empty string')`) {
		t.Error("the missing type is not flagged")
	}
	if !eval[bool](p, `!!document.querySelector(".g-node.g-bad")`) || !eval[bool](p, `document.querySelector(".g-node.g-bad title").textContent.startsWith("greet")`) {
		t.Error("the offending node is not marked in the drawing")
	}
	if !eval[bool](p, `document.querySelector("#graph-json").getAttribute("aria-invalid") === "true"`) {
		t.Error("the editor is not marked invalid")
	}
	if !eval[bool](p, `[...document.querySelectorAll("button")].find(b => b.textContent === "Save draft").disabled`) {
		t.Error("an invalid graph can be saved")
	}
	// The server refuses it too (the console only helps).
	h.expectError(h.admin, "POST", "/api/workflows/"+eval[string](p, `location.pathname.split("/")[2]`)+"/draft", map[string]any{"graphJson": bad}, 400, "VALIDATION_ERROR")

	// Fixed: a log node between start and end.
	good := `{"nodes":[{"id":"start","type":"start"},{"id":"greet","type":"log","params":{"message":"authored in the console"}},{"id":"end","type":"end"}],"edges":[{"source":"start","target":"greet"},{"source":"greet","target":"end"}]}`
	p.do("paste", chromedp.SetValue("", good[:len(good)-1], sel("textbox", "Graph JSON")...))
	p.typeInto("Graph JSON", good[len(good)-1:])
	p.waitJS("valid again", `document.querySelector("#g-problems").innerText.includes("Valid")`)
	p.waitJS("the diff", `document.querySelector("pre.diff").innerText.includes("+ ") && document.querySelector("pre.diff").innerText.includes("authored in the console")`)
	if n := eval[int](p, `document.querySelectorAll(".g-node").length`); n != 3 {
		t.Errorf("the drawing has %d nodes", n)
	}
	p.click("button", "Save draft")
	p.waitJS("draft v2", `document.querySelector("main").innerText.includes("Draft v2 is not published yet")`)
	p.click("button", "Publish")
	p.waitFor("dialog", "Publish v2 of Authored flow?")
	p.click("button", "Publish")
	p.waitJS("v2 published", `[...document.querySelectorAll("tbody tr")].some(r => r.innerText.includes("v2") && r.querySelector(".v-published"))`)

	// Run now with input and priority.
	p.fill("Input (JSON)", `{"customer": 42}`)
	p.do("priority", chromedp.SetValue("", "HIGH", sel("combobox", "Priority")...))
	p.click("button", "Run now")
	p.waitFor("heading", "Why is it waiting?")
	id := eval[string](p, `location.pathname.split("/")[2]`)
	e := h.expect(h.admin, "GET", "/api/executions/"+id, nil, 200)
	p.waitJS("no runner has the labels", `document.querySelector("main").innerText.includes("No runner has the labels [finance].")`)
	if e.str("execution.priority") != "HIGH" || dig(e.json, "execution.input.customer") != float64(42) || !strings.Contains(string(e.body), `"runnerLabels":["finance"]`) {
		t.Errorf("run now created %s", e.body)
	}
}

// TestConsoleAdministration: an administrator registers a user, changes
// their role and disables them; filters the audit log and exports it as CSV.
func TestConsoleAdministration(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newHarness(t, withLoopbackOutbound)
	dl := t.TempDir()
	p := signedInPage(t, h.base, "/users", adminEmail, adminPassword, "Users")
	p.fill("User email", "olga@example.com")
	p.fill("User name", "Olga")
	p.fill("Initial password", "password-123")
	p.click("button", "Register user")
	p.waitFor("combobox", "Role of olga@example.com")
	olga := h.login("olga@example.com", "password-123")
	if olga.user["role"] != "OPERATOR" {
		t.Errorf("registered as %v", olga.user["role"])
	}
	h.expect(olga, "POST", "/api/auth/api-keys", map[string]any{"name": "olga-script"}, 201)
	p.do("role", chromedp.SetValue("", "DEVELOPER", sel("combobox", "Role of olga@example.com")...)) // fires input and change
	p.waitFor("dialog", "Make olga@example.com DEVELOPER?")
	p.click("button", "Make DEVELOPER")
	p.waitJS("the change shown", `document.querySelector("main").innerText.includes("olga@example.com is now DEVELOPER")`)
	if r := h.expect(olga, "GET", "/api/auth/me", nil, 200); r.str("user.role") != "DEVELOPER" {
		t.Errorf("role after the change: %s", r.str("user.role"))
	}
	p.click("button", "Disable olga@example.com")
	p.waitFor("dialog", "Disable olga@example.com?")
	p.click("button", "Disable user")
	p.waitFor("button", "Enable olga@example.com")
	if st := h.request(olga, "GET", "/api/auth/me", nil).status; st != 401 {
		t.Errorf("a disabled user's session: %d", st)
	}

	p.click("link", "Audit")
	p.waitFor("heading", "Audit")
	p.do("filter", chromedp.SetValue("", "user.created", sel("combobox", "Action")...))
	p.waitJS("one entry", `document.querySelector("main").innerText.includes("1 matching entry")`)
	if !strings.Contains(eval[string](p, `location.search`), "action=user.created") {
		t.Error("the filter is not in the URL")
	}
	p.do("allow downloads", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
		return err
	}))
	p.click("button", "Export CSV")
	var csv []byte
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dl, "exekra-audit-*.csv"))
		if len(files) == 1 {
			csv, _ = os.ReadFile(files[0])
			if len(csv) > 0 {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\r\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "createdAt,action,") || !strings.Contains(lines[1], ",user.created,") || !strings.Contains(lines[1], "olga@example.com") {
		t.Errorf("CSV export:\n%s", csv)
	}

	// API keys on the Account page: one made with a lower role, shown once;
	// everyone's keys for the admin, and a revocation.
	p.click("link", "Account")
	p.waitFor("heading", "API keys")
	p.fill("Key name", "ci-deploy")
	p.do("role", chromedp.SetValue("", "OPERATOR", sel("combobox", "Key role")...))
	p.click("button", "Create API key")
	p.waitFor("button", "Copy key")
	key := eval[string](p, `document.querySelector("section.secret code").textContent`)
	if r := h.expect(&client{token: key}, "GET", "/api/auth/me", nil, 200); r.str("user.email") != adminEmail {
		t.Errorf("the shown key acts as %s", r.body)
	}
	p.waitFor("rowheader", "ci-deploy")
	if !eval[bool](p, `[...document.querySelectorAll("tbody tr")].some(r => r.innerText.includes("ci-deploy") && r.innerText.includes("OPERATOR") && r.innerText.includes("`+key[:8]+`"))`) {
		t.Error("the key's row lacks its role or prefix")
	}
	p.click("link", "Show everyone's keys")
	p.waitFor("rowheader", "olga-script")
	p.click("button", "Revoke key olga-script")
	p.waitFor("dialog", "Revoke the API key olga-script?")
	p.click("button", "Revoke key")
	p.waitJS("revoked", `document.querySelector("main").innerText.includes("The API key olga-script was revoked.")`)
	if p.count("rowheader", "olga-script") != 0 || p.count("rowheader", "ci-deploy") != 1 {
		t.Error("the list after the revocation")
	}
	if r := h.expect(h.admin, "GET", "/api/auth/api-keys?all=true", nil, 200); strings.Contains(string(r.body), "olga-script") {
		t.Errorf("olga's key survives: %s", r.body)
	}

	// Assets: a secret's value goes in and never comes back.
	p.open("/assets")
	p.waitFor("heading", "Assets")
	p.fill("Asset name", "erp-token")
	p.do("type", chromedp.SetValue("", "SECRET", sel("combobox", "Asset type")...))
	p.fill("Asset value", "s3cr3t-value-42")
	p.click("button", "Create asset")
	p.waitFor("rowheader", "erp-token")
	if eval[string](p, `document.querySelector("input[type=password]") ? document.querySelector("input[type=password]").value : ""`) != "" {
		t.Error("the secret stays in the form")
	}
	if strings.Contains(p.bodyText(), "s3cr3t-value-42") {
		t.Error("the page shows the secret")
	}
	list := h.expect(h.admin, "GET", "/api/assets", nil, 200)
	if !strings.Contains(string(list.body), `"hasValue":true`) || strings.Contains(string(list.body), "s3cr3t") {
		t.Errorf("assets: %s", list.body)
	}

	// Event subscriptions, from the System page: the secret is shown once.
	p.click("link", "System")
	// Uptime and the database size, from /metrics (process_start_time_seconds, exekra_storage_file_bytes).
	p.waitJS("uptime and size", `/Uptime\n\d/.test(document.querySelector("main").innerText) && /Database size\n[\d.]+ (KB|MB)/.test(document.querySelector("main").innerText)`)
	if h.scrape()["exekra_storage_file_bytes"] <= 0 {
		t.Error("no exekra_storage_file_bytes in /metrics")
	}
	p.click("link", "Manage event subscriptions")
	p.waitFor("heading", "Event subscriptions")
	p.do("url", chromedp.SetValue("", "https://receiver.example/hooks/exekra", sel("textbox", "Receiver URL")...))
	p.click("button", "Create subscription")
	p.waitFor("button", "Copy secret")
	secret := eval[string](p, `document.querySelector("section.secret code").textContent`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("secret shown: %q", secret)
	}
	p.waitFor("rowheader", "https://receiver.example/hooks/exekra")
	p.do("reload", chromedp.Reload())
	p.waitFor("rowheader", "https://receiver.example/hooks/exekra")
	if strings.Contains(p.bodyText(), secret) {
		t.Error("the secret is shown again after a reload")
	}

	// A receiver that fails: the test ping is FAILED in the delivery log;
	// once it answers, a retry delivers it.
	rc := newReceiver(t, 503)
	sub := h.expect(h.admin, "POST", "/api/subscriptions", map[string]any{"url": rc.url(), "events": []string{"ping"}}, 201)
	rc.setSecrets(sub.str("subscription.secret"))
	p.do("reload", chromedp.Reload())
	p.click("button", "Send a test ping to "+rc.url())
	p.waitFor("heading", "Deliveries to "+rc.url())
	p.waitJS("the failed ping", `[...document.querySelectorAll("tbody tr")].some(r => r.innerText.includes("ping") && r.querySelector(".s-failed") && r.innerText.includes("HTTP 503"))`)
	rc.status.Store(200)
	id := eval[string](p, `document.querySelector("tr[data-id] .s-failed").closest("tr").dataset.id`)
	p.click("button", "Retry delivery "+id)
	p.waitJS("delivered", `!!document.querySelector("tr[data-id='`+id+`'] .s-delivered")`)
	if rc.received("ping") != 2 { // the refused attempt and the retry, both signed
		t.Errorf("the receiver verified %d pings", rc.received("ping"))
	}
}

// TestConsoleScheduleTrigger: a schedule's plain reading and next five fire
// times show in its time zone before it is saved, and match the server's.
func TestConsoleScheduleTrigger(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newHarness(t)
	h.consoleWorkflow("Nightly", helloGraph)
	p := signedInPage(t, h.base, "/triggers", adminEmail, adminPassword, "Triggers")
	p.do("zone", chromedp.SetValue("", "Asia/Tokyo", sel("combobox", "Schedule time zone")...)) // a text field with suggestions
	p.do("cron", chromedp.SetValue("", "30 9 * * 1-5", sel("textbox", "Cron expression")...))
	p.typeInto("Cron expression", " ") // a key press: the preview follows typing
	p.waitJS("the reading", `document.querySelector(".sched-preview").innerText.includes("At 09:30, on Monday, Tuesday, Wednesday, Thursday, Friday. (Asia/Tokyo)")`)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err) // time/tzdata is linked into this test: never missing
	}
	var want []string
	for d := time.Now().In(tokyo); len(want) < 5; d = d.Add(time.Minute) {
		d = d.Truncate(time.Minute)
		if d.Hour() == 9 && d.Minute() == 30 && d.Weekday() >= time.Monday && d.Weekday() <= time.Friday && d.After(time.Now()) {
			want = append(want, d.Format("Mon 2006-01-02 15:04"))
			d = d.Add(23 * time.Hour)
		}
	}
	got := eval[[]string](p, `[...document.querySelectorAll("ol.fires li")].map(li => li.firstChild.textContent)`)
	if len(got) != 5 {
		t.Fatalf("fire times %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("fire time %d: %q, want %s", i, got[i], want[i])
		}
	}
	// A bad expression is explained, not saved.
	p.do("bad cron", chromedp.SetValue("", "61 * * * *", sel("textbox", "Cron expression")...))
	p.typeInto("Cron expression", " ")
	p.waitJS("the error", `document.querySelector(".sched-preview").innerText.includes("is out of 0-59")`)
	p.do("cron", chromedp.SetValue("", "30 9 * * 1-5", sel("textbox", "Cron expression")...))
	p.click("button", "Create trigger")
	p.waitJS("created", `document.querySelector("main").innerText.includes("created")`)
	list := h.expect(h.admin, "GET", "/api/triggers", nil, 200)
	trs, _ := list.json["triggers"].([]any)
	if len(trs) != 1 {
		t.Fatalf("triggers: %s", list.body)
	}
	next, _ := time.Parse(time.RFC3339, trs[0].(map[string]any)["nextRunAt"].(string))
	if next.In(tokyo).Format("Mon 2006-01-02 15:04") != want[0] {
		t.Errorf("the server's next run %s, the console's %s", next.In(tokyo), want[0])
	}

	// A webhook created with a secret: its curl example, run as shown, is
	// accepted (timestamped signature); the secret is cleared and set again on
	// the existing trigger; its fire shows live.
	p.do("type", chromedp.SetValue("", "WEBHOOK", sel("combobox", "Trigger type")...))
	p.fill("Webhook secret (optional)", "hook-secret-1")
	p.click("button", "Create trigger")
	p.waitFor("heading", "Webhook created")
	example := eval[string](p, `document.querySelector("pre[aria-label='Webhook example']").textContent`)
	if !strings.Contains(example, "X-Exekra-Signature: t=$T,v1=$SIG") {
		t.Errorf("example: %s", example)
	}
	run := exec.Command("sh", "-c", example)
	run.Env = append(os.Environ(), "EXEKRA_WEBHOOK_SECRET=hook-secret-1")
	if out, err := run.CombinedOutput(); err != nil || !strings.Contains(string(out), `"success":true`) {
		t.Errorf("the example, run: %v %s", err, out)
	}
	var wh string
	for _, x := range h.expect(h.admin, "GET", "/api/triggers", nil, 200).json["triggers"].([]any) {
		if m := x.(map[string]any); m["type"] == "WEBHOOK" {
			wh = m["id"].(string)
		}
	}
	p.waitJS("the example's fire, live", `[...document.querySelectorAll("tbody tr")].some(r => r.dataset.id === "`+wh+`" && r.querySelector(".last-fired time"))`)
	p.click("button", "Clear secret of trigger "+wh)
	p.waitFor("dialog", "Clear the secret of trigger "+wh[:10]+"?")
	p.click("button", "Clear secret")
	p.waitFor("button", "Set secret of trigger "+wh)
	fired, _ := h.expect(anon, "POST", "/api/triggers/webhook/"+wh, map[string]any{}, 200).json["executionId"].(string)
	if fired == "" {
		t.Fatal("the unsigned fire named no execution")
	}
	// This fire's own execution, not the example's (a click on a row while
	// its repaint is on the way can land between two rows).
	p.waitJS("the fire, live", `[...document.querySelectorAll("tbody tr")].some(r => r.dataset.id === "`+wh+`" && r.querySelector(".last-fired time") && r.querySelector(".last-result a[href='/executions/`+fired+`']") && /QUEUED|ASSIGNED|RUNNING|COMPLETED|FAILED/.test(r.querySelector(".last-result").textContent))`)
	p.click("button", "Set secret of trigger "+wh)
	p.fill("New secret of trigger "+wh, "hook-secret-2")
	p.click("button", "Save secret")
	p.waitFor("button", "Clear secret of trigger "+wh)
	if r := h.expect(h.admin, "GET", "/api/triggers/"+wh, nil, 200); dig(r.json, "trigger.hasSecret") != true || strings.Contains(string(r.body), "hook-secret") {
		t.Errorf("after setting the secret: %s", r.body)
	}
	if st := h.request(anon, "POST", "/api/triggers/webhook/"+wh, map[string]any{}).status; st != 401 {
		t.Errorf("an unsigned call to a signed webhook: %d", st)
	}
}
