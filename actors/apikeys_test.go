package actors

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// The accounts actor owns API keys: a key acts as its owner capped by the
// owner's current role, dies with expiry, revocation or a disabled owner,
// and its last use reaches storage by the flush at shutdown.
func TestAPIKeysOwnedByAccounts(t *testing.T) {
	e := startTestEnv(t, testDate)
	if _, err := e.ask(&messages.ActivateLicense{Text: e.license("a@example.com", 48*time.Hour, 0, messages.LicenseLimits{})}); err != nil {
		t.Fatal(err)
	}
	res, err := e.ask(&messages.CreateUser{Email: "d@example.com", Role: messages.RoleDeveloper, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	dev := res.(*messages.User)
	text := messages.NewAPIKeyText()
	res, err = e.ask(&messages.CreateAPIKey{UserID: dev.ID, Name: "ci", Role: messages.RoleDeveloper,
		ExpiresAt: messages.TimeOf(e.clock.Now().Add(time.Hour)), Hash: messages.HashAPIKey(text), Prefix: text[:messages.APIKeyPrefixLen]})
	if err != nil {
		t.Fatal(err)
	}
	key := res.(*messages.APIKey)

	u, k, err := e.sys.APIKeySession(text, "10.0.0.1")
	if err != nil || u.ID != dev.ID || u.Role != messages.RoleDeveloper || k.ID != key.ID {
		t.Fatalf("session: %+v %+v %v", u, k, err)
	}
	if _, _, err := e.sys.APIKeySession(text+"x", "10.0.0.1"); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("a wrong key: %v", err)
	}
	// The owner's current role caps the key; the shared user is not changed.
	op := messages.RoleOperator
	if _, err := e.ask(&messages.UpdateUser{ID: dev.ID, Role: &op}); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := e.sys.APIKeySession(text, "10.0.0.1"); u.Role != messages.RoleOperator {
		t.Fatalf("capped role: %s", u.Role)
	}
	disabled := true
	if _, err := e.ask(&messages.UpdateUser{ID: dev.ID, Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.sys.APIKeySession(text, "10.0.0.1"); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("a disabled owner's key: %v", err)
	}
	disabled = false
	if _, err := e.ask(&messages.UpdateUser{ID: dev.ID, Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if keys := e.sys.APIKeys(dev.ID); len(keys) != 1 || keys[0].LastUsedAt.IsZero() || keys[0].Hash == "" {
		t.Fatalf("list: %+v", keys)
	}
	if keys := e.sys.APIKeys("someone else"); len(keys) != 0 {
		t.Fatalf("another user's list: %+v", keys)
	}

	// The last use is written at shutdown and read back.
	e.restart()
	if keys := e.sys.APIKeys(dev.ID); len(keys) != 1 || keys[0].LastUsedAt.IsZero() {
		t.Fatalf("after restart: %+v", keys)
	}
	// Another user may not revoke it; its owner may.
	if _, err := e.ask(&messages.RevokeAPIKey{ID: key.ID, Requester: "other"}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("revoke by another user: %v", err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, _, err := e.sys.APIKeySession(text, "10.0.0.1"); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("an expired key: %v", err)
	}
	if _, err := e.ask(&messages.RevokeAPIKey{ID: key.ID, Requester: dev.ID}); err != nil {
		t.Fatal(err)
	}
	if keys := e.sys.APIKeys(""); len(keys) != 0 {
		t.Fatalf("revoked key still listed: %+v", keys)
	}
}

// The last use of a key is flushed on the injected clock: one flush period
// after a use, storage has it, without a restart.
func TestAPIKeyUseFlushedOnTheClock(t *testing.T) {
	e := newTestEnv(t, testDate, messages.LicenseLimits{}, 48*time.Hour, withFakeTimers)
	admin, err := messages.Ask(e.sys, &messages.Bootstrap{Email: "a@example.com", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	text := messages.NewAPIKeyText()
	if _, err := messages.Ask(e.sys, &messages.CreateAPIKey{UserID: admin.ID, Name: "ci", Role: messages.RoleAdmin,
		ExpiresAt: messages.TimeOf(e.clock.Now().Add(time.Hour)), Hash: messages.HashAPIKey(text), Prefix: text[:messages.APIKeyPrefixLen]}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if _, _, err := e.sys.APIKeySession(text, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	stored := func() messages.Time {
		keys, err := e.store.AllAPIKeys()
		if err != nil || len(keys) != 1 {
			t.Fatalf("stored keys: %v %v", keys, err)
		}
		return keys[0].LastUsedAt
	}
	if !stored().IsZero() {
		t.Fatal("the use was written before its flush")
	}
	e.clock.Advance(apiKeyFlushEvery)
	eventually(t, "the use flushed", func() bool { return !stored().IsZero() })
}
