package main

import (
	"strings"
	"testing"
	"time"
)

// While the license is EXPIRED, queued work is not handed out (docs/api.md,
// "Conventions": reports on work already started keep working, and a queued
// execution's waiting reason names the license); a renewal through
// PUT /api/license lets runners take it again, a parked long poll included.
func TestE2EExpiredLicenseHoldsQueuedWork(t *testing.T) {
	h := newUnactivatedHarness(t, func(c *Config) {
		// Only the license moves with the clock: no stale rule acts on the jump.
		c.QueueTimeout, c.RunnerTTL, c.OfflineGrace = 100*365*24*time.Hour, 100*365*24*time.Hour, 100*365*24*time.Hour
	})
	h.activate(h.issueLicense(licenseOpts{expires: h.clock.Now().Add(time.Hour)}))
	h.admin = h.bootstrap(adminEmail, adminPassword)
	wf := h.publishedWorkflow(h.admin, "held")
	started := h.rnQueue(wf)
	rr := h.rnOnline("r1", "")
	other := h.rnOnline("r2", "") // registering is refused once expired
	if got := h.pollID(rr.c); got != started {
		t.Fatalf("poll before expiry: %q, want %s", got, started)
	}
	h.expect(rr.c, "POST", "/api/executions/"+started+"/status", map[string]any{"status": "RUNNING"}, 200)
	held := h.rnQueue(wf)

	h.clock.Advance(2 * time.Hour)
	if s := h.expect(h.admin, "GET", "/api/license/status", nil, 200).str("status"); s != "EXPIRED" {
		t.Fatalf("license %s", s)
	}
	h.expect(other.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200) // back ONLINE after the jump
	if got := h.pollID(other.c); got != "" {
		t.Fatalf("an expired license handed out %s", got)
	}
	x := h.expect(h.admin, "GET", "/api/executions/"+held, nil, 200)
	if x.str("execution.status") != "QUEUED" || !strings.Contains(strings.ToLower(x.str("execution.waiting.reason")), "license") {
		t.Fatalf("held execution: %s", x.body)
	}
	// Work already started goes on.
	h.expect(rr.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	h.expect(rr.c, "POST", "/api/executions/"+started+"/status", map[string]any{"status": "COMPLETED"}, 200)
	if got := h.pollID(rr.c); got != "" {
		t.Fatalf("an expired license handed out %s after a completion", got)
	}

	// A long poll parked while expired is answered by the renewal.
	done := make(chan *response, 1)
	go func() { done <- h.request(other.c, "POST", "/api/runners/poll?wait=30", map[string]any{}) }()
	h.waitPollsParked(1)
	h.expect(h.admin, "PUT", "/api/license", map[string]any{"license": h.issueLicense(licenseOpts{expires: h.clock.Now().Add(24 * time.Hour)})}, 200)
	select {
	case r := <-done:
		if r.status != 200 || r.str("execution.id") != held {
			t.Fatalf("after the renewal: %d %s", r.status, r.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the renewal did not answer the parked poll")
	}
}

// A fixed runner path with a method it lacks answers 405 with Allow, not
// 404 "runner not found" from the runner routes with an {id}; those routes
// and the fixed paths' own methods still answer as before.
func TestE2EWrongMethodOnFixedRunnerPaths(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/runners/register", "OPTIONS, POST"},
		{"GET", "/api/runners/authenticate", "OPTIONS, POST"},
		{"GET", "/api/runners/heartbeat", "OPTIONS, POST"},
		{"DELETE", "/api/runners/poll", "GET, OPTIONS, POST"},
		{"PATCH", "/api/runners/executions", "OPTIONS, POST"},
		{"DELETE", "/api/runners/processes", "GET, OPTIONS"},
		{"PUT", "/api/runners/heartbeat", "OPTIONS, POST"}, // no PUT route at all
	} {
		r := h.expectError(h.admin, c.method, c.path, nil, 405, "METHOD_NOT_ALLOWED")
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if r := h.request(anon, "OPTIONS", c.path, nil); r.status != 204 || r.header.Get("Allow") != c.allow {
			t.Errorf("OPTIONS %s: %d, Allow %q, want 204 and %q", c.path, r.status, r.header.Get("Allow"), c.allow)
		}
	}
	if r := h.request(anon, "OPTIONS", "/api/runners/some-id", nil); r.status != 204 || r.header.Get("Allow") != "DELETE, GET, OPTIONS, PATCH" {
		t.Errorf("OPTIONS of a runner: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	rr := h.rnOnline("fixed-paths", "")
	h.expect(h.admin, "GET", "/api/runners/"+rr.id, nil, 200)
	h.expectError(h.admin, "GET", "/api/runners/no-such-runner", nil, 404, "NOT_FOUND")
	h.expect(rr.c, "GET", "/api/runners/processes", nil, 200)
	h.expect(rr.c, "GET", "/api/runners/poll", nil, 200)
	h.expect(rr.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
}
