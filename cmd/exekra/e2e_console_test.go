package main

import (
	"strings"
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
	h := newUnactivatedHarness(t)
	p := newPage(t, h.base)
	p.open("/")
	p.waitFor("heading", "Activate Exekra")
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
	for _, name := range allNav {
		if n := p.count("link", name); n != 1 {
			t.Errorf("navigation link %q: %d, want 1", name, n)
		}
	}
	if n := eval[int](p, `document.querySelectorAll("h1").length`); n != 1 {
		t.Errorf("%d h1 on the dashboard", n)
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
	h := newHarness(t)
	h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "runner-01"}, 201)
	h.expect(h.admin, "POST", "/api/auth/register", map[string]any{"email": "op@example.com", "password": "password-123", "name": "Olga Operator", "role": "OPERATOR"}, 201)
	p := newPage(t, h.base)
	p.open("/")
	p.signIn("op@example.com", "password-123")
	p.waitFor("heading", "Dashboard")
	for _, name := range allNav {
		want := 1
		if name == "Users" || name == "Audit" || name == "System" {
			want = 0
		}
		if n := p.count("link", name); n != want {
			t.Errorf("operator: navigation link %q: %d, want %d", name, n, want)
		}
	}
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
}

// TestConsoleExecutionsKeyboard: the executions page used with the keyboard
// alone: "/" focuses the filters, Tab and Space select rows, Enter stops
// them after a confirmation naming them, with a visible focus throughout.
func TestConsoleExecutionsKeyboard(t *testing.T) {
	h := newHarness(t)
	wf := h.consoleWorkflow("Keyboard flow", helloGraph)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201).str("execution.id"))
	}
	p := newPage(t, h.base)
	p.open("/executions")
	p.signIn(adminEmail, adminPassword)
	p.waitFor("heading", "Executions")
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
