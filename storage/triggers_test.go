package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func TestWebhookSecretSealedOnDisk(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	wf := &messages.Workflow{ID: messages.NewID(now), Name: "w", CreatedAt: messages.TimeOf(now)}
	if err := s.CreateWorkflow(wf, nil); err != nil {
		t.Fatal(err)
	}
	const secret = "plain-webhook-secret-value"
	tr := &messages.Trigger{ID: messages.NewID(now), WorkflowID: wf.ID, Type: messages.TriggerWebhook, Config: "{}", Enabled: true}
	if err := s.CreateTrigger(tr, secret, nil); err != nil {
		t.Fatal(err)
	}
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
