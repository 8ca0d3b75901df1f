package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
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
