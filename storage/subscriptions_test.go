package storage

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func TestSubscriptionsStoreSecretsAndCursor(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	now := messages.TimeOf(time.Now())
	// Some events before the subscription: its outbox starts after them.
	s.PublishLive([]messages.Event{{Type: "x"}})
	if err := s.AppendEvents([]messages.Event{{Type: messages.EventTrigger, Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	sub := &messages.Subscription{ID: messages.NewID(time.Now()), URL: "https://h.example.com/", Events: []string{"*"},
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateSubscription(sub, "whsec_one", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	cur, prev, err := s.SubscriptionSecrets(sub.ID, now)
	if err != nil || cur != "whsec_one" || prev != "" {
		t.Fatalf("secrets: %q %q %v", cur, prev, err)
	}
	if _, err := s.RotateSubscriptionSecret(sub.ID, "whsec_two", now, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopened: the rotation holds, the previous secret signs for 24 h.
	s = openTestStore(t, dir)
	defer s.Close()
	if cur, prev, _ := s.SubscriptionSecrets(sub.ID, now+1000); cur != "whsec_two" || prev != "whsec_one" {
		t.Fatalf("after rotation: %q %q", cur, prev)
	}
	if _, prev, _ := s.SubscriptionSecrets(sub.ID, now+SubscriptionPreviousSecretFor); prev != "" {
		t.Fatal("the previous secret still signs after 24 h")
	}
	got, _ := s.GetSubscription(sub.ID)
	if got == nil || got.Secret != "" || got.URL != sub.URL {
		t.Fatalf("read: %+v", got)
	}
	off := false
	if up, err := s.UpdateSubscription(sub.ID, messages.SubscriptionChange{Enabled: &off, UpdatedAt: now + 5}, messages.Effects{}); err != nil || up.Enabled {
		t.Fatalf("update: %+v %v", up, err)
	}
	if list, total, _ := s.ListSubscriptions(messages.Page{Page: 1, Limit: 10}); total != 1 || len(list) != 1 {
		t.Fatalf("list: %d %d", total, len(list))
	}
	if err := s.DeleteSubscription(sub.ID, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription(sub.ID, messages.Effects{}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("second delete: %v", err)
	}
}
