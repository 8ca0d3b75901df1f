package main

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Console flows in a real browser against the real server (see
// e2e_console_browser_test.go for the browser helpers).

var allNav = []string{"Dashboard", "Executions", "Runners", "Workflows", "Triggers", "Analytics", "Users", "Audit", "License", "System"}

// TestConsoleFirstRun: a fresh server at / shows activation, then the
// bootstrap page, then the dashboard; the session survives a reload; an
// expired session returns to login and then to the page the user was on.
func TestConsoleFirstRun(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newUnactivatedHarness(t)
	p := newPage(t, h.base)
	p.open("/")
	p.waitFor("heading", "Activate Exekra")
	// Names are unique even to a tool that matches them as substrings.
	if n := eval[int](p, `[...document.querySelectorAll("input, textarea, select")].filter(e => e.labels[0] && e.labels[0].textContent.toLowerCase().includes("license")).length`); n != 1 {
		t.Errorf("%d fields on the activation page have a name containing 'license'", n)
	}
	p.fill("License", h.issueLicense(licenseOpts{}))
	p.click("button", "Activate")

	p.waitFor("button", "Create administrator")
	if got := eval[string](p, `document.querySelector("input[type=email]").value`); got != adminEmail {
		t.Errorf("bootstrap email = %q, want the licensee's %q", got, adminEmail)
	}
	p.fill("Name", "First Admin")
	p.fill("Password", adminPassword)
	p.click("button", "Create administrator")
	p.waitFor("heading", "Dashboard")
	p.waitFor("button", "Sign out")
	p.checkNav("ADMIN")
	if n := eval[int](p, `document.querySelectorAll("h1").length`); n != 1 {
		t.Errorf("%d h1 on the dashboard", n)
	}
	for _, name := range allNav {
		if n := eval[int](p, `[...document.querySelectorAll("a")].filter(a => (a.getAttribute("aria-label") || a.textContent).toLowerCase().includes("`+strings.ToLower(name)+`")).length`); n != 1 {
			t.Errorf("%d links on the dashboard have a name containing %q", n, name)
		}
	}
	if got := eval[string](p, `localStorage.length + ":" + Object.keys(localStorage).join(",")`); strings.Contains(strings.ToLower(got), "token") {
		t.Errorf("localStorage holds %q", got)
	}

	// A page's URL alone restores it; a reload keeps the session.
	p.open("/executions?status=QUEUED")
	p.waitFor("heading", "Executions")
	p.do("reload", chromedp.Reload())
	p.waitFor("heading", "Executions")
	if v := eval[string](p, `document.querySelector("select[name=status]").value`); v != "QUEUED" {
		t.Errorf("status filter after reload = %q", v)
	}

	// Another session changes the password: this one is revoked, and the
	// next request returns to login, then back here.
	other := h.login(adminEmail, adminPassword)
	h.expect(other, "POST", "/api/auth/password", map[string]any{"currentPassword": adminPassword, "newPassword": "a-new-password-2"}, 200)
	p.click("button", "Apply filters")
	p.waitFor("button", "Sign in")
	if loc := eval[string](p, `location.pathname + location.search`); !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("after expiry at %s", loc)
	}
	p.signIn(adminEmail, "a-new-password-2")
	p.waitFor("heading", "Executions")
	if loc := eval[string](p, `location.pathname + location.search`); loc != "/executions?status=QUEUED" {
		t.Errorf("back at %s, want /executions?status=QUEUED", loc)
	}

	// Sign out ends the session.
	p.click("button", "Sign out")
	p.waitFor("button", "Sign in")
	if st := h.request(&client{token: ""}, "GET", "/api/auth/me", nil).status; st != 401 {
		t.Errorf("me without a token: %d", st)
	}
}

// consoleWorkflow creates and publishes a workflow running graph.
func (h *harness) consoleWorkflow(name, graph string) string {
	h.t.Helper()
	wf := h.expect(h.admin, "POST", "/api/workflows", map[string]any{"name": name}, 201).str("workflow.id")
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": graph}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	return wf
}

// TestConsoleOperatorNotOfferedAdminActions: an OPERATOR sees only the
// navigation and actions their role may use; the server still refuses the rest.
func TestConsoleOperatorNotOfferedAdminActions(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newHarness(t)
	h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "runner-01"}, 201)
	p := consoleUserPage(t, h, "op@example.com", "Olga Operator", "OPERATOR", "/", "Dashboard")
	p.click("link", "Runners")
	p.waitFor("heading", "Runners")
	p.waitFor("rowheader", "runner-01")
	for _, name := range []string{"Register runner", "Delete runner-01", "Regenerate secret of runner-01"} {
		if n := p.count("button", name); n != 0 {
			t.Errorf("operator is offered %q", name)
		}
	}
	p.click("link", "License")
	p.waitFor("heading", "License")
	for _, name := range []string{"Upload renewal", "Validate now"} {
		if n := p.count("button", name); n != 0 {
			t.Errorf("operator is offered %q", name)
		}
	}
	// An admin page by its URL says the role may not use it.
	p.open("/users")
	p.waitFor("heading", "Users")
	p.waitJS("the refusal", `document.querySelector("main").innerText.includes("Your role may not use this page")`)
	// Operators may stop and re-run executions: those are offered.
	p.click("link", "Executions")
	p.waitFor("button", "Stop selected")
	p.waitFor("button", "Re-run selected")

	// Their own password they change on the Account page.
	p.click("link", "Account")
	p.waitFor("heading", "Account")
	p.fill("Current password", "password-123")
	p.fill("New password", "another-pass-456")
	p.click("button", "Change password")
	p.waitJS("the change confirmed", `document.querySelector("main").innerText.includes("Your password was changed")`)
	h.login("op@example.com", "another-pass-456")
	// Their own API keys, at most their own role; everyone's keys are not offered.
	p.waitFor("heading", "API keys")
	if p.count("link", "Show everyone's keys") != 0 {
		t.Error("operator is offered everyone's keys")
	}
	if got := eval[string](p, `[...document.querySelector("#"+[...document.querySelectorAll("label")].find(l => l.textContent === "Key role").htmlFor).options].map(o => o.value).join()`); got != "OPERATOR" {
		t.Errorf("operator's key roles: %s", got)
	}
	p.click("link", "Dashboard") // this session survives its own change
	p.waitFor("heading", "Dashboard")
}

// TestConsoleExecutionsKeyboard: the executions page used with the keyboard
// alone: "/" focuses the filters, Tab and Space select rows, Enter stops
// them after a confirmation naming them, with a visible focus throughout.
func TestConsoleExecutionsKeyboard(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newHarness(t)
	wf := h.consoleWorkflow("Keyboard flow", helloGraph)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201).str("execution.id"))
	}
	p := signedInPage(t, h.base, "/executions", adminEmail, adminPassword, "Executions")
	p.waitFor("checkbox", "Select execution "+ids[0])

	p.key("/")
	if f := p.focused(); f != "Status" {
		t.Fatalf(`"/" focused %q, want the Status filter`, f)
	}
	// Newest first: ids[2], ids[1], ids[0]. Select the two newest.
	p.tabTo("Select execution "+ids[2], false)
	if o := eval[string](p, `getComputedStyle(document.activeElement).outlineStyle`); o == "none" {
		t.Error("the focused checkbox shows no focus outline")
	}
	p.key(" ")
	p.tabTo("Select execution "+ids[1], false)
	p.key(" ")
	p.tabTo("Stop selected", true)
	p.key(kb.Enter)
	p.waitFor("dialog", "Stop 2 executions?")
	for _, id := range ids[1:] {
		if !eval[bool](p, `document.querySelector("dialog").innerText.includes("`+id+`")`) {
			t.Errorf("the confirmation does not name %s", id)
		}
	}
	if f := p.focused(); f != "Cancel" {
		t.Errorf("the dialog opened with focus on %q, want Cancel", f)
	}
	p.key(kb.Tab)
	if f := p.focused(); f != "Stop 2 executions" {
		t.Fatalf("Tab in the dialog reached %q", f)
	}
	p.key(kb.Enter)
	p.waitJS("two rows stopped", `document.querySelectorAll("tbody .s-stopped").length === 2`)
	for i, id := range ids {
		want := "STOPPED"
		if i == 0 {
			want = "QUEUED"
		}
		if got := h.expect(h.admin, "GET", "/api/executions/"+id, nil, 200).str("execution.status"); got != want {
			t.Errorf("execution %d: %s, want %s", i, got, want)
		}
	}
	// Enter on a row's link opens the execution.
	p.tabTo("Execution "+ids[0], false)
	p.key(kb.Enter)
	p.waitFor("heading", "Why is it waiting?")
}

// consoleRunGraph logs, waits long enough to be seen RUNNING, logs an error
// line and ends.
const consoleRunGraph = `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"log","params":{"message":"first step done"}},{"id":"d","type":"delay","params":{"ms":1500}},{"id":"b","type":"log","params":{"message":"error: a recoverable error was retried"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"a"},{"source":"a","target":"d"},{"source":"d","target":"b"},{"source":"b","target":"e"}]}`

// TestConsoleRunnerAndLiveExecution: an admin registers a runner in the
// console, which shows the secret once and the command that starts it; an
// execution waits (and says why) until that very command, run as a real
// `exekra runner` process, takes it; the page follows it live to COMPLETED
// with its log, without a reload.
func TestConsoleRunnerAndLiveExecution(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	bin := testBinary(t)
	h := newHarness(t)
	wf := h.consoleWorkflow("Live flow", consoleRunGraph)
	p := signedInPage(t, h.base, "/runners", adminEmail, adminPassword, "Runners")
	p.waitJS("the live stream", `document.querySelector(".live").dataset.state === "live"`)
	p.fill("Runner name", "console-runner")
	p.fill("Runner labels", "finance, windows")
	p.click("button", "Register runner")
	p.waitFor("heading", "Runner console-runner registered")
	p.waitFor("button", "Copy secret")
	p.waitFor("button", "Copy command")
	cmdText := eval[string](p, `document.querySelector("pre[aria-label='Runner command']").textContent`)
	fields := strings.Fields(cmdText)
	if len(fields) != 8 || fields[0] != "exekra" || fields[1] != "runner" || fields[2] != "--url" || fields[3] != h.base ||
		fields[4] != "--machine-key" || !strings.HasPrefix(fields[5], "FC-") || fields[6] != "--machine-secret" || len(fields[7]) != 64 {
		t.Fatalf("runner command %q", cmdText)
	}
	p.waitFor("rowheader", "console-runner")
	// The secret is shown once: a reload no longer shows it.
	p.do("reload", chromedp.Reload())
	p.waitFor("rowheader", "console-runner")
	if strings.Contains(p.bodyText(), fields[7]) {
		t.Error("the secret is still shown after a reload")
	}
	// Labels: set at registration, edited by the admin, filtered by in the URL.
	p.waitFor("link", "windows")
	p.click("button", "Edit labels of console-runner")
	p.do("labels", chromedp.SetValue("", "finance, windows, eu", sel("textbox", "Labels of console-runner")...))
	p.click("button", "Save labels of console-runner")
	p.waitFor("link", "eu")
	if r := h.expect(h.admin, "GET", "/api/runners?label=eu", nil, 200); !strings.Contains(string(r.body), `"labels":["eu","finance","windows"]`) && !strings.Contains(string(r.body), `"labels":["finance","windows","eu"]`) {
		t.Errorf("labels after the edit: %s", r.body)
	}
	p.click("link", "eu")
	p.waitJS("the filter", `document.querySelector("main").innerText.includes("1 runner with the label eu")`)
	p.open("/runners?label=nowhere")
	p.waitJS("filtered out", `document.querySelector("main").innerText.includes("0 runners with the label nowhere")`)

	// Queued with no runner online: the execution page says why it waits.
	id := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "priority": "HIGH", "input": map[string]any{"n": 1}, "runnerLabels": []string{"finance"}}, 201).str("execution.id")
	p.open("/executions/" + id)
	p.waitFor("heading", "Why is it waiting?")
	// The server's waiting object: its reason and the matching runners by status.
	p.waitJS("the reason", `document.querySelector("main").innerText.includes("All matching runners with labels [finance] are offline (1 offline).")`)
	p.waitJS("matching runners", `document.querySelector("main").innerText.includes("Matching runners offline\n1")`)
	p.waitFor("link", "finance")
	p.waitJS("the live stream", `document.querySelector(".live").dataset.state === "live"`)

	// The command from the page, run as it is (with this build's binary).
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, fields[1:]...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("runner output:\n%s", out.String())
		}
	})
	p.waitJS("RUNNING live", `!!document.querySelector("main .s-running")`)
	p.waitJS("COMPLETED live", `!!document.querySelector("main .s-completed")`)
	p.waitJS("the log", `document.querySelector(".log-view").innerText.includes("error: a recoverable error was retried")`)
	if !eval[bool](p, `document.querySelector(".log-view").innerText.includes("first step done")`) {
		t.Error("the log lacks its first line")
	}
	for _, step := range []string{"Created", "Assigned", "Started", "Finished", "Total"} {
		if !eval[bool](p, `[...document.querySelectorAll("ol.timeline .step")].some(e => e.textContent === "`+step+`")`) {
			t.Errorf("timeline lacks %s", step)
		}
	}
	p.click("button", "Jump to first error")
	p.waitJS("the error line marked", `!!document.querySelector(".ln.cur.err")`)
	if n := eval[int](p, `document.querySelectorAll("h1").length`); n != 1 {
		t.Errorf("%d h1", n)
	}
	// The runners page shows the runner ONLINE again, live.
	p.click("link", "Runners")
	p.waitFor("rowheader", "console-runner")
	p.waitJS("runner online", `[...document.querySelectorAll("tbody tr")].some(r => r.innerText.includes("console-runner") && r.querySelector(".s-online"))`)

	// The dashboard follows the events: another run shows up as finished today.
	p.click("link", "Dashboard")
	p.waitFor("heading", "Finished today")
	completed := `[...document.querySelectorAll(".figure")].find(f => f.querySelector(".label").textContent === "Completed").querySelector(".num").textContent`
	p.waitJS("one completed", completed+` === "1"`)
	if got := eval[string](p, `[...document.querySelectorAll(".figure")].find(f => f.querySelector(".label").textContent === "Online").querySelector(".num").textContent`); got != "1" {
		t.Errorf("runners online: %s", got)
	}
	eval[bool](p, `(window.__samePage = true)`)
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	p.waitJS("two completed", completed+` === "2"`)
	if !eval[bool](p, `window.__samePage === true`) {
		t.Error("the dashboard reloaded")
	}
}

// dropProxy forwards TCP connections to the server and can cut them all
// and refuse new ones for a while: a dropped network, seen from the
// browser. It records what clients sent (the first bytes of each
// connection) to show how the browser came back.
type dropProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
	sent   strings.Builder
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *dropProxy) addr() string { return p.ln.Addr().String() }

func (p *dropProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					p.mu.Lock()
					p.sent.Write(buf[:n])
					p.mu.Unlock()
					if _, werr := s.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			s.Close()
		}()
		go func() {
			_, _ = io.Copy(c, s)
			c.Close()
		}()
	}
}

// cut closes every open connection.
func (p *dropProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// setDown cuts everything and refuses new connections (true) or lets them through again.
func (p *dropProxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.cut()
	}
}

// sentSince is what clients sent after mark (a length of sent).
func (p *dropProxy) sentSince(mark int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent.String()[mark:]
}

func (p *dropProxy) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent.Len()
}

// TestConsoleEventStreamResumes: when the connection drops, the console
// reconnects by itself and resumes after the last event it saw, so a change
// made while it was cut off still shows, without reloading the page.
func TestConsoleEventStreamResumes(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newHarness(t)
	wf := h.consoleWorkflow("Resume flow", helloGraph)
	first := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201).str("execution.id")
	proxy := newDropProxy(t, strings.TrimPrefix(h.base, "http://"))
	p := newPage(t, "http://"+proxy.addr())
	p.open("/executions")
	p.signIn(adminEmail, adminPassword)
	p.waitFor("heading", "Executions")
	p.waitFor("checkbox", "Select execution "+first)
	p.waitJS("the live stream", `document.querySelector(".live").dataset.state === "live"`)
	eval[bool](p, `(window.__samePage = true)`)
	// An event before the drop, so the console has an id to resume after.
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	p.waitFor("button", "1 new execution: show")

	mark := proxy.mark()
	proxy.setDown(true)
	p.waitJS("the drop noticed", `document.querySelector(".live").dataset.state !== "live"`)
	// A change while the console is cut off.
	h.expect(h.admin, "POST", "/api/executions/"+first+"/stop", nil, 200)
	proxy.setDown(false)

	p.waitJS("the missed change shown", `!!document.querySelector("tr[data-id='`+first+`'] .s-stopped")`)
	p.waitJS("live again", `document.querySelector(".live").dataset.state === "live"`)
	if !eval[bool](p, `window.__samePage === true`) {
		t.Error("the page was reloaded")
	}
	sent := proxy.sentSince(mark)
	var resumed bool
	for _, req := range strings.Split(sent, "\r\n\r\n") {
		if strings.HasPrefix(req, "GET /api/events") && (strings.Contains(req, "lastEventId=") || strings.Contains(strings.ToLower(req), "\r\nlast-event-id: ")) {
			resumed = true
		}
	}
	if !resumed {
		t.Errorf("no stream request after the drop carried the last event id:\n%s", sent)
	}
}

// TestE2EExecutionsTriggerFilter: ?triggerId= lists the executions a trigger
// created (the console's trigger filter), alone or with other filters.
func TestE2EExecutionsTriggerFilter(t *testing.T) {
	h := newHarness(t)
	wf := h.consoleWorkflow("Hooked", helloGraph)
	other := h.consoleWorkflow("Other", helloGraph)
	hook := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": "{}", "enabled": true}, 201).str("trigger.id")
	fired := h.expect(anon, "POST", "/api/triggers/webhook/"+hook, `{"n":1}`, 200).str("executionId")
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": other}, 201)
	for _, c := range []struct {
		query string
		want  int
	}{
		{"triggerId=" + hook, 1},
		{"triggerId=" + hook + "&status=QUEUED", 1},
		{"triggerId=" + hook + "&status=FAILED", 0},
		{"triggerId=" + hook + "&workflowId=" + other, 0},
		{"triggerId=nope", 0},
		{"workflowId=" + wf, 2},
	} {
		r := h.expect(h.admin, "GET", "/api/executions?"+c.query, nil, 200)
		if got := int(r.num("pagination.total")); got != c.want {
			t.Errorf("%s: total %d, want %d", c.query, got, c.want)
		}
		if c.want == 1 {
			if list := r.json["executions"].([]any); len(list) != 1 || list[0].(map[string]any)["id"] != fired {
				t.Errorf("%s: %s", c.query, r.body)
			}
		}
	}
}
