package main

import "testing"

// TestE2EDescriptionsRefuseControlCharacters: the descriptions of assets and
// event subscriptions refuse control characters other than newline,
// carriage return and tab, as a workflow's does (docs/api.md, "Input shown
// to people"); a refused create stores nothing and a refused update changes
// nothing. Right-to-left text and line breaks are kept.
func TestE2EDescriptionsRefuseControlCharacters(t *testing.T) {
	h := newHarness(t, withLoopbackOutbound)
	rc := newReceiver(t, 200)
	asset := h.expect(h.admin, "POST", "/api/assets", map[string]any{"name": "described", "type": "TEXT", "description": "d"}, 201).str("asset.id")
	sub := h.expect(h.admin, "POST", "/api/subscriptions", map[string]any{"url": rc.url(), "events": []string{"ping"}, "description": "d"}, 201).str("subscription.id")

	for _, d := range []string{"a\x00b", "red \x1b[31m", "bell\x07", "del\x7f", "c1\u0085"} {
		h.expectError(h.admin, "POST", "/api/assets", map[string]any{"name": "other", "type": "TEXT", "description": d}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "PATCH", "/api/assets/"+asset, map[string]any{"description": d}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "PUT", "/api/assets/"+asset, map[string]any{"description": d}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "POST", "/api/subscriptions", map[string]any{"url": rc.url(), "events": []string{"ping"}, "description": d}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "PATCH", "/api/subscriptions/"+sub, map[string]any{"description": d}, 400, "VALIDATION_ERROR")
	}
	if n := h.expect(h.admin, "GET", "/api/assets", nil, 200).num("pagination.total"); n != 1 {
		t.Fatalf("assets after refused creates: %v", n)
	}
	if n := h.expect(h.admin, "GET", "/api/subscriptions", nil, 200).num("pagination.total"); n != 1 {
		t.Fatalf("subscriptions after refused creates: %v", n)
	}
	if g := h.expect(h.admin, "GET", "/api/assets/"+asset, nil, 200); g.str("asset.description") != "d" {
		t.Fatalf("asset after refused updates: %s", g.body)
	}
	if g := h.expect(h.admin, "GET", "/api/subscriptions/"+sub, nil, 200); g.str("subscription.description") != "d" {
		t.Fatalf("subscription after refused updates: %s", g.body)
	}

	ok := "line one\r\nline two\tand a tab; right-to-left text: \u05e9\u05dc\u05d5\u05dd \u200f"
	if g := h.expect(h.admin, "PATCH", "/api/assets/"+asset, map[string]any{"description": ok}, 200); g.str("asset.description") != ok {
		t.Fatalf("asset description: %s", g.body)
	}
	if g := h.expect(h.admin, "PATCH", "/api/subscriptions/"+sub, map[string]any{"description": ok}, 200); g.str("subscription.description") != ok {
		t.Fatalf("subscription description: %s", g.body)
	}
}
