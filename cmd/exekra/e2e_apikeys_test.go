package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// API keys (docs/api.md, "API keys"): created by any user, shown once,
// accepted as Bearer with at most the owner's current role, dead when
// expired, revoked or when the owner is disabled; audited.

var apiKeyPattern = regexp.MustCompile(`^exk_[A-Za-z0-9_-]{43}$`)

// newAPIKey creates a key as c and returns a client that uses it and the
// key's record.
func (h *harness) newAPIKey(c *client, body map[string]any) (*client, map[string]any) {
	h.t.Helper()
	r := h.expect(c, "POST", "/api/auth/api-keys", body, 201)
	key := r.str("key")
	if !apiKeyPattern.MatchString(key) {
		h.t.Fatalf("key %q does not look like an API key", key)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		h.t.Fatalf("the answer that shows a key must not be stored: Cache-Control %q", cc)
	}
	rec := r.json["apiKey"].(map[string]any)
	if !strings.HasPrefix(key, rec["prefix"].(string)) || len(rec["prefix"].(string)) != 12 {
		h.t.Fatalf("prefix %v of key %s", rec["prefix"], key)
	}
	if _, ok := rec["lastUsedAt"]; !ok || rec["lastUsedAt"] != nil {
		h.t.Fatalf("a new key's lastUsedAt must be null: %v", rec)
	}
	return &client{token: key}, rec
}

func TestAPIKeyActsAsItsOwnerWithItsRole(t *testing.T) {
	h := newHarness(t)
	key, rec := h.newAPIKey(h.admin, map[string]any{"name": "ci"})
	if rec["role"] != "ADMIN" || rec["userId"] != h.admin.user["id"] || rec["name"] != "ci" {
		t.Fatalf("key record: %v", rec)
	}
	// The default expiry is 90 days ahead.
	exp, err := time.Parse(time.RFC3339, rec["expiresAt"].(string))
	if err != nil || exp.Sub(h.clock.Now()) < 89*24*time.Hour || exp.Sub(h.clock.Now()) > 91*24*time.Hour {
		t.Fatalf("default expiresAt %v (%v)", rec["expiresAt"], err)
	}
	if me := h.expect(key, "GET", "/api/auth/me", nil, 200); me.str("user.id") != h.admin.user["id"] || me.str("user.role") != "ADMIN" {
		t.Fatalf("me with the key: %s", me.body)
	}
	h.expect(key, "POST", "/api/workflows", map[string]any{"name": "by key"}, 201)

	// A key with a lower role acts with that role.
	op, rec := h.newAPIKey(h.admin, map[string]any{"name": "read-only", "role": "OPERATOR"})
	if rec["role"] != "OPERATOR" {
		t.Fatalf("role %v", rec["role"])
	}
	if me := h.expect(op, "GET", "/api/auth/me", nil, 200); me.str("user.role") != "OPERATOR" {
		t.Fatalf("me with an OPERATOR key: %s", me.body)
	}
	h.expect(op, "GET", "/api/workflows", nil, 200)
	h.expectError(op, "POST", "/api/workflows", map[string]any{"name": "nope"}, 403, "FORBIDDEN")
	h.expectError(op, "GET", "/api/users", nil, 403, "FORBIDDEN")

	// Never above the caller's role; a key makes keys as a token does, of
	// at most its own role (the OPERATOR key above no ADMIN one); a key is
	// no session to log out of.
	dev := h.userWithRole("DEVELOPER")
	h.expectError(dev, "POST", "/api/auth/api-keys", map[string]any{"name": "up", "role": "ADMIN"}, 403, "FORBIDDEN")
	child, childRec := h.newAPIKey(key, map[string]any{"name": "child"})
	if childRec["role"] != "ADMIN" || childRec["userId"] != h.admin.user["id"] {
		t.Fatalf("a key's key: %v", childRec)
	}
	h.expect(child, "GET", "/api/users", nil, 200)
	h.expectError(op, "POST", "/api/auth/api-keys", map[string]any{"name": "up", "role": "ADMIN"}, 403, "FORBIDDEN")
	if _, r := h.newAPIKey(op, map[string]any{"name": "op-child"}); r["role"] != "OPERATOR" {
		t.Fatalf("an OPERATOR key's key: %v", r)
	}
	// None outlives the key that makes it: the default is cut to its
	// expiry, a later one asked for is refused.
	short, shortRec := h.newAPIKey(h.admin, map[string]any{"name": "short", "expiresAt": h.clock.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)})
	if _, r := h.newAPIKey(short, map[string]any{"name": "short-child"}); r["expiresAt"] != shortRec["expiresAt"] {
		t.Fatalf("a key's default expiry past its maker's: %v (maker %v)", r["expiresAt"], shortRec["expiresAt"])
	}
	h.expectError(short, "POST", "/api/auth/api-keys", map[string]any{"name": "long", "expiresAt": h.clock.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)}, 400, "VALIDATION_ERROR")
	h.expectError(key, "POST", "/api/auth/logout", nil, 400, "VALIDATION_ERROR")
	// Bad bodies change nothing.
	for _, body := range []any{
		map[string]any{},
		map[string]any{"name": ""},
		map[string]any{"name": "x", "role": "ROOT"},
		map[string]any{"name": "x", "expiresAt": "tomorrow"},
		map[string]any{"name": "x", "expiresAt": h.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		map[string]any{"name": "x", "expiresAt": h.clock.Now().Add(366 * 24 * time.Hour).UTC().Format(time.RFC3339)},
		map[string]any{"name": 5},
	} {
		h.expectError(dev, "POST", "/api/auth/api-keys", body, 400, "VALIDATION_ERROR")
	}
	if n := len(h.expect(dev, "GET", "/api/auth/api-keys", nil, 200).json["apiKeys"].([]any)); n != 0 {
		t.Fatalf("refused creations left %d keys", n)
	}
	// A wrong key, or one sent in the cookie's place, is refused.
	h.expectError(&client{token: "exk_" + strings.Repeat("A", 43)}, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
}

func TestAPIKeyExpiryRevocationAndOwner(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")
	devID := dev.user["id"].(string)

	// Expiry: a key for an hour works now and not two hours later.
	short, _ := h.newAPIKey(dev, map[string]any{"name": "short", "expiresAt": h.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	h.expect(short, "GET", "/api/workflows", nil, 200)

	// Revocation: own key, at once; another user's key is not found.
	revoked, rec := h.newAPIKey(dev, map[string]any{"name": "to revoke"})
	h.expect(revoked, "GET", "/api/workflows", nil, 200)
	other := h.userWithRole("OPERATOR")
	h.expectError(other, "DELETE", "/api/auth/api-keys/"+rec["id"].(string), nil, 404, "NOT_FOUND")
	h.expect(revoked, "GET", "/api/workflows", nil, 200)
	h.expect(dev, "DELETE", "/api/auth/api-keys/"+rec["id"].(string), nil, 200)
	h.expectError(revoked, "GET", "/api/workflows", nil, 401, "UNAUTHORIZED")
	h.expectError(dev, "DELETE", "/api/auth/api-keys/"+rec["id"].(string), nil, 404, "NOT_FOUND")

	// An ADMIN revokes anyone's key.
	byAdmin, rec := h.newAPIKey(dev, map[string]any{"name": "admin revokes"})
	h.expect(h.admin, "DELETE", "/api/auth/api-keys/"+rec["id"].(string), nil, 200)
	h.expectError(byAdmin, "GET", "/api/workflows", nil, 401, "UNAUTHORIZED")

	// Never more than the owner's current role: a DEVELOPER key of a user
	// demoted to OPERATOR acts as an OPERATOR.
	devKey, _ := h.newAPIKey(dev, map[string]any{"name": "dev"})
	h.expect(devKey, "POST", "/api/workflows", map[string]any{"name": "w1"}, 201)
	h.expect(h.admin, "PATCH", "/api/users/"+devID, map[string]any{"role": "OPERATOR"}, 200)
	h.expectError(devKey, "POST", "/api/workflows", map[string]any{"name": "w2"}, 403, "FORBIDDEN")
	h.expect(h.admin, "PATCH", "/api/users/"+devID, map[string]any{"role": "DEVELOPER"}, 200)
	h.expect(devKey, "POST", "/api/workflows", map[string]any{"name": "w3"}, 201)

	// A disabled owner disables the key.
	h.expect(h.admin, "PATCH", "/api/users/"+devID, map[string]any{"disabled": true}, 200)
	h.expectError(devKey, "GET", "/api/workflows", nil, 401, "UNAUTHORIZED")
	h.expect(h.admin, "PATCH", "/api/users/"+devID, map[string]any{"disabled": false}, 200)

	h.clock.Advance(2 * time.Hour)
	if r := h.expectError(short, "GET", "/api/workflows", nil, 401, "UNAUTHORIZED"); !strings.Contains(r.str("error"), "expired") {
		t.Fatalf("expired key: %s", r.body)
	}
}

func TestAPIKeyListsLastUseAndAudit(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")
	devKey, devRec := h.newAPIKey(dev, map[string]any{"name": "dev ci"})
	_, adminRec := h.newAPIKey(h.admin, map[string]any{"name": "admin ci"})
	h.expect(devKey, "GET", "/api/workflows", nil, 200)

	own := h.expect(dev, "GET", "/api/auth/api-keys", nil, 200)
	keys := own.json["apiKeys"].([]any)
	if len(keys) != 1 || own.num("pagination.total") != 1 {
		t.Fatalf("own keys: %s", own.body)
	}
	k := keys[0].(map[string]any)
	if k["id"] != devRec["id"] || k["lastUsedAt"] == nil {
		t.Fatalf("the used key shows its last use: %v", k)
	}
	if strings.Contains(string(own.body), devKey.token) || strings.Contains(string(own.body), "hash") {
		t.Fatalf("a list shows a key or its hash: %s", own.body)
	}
	h.expectError(dev, "GET", "/api/auth/api-keys?all=true", nil, 403, "FORBIDDEN")
	h.expectError(h.admin, "GET", "/api/auth/api-keys?all=maybe", nil, 400, "VALIDATION_ERROR")
	all := h.expect(h.admin, "GET", "/api/auth/api-keys?all=true&limit=1", nil, 200)
	if all.num("pagination.total") != 2 || len(all.json["apiKeys"].([]any)) != 1 ||
		all.json["apiKeys"].([]any)[0].(map[string]any)["id"] != adminRec["id"] {
		t.Fatalf("all keys, newest first, paginated: %s", all.body)
	}
	mine := h.expect(h.admin, "GET", "/api/auth/api-keys", nil, 200)
	if mine.num("pagination.total") != 1 {
		t.Fatalf("an ADMIN's own keys: %s", mine.body)
	}

	// Creation, use from a new address and revocation are audited.
	h.expect(dev, "DELETE", "/api/auth/api-keys/"+devRec["id"].(string), nil, 200)
	want := map[string]bool{"auth.apikey.created": false, "auth.apikey.used_from_new_address": false, "auth.apikey.revoked": false}
	h.rnEventually("the API key audit entries", func() bool {
		for _, e := range h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200).json["entries"].([]any) {
			entry := e.(map[string]any)
			if _, ok := want[entry["action"].(string)]; ok && entry["targetId"] == devRec["id"] {
				want[entry["action"].(string)] = true
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	})

	// The last use survives a restart (flushed on the way down).
	kept, keptRec := h.newAPIKey(h.admin, map[string]any{"name": "kept"})
	h.expect(kept, "GET", "/api/workflows", nil, 200)
	h.restart()
	found := false
	for _, e := range h.expect(h.admin, "GET", "/api/auth/api-keys", nil, 200).json["apiKeys"].([]any) {
		switch k := e.(map[string]any); k["id"] {
		case keptRec["id"]:
			found = k["lastUsedAt"] != nil
		case adminRec["id"]:
			if k["lastUsedAt"] != nil {
				t.Fatalf("an unused key shows a last use: %v", k)
			}
		}
	}
	if !found {
		t.Fatal("the last use of a key was lost in a restart")
	}
	h.expect(kept, "GET", "/api/workflows", nil, 200)
}

// The API key answers match the OpenAPI document, errors included.
func TestE2EOpenAPIDescribesAPIKeys(t *testing.T) {
	h := newHarness(t)
	check := h.openAPICheck(t)
	r := check(h.admin, "POST", "/api/auth/api-keys", "/api/auth/api-keys", map[string]any{"name": "ci", "role": "DEVELOPER"})
	key := &client{token: r.str("key")}
	id := r.str("apiKey.id")
	check(h.admin, "POST", "/api/auth/api-keys", "/api/auth/api-keys", map[string]any{"name": ""})
	check(key, "POST", "/api/auth/api-keys", "/api/auth/api-keys", map[string]any{"name": "child"})
	check(anon, "POST", "/api/auth/api-keys", "/api/auth/api-keys", map[string]any{"name": "anon"})
	check(key, "GET", "/api/auth/api-keys", "/api/auth/api-keys", nil)
	check(h.admin, "GET", "/api/auth/api-keys", "/api/auth/api-keys?all=true", nil)
	check(h.admin, "GET", "/api/auth/api-keys", "/api/auth/api-keys?all=yes", nil)
	check(key, "GET", "/api/auth/api-keys", "/api/auth/api-keys?all=true", nil)
	check(h.admin, "GET", "/api/status", "/api/status", nil)
	check(key, "DELETE", "/api/auth/api-keys/{id}", "/api/auth/api-keys/nope", nil)
	check(key, "DELETE", "/api/auth/api-keys/{id}", "/api/auth/api-keys/"+id, nil)
	check(key, "GET", "/api/auth/api-keys", "/api/auth/api-keys", nil)
}

// Using a key costs no durable write of its own: its last use is flushed
// in batches (every 10 s and at shutdown). Only the first use from an
// address writes (its audit entry).
func TestAPIKeyUseIsNoWritePerRequest(t *testing.T) {
	h := newHarness(t)
	key, rec := h.newAPIKey(h.admin, map[string]any{"name": "busy"})
	h.expect(key, "GET", "/api/workflows", nil, 200)
	h.rnEventually("the first use from this address audited", func() bool {
		for _, e := range h.expect(h.admin, "GET", "/api/audit", nil, 200).json["entries"].([]any) {
			if entry := e.(map[string]any); entry["action"] == "auth.apikey.used_from_new_address" && entry["targetId"] == rec["id"] {
				return true
			}
		}
		return false
	})
	before := h.m.store.Stats().Commits.Load()
	for i := 0; i < 50; i++ {
		h.expect(key, "GET", "/api/workflows", nil, 200)
	}
	// One periodic flush may fall inside the loop; a write per request
	// would be 50.
	if n := h.m.store.Stats().Commits.Load() - before; n > 1 {
		t.Fatalf("50 requests with a key made %d commits", n)
	}
	mine := h.expect(h.admin, "GET", "/api/auth/api-keys", nil, 200).json["apiKeys"].([]any)
	if mine[0].(map[string]any)["lastUsedAt"] == nil {
		t.Fatal("the live lastUsedAt is not shown")
	}
}
