package main

import (
	"strings"
	"testing"
)

func TestE2ESubscriptionsCRUD(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")
	body := map[string]any{"url": "https://hooks.example.com/exekra", "events": []string{"execution.failed", "runner.offline"}, "description": "ops"}

	// Validation and roles.
	h.expectError(dev, "POST", "/api/subscriptions", body, 403, "FORBIDDEN")
	for _, bad := range []map[string]any{
		{"events": []string{"*"}},
		{"url": "https://x.example.com"},
		{"url": "ftp://x.example.com", "events": []string{"*"}},
		{"url": "https://x.example.com", "events": []string{}},
		{"url": "https://x.example.com", "events": []string{"execution.created"}},
		{"url": "http://127.0.0.1:9/x", "events": []string{"*"}},
		{"url": "http://localhost/x", "events": []string{"*"}},
		{"url": "http://[::1]/x", "events": []string{"*"}},
		{"url": "http://169.254.169.254/latest", "events": []string{"*"}},
		{"url": "http://[fe80::1]/x", "events": []string{"*"}},
		{"url": "https://user:pw@x.example.com/", "events": []string{"*"}},
	} {
		h.expectError(h.admin, "POST", "/api/subscriptions", bad, 400, "VALIDATION_ERROR")
	}

	// Create: the secret is shown once, whsec_ + base64 of 32 bytes.
	r := h.expect(h.admin, "POST", "/api/subscriptions", body, 201)
	id, secret := r.str("subscription.id"), r.str("subscription.secret")
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 || r.header.Get("Cache-Control") != "no-store" ||
		dig(r.json, "subscription.enabled") != true || r.str("subscription.url") != body["url"] || r.str("subscription.description") != "ops" {
		t.Fatalf("created: %s", r.body)
	}
	got := h.expect(h.admin, "GET", "/api/subscriptions/"+id, nil, 200)
	list := h.expect(h.admin, "GET", "/api/subscriptions", nil, 200)
	for _, resp := range []*response{got, list} {
		if strings.Contains(string(resp.body), secret) || strings.Contains(string(resp.body), `"secret"`) {
			t.Fatalf("a read shows the secret: %s", resp.body)
		}
	}
	if list.num("pagination.total") != 1 {
		t.Fatalf("list: %s", list.body)
	}
	h.expectError(dev, "GET", "/api/subscriptions", nil, 403, "FORBIDDEN")

	// Update.
	up := h.expect(h.admin, "PATCH", "/api/subscriptions/"+id, map[string]any{"enabled": false, "events": []string{"*"}}, 200)
	if dig(up.json, "subscription.enabled") != false || up.str("subscription.url") != body["url"] {
		t.Fatalf("updated: %s", up.body)
	}
	h.expectError(h.admin, "PATCH", "/api/subscriptions/"+id, map[string]any{"url": "http://127.0.0.2/"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "PATCH", "/api/subscriptions/nope", map[string]any{"enabled": true}, 404, "NOT_FOUND")

	// Rotation: a new secret, shown once.
	rot := h.expect(h.admin, "POST", "/api/subscriptions/"+id+"/rotate-secret", nil, 200)
	if s2 := rot.str("subscription.secret"); !strings.HasPrefix(s2, "whsec_") || s2 == secret {
		t.Fatalf("rotated: %s", rot.body)
	}

	// Audit, then delete.
	audit := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	for _, action := range []string{"subscription.created", "subscription.updated", "subscription.secret.rotated"} {
		if !strings.Contains(string(audit.body), action) {
			t.Fatalf("no %s in the audit log", action)
		}
	}
	if strings.Contains(string(audit.body), secret) {
		t.Fatal("the audit log shows the secret")
	}
	h.expect(h.admin, "DELETE", "/api/subscriptions/"+id, nil, 200)
	h.expectError(h.admin, "GET", "/api/subscriptions/"+id, nil, 404, "NOT_FOUND")
	h.expectError(h.admin, "DELETE", "/api/subscriptions/"+id, nil, 404, "NOT_FOUND")
}

func TestE2ESubscriptionsLoopbackFlag(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OutboundAllowLoopback = true })
	h.expect(h.admin, "POST", "/api/subscriptions", map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"ping"}}, 201)
}
