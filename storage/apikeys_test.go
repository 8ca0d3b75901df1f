package storage

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func TestAPIKeysStoreTouchDeleteAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k := &messages.APIKey{ID: messages.NewID(now), UserID: "u1", Name: "ci", Role: messages.RoleOperator,
		Prefix: "exk_abcdefgh", ExpiresAt: messages.TimeOf(now.Add(time.Hour)), CreatedAt: messages.TimeOf(now),
		Hash: messages.HashAPIKey("exk_secret"), Addresses: []string{"10.0.0.1"}}
	other := &messages.APIKey{ID: messages.NewID(now), UserID: "u2", Name: "gone", Role: messages.RoleAdmin, Hash: "h2"}
	if err := s.CreateAPIKey(k, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIKey(other, nil); err != nil {
		t.Fatal(err)
	}
	used := messages.TimeOf(now.Add(time.Minute))
	if err := s.TouchAPIKeys(map[string]messages.Time{k.ID: used, "no-such-key": used}); err != nil {
		t.Fatal(err)
	}
	// An older time never moves lastUsedAt back.
	if err := s.TouchAPIKeys(map[string]messages.Time{k.ID: used - 1000}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAPIKey(other.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAPIKey(other.ID, nil); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("deleting twice: %v", err)
	}
	// Saving a deleted key does not bring it back.
	if err := s.SaveAPIKey(other, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.AllAPIKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("keys after reopen: %d", len(all))
	}
	got := all[0]
	if got.ID != k.ID || got.Hash != k.Hash || got.LastUsedAt != used || got.Role != messages.RoleOperator ||
		len(got.Addresses) != 1 || got.Addresses[0] != "10.0.0.1" || got.Prefix != k.Prefix {
		t.Fatalf("key after reopen: %+v", got)
	}
}
