package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// webhookForTest opens a store in dir holding one workflow and one enabled
// webhook trigger with secret.
func webhookForTest(t *testing.T, dir, secret string) (*Store, *messages.Trigger) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	wf := &messages.Workflow{ID: messages.NewID(now), Name: "w", CreatedAt: messages.TimeOf(now)}
	if err := s.CreateWorkflow(wf, nil); err != nil {
		t.Fatal(err)
	}
	tr := &messages.Trigger{ID: messages.NewID(now), WorkflowID: wf.ID, Type: messages.TriggerWebhook, Config: "{}", Enabled: true}
	if err := s.CreateTrigger(tr, secret, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	return s, tr
}

func TestWebhookSecretSealedOnDisk(t *testing.T) {
	dir := t.TempDir()
	const secret = "plain-webhook-secret-value"
	s, tr := webhookForTest(t, dir, secret)
	_ = s.Close()
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(secret)) {
		t.Fatal("the webhook secret is in the database file in plain text")
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, err := s.TriggerWithSecret(tr.ID)
	if err != nil || rec == nil || rec.Secret != secret || !rec.Trigger.HasSecret {
		t.Fatalf("after reopen: %+v %v", rec, err)
	}
	list, _, err := s.ListTriggers(messages.TriggerFilter{}, messages.Page{Page: 1, Limit: 10})
	if err != nil || len(list) != 1 || !list[0].HasSecret {
		t.Fatalf("list: %+v %v", list, err)
	}
}

// TestUpdateTriggerSecretChangeAnswersStoredResult checks that the record
// UpdateTrigger returns is the stored one: clearing the secret answers
// hasSecret false at once, as later reads (and a reopen) do.
func TestUpdateTriggerSecretChangeAnswersStoredResult(t *testing.T) {
	dir := t.TempDir()
	s, tr := webhookForTest(t, dir, "first-secret")
	check := func(step string, want bool, rec *messages.TriggerRecord) {
		t.Helper()
		if rec.Trigger.HasSecret != want || (rec.Secret != "") != want {
			t.Fatalf("%s: answered hasSecret %v secret set %v, want %v", step, rec.Trigger.HasSecret, rec.Secret != "", want)
		}
		got, err := s.GetTrigger(tr.ID)
		if err != nil || got.HasSecret != want {
			t.Fatalf("%s: stored %+v %v, want hasSecret %v", step, got, err, want)
		}
	}
	empty, again := "", "second-secret"
	for _, c := range []struct {
		step   string
		secret *string
		want   bool
	}{
		{"cleared", &empty, false},
		{"kept cleared", nil, false},
		{"set again", &again, true},
		{"kept", nil, true},
		{"cleared again", &empty, false},
	} {
		rec, err := s.UpdateTrigger(tr.ID, messages.TriggerChange{Secret: c.secret, UpdatedAt: messages.TimeOf(time.Now())}, messages.Effects{})
		if err != nil {
			t.Fatal(err)
		}
		check(c.step, c.want, rec)
	}
	_ = s.Close()
	var err error
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, err := s.TriggerWithSecret(tr.ID)
	if err != nil || rec.Trigger.HasSecret || rec.Secret != "" {
		t.Fatalf("after reopen: %+v %v", rec, err)
	}
}
