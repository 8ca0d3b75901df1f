package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A server started on a license that is not ACTIVE says so in its log with
// what to do, and /api/status shows the standing beside the state.
func TestStartOnABadLicenseIsLoud(t *testing.T) {
	h := newUnactivatedHarness(t)
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.json["license"] != nil || r.str("state") != "UNACTIVATED" {
		t.Fatalf("status before activation: %s", r.body)
	}
	h.activate(h.issueLicense(licenseOpts{expires: h.clock.Now().Add(-24 * time.Hour), graceDays: 7}))
	h.admin = h.bootstrap(adminEmail, adminPassword)
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("license") != "GRACE_PERIOD" || r.str("state") != "BOOTSTRAPPED" {
		t.Fatalf("status in the grace period: %s", r.body)
	}
	mark := len(h.logs.String())
	h.restart()
	if logs := h.logs.String()[mark:]; !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "GRACE_PERIOD") ||
		!strings.Contains(logs, "PUT /api/license") {
		t.Fatalf("a start in the grace period is not logged as a warning with what to do:\n%s", logs)
	}

	h.clock.Advance(8 * 24 * time.Hour)
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("license") != "EXPIRED" || r.str("state") != "BOOTSTRAPPED" {
		t.Fatalf("status once expired: %s", r.body)
	}
	mark = len(h.logs.String())
	h.restart()
	if logs := h.logs.String()[mark:]; !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "EXPIRED") ||
		!strings.Contains(logs, "PUT /api/license") {
		t.Fatalf("a start on an expired license is not logged as an error with what to do:\n%s", logs)
	}

	// Verified with another key, the stored license is INVALID.
	other := filepath.Join(t.TempDir(), "other.pub")
	licenseKeyFile(t, other)
	h.cfg.LicensePublicKey = other
	mark = len(h.logs.String())
	h.restart()
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("license") != "INVALID" {
		t.Fatalf("status with a license signed by another key: %s", r.body)
	}
	if logs := h.logs.String()[mark:]; !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "INVALID") ||
		!strings.Contains(logs, "--license-public-key") || !strings.Contains(logs, other) {
		t.Fatalf("a start on an invalid license is not logged as an error with what to do:\n%s", logs)
	}
}
