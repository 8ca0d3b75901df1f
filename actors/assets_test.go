package actors

import (
	"strings"
	"testing"

	"github.com/exekra/orchestrator/messages"
)

func TestAssetsActorChecksFieldsAndAuditsNoValue(t *testing.T) {
	e := startTestEnv(t, testDate)
	o := messages.Origin{ActorType: messages.ActorUser, ActorID: "u1", IP: "10.0.0.1"}
	s := func(v string) *string { return &v }
	const pw = "actor-test-password-1"

	for _, bad := range []*messages.CreateAsset{
		{Name: "a.b", Type: messages.AssetSecret, Origin: o},
		{Name: "x", Type: "PASSWORD", Origin: o},
		{Name: "x", Type: messages.AssetCredential, Value: s("v"), Origin: o},
		{Name: "x", Type: messages.AssetText, Password: s("p"), Origin: o},
		{Name: "x", Type: messages.AssetCredential, Username: s("a\nb"), Origin: o},
		{Name: "x", Type: messages.AssetText, Description: s(strings.Repeat("d", 1001)), Origin: o},
	} {
		if _, err := e.ask(bad); messages.ErrorCode(err) != messages.CodeValidation {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	res, err := e.ask(&messages.CreateAsset{Name: " erp ", Type: messages.AssetCredential, Username: s("robot"), Password: s(pw), Origin: o})
	if err != nil {
		t.Fatal(err)
	}
	a := res.(*messages.Asset)
	if a.Name != "erp" || !a.HasValue || a.CreatedBy != "u1" {
		t.Fatalf("created: %+v", a)
	}
	typ := messages.AssetSecret
	for _, bad := range []*messages.UpdateAsset{
		{ID: a.ID, Origin: o},
		{ID: a.ID, Type: &typ, Origin: o},
		{ID: a.ID, Value: s("v"), Origin: o},
		{ID: a.ID, Name: s("a b"), Origin: o},
	} {
		if _, err := e.ask(bad); messages.ErrorCode(err) != messages.CodeValidation {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if _, err := e.ask(&messages.UpdateAsset{ID: "nope", Description: s("d"), Origin: o}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Errorf("absent: %v", err)
	}
	if _, err := e.ask(&messages.UpdateAsset{ID: a.ID, Password: s(pw + "2"), Description: s("d"), Origin: o}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ask(&messages.HandOverAssets{ExecutionID: "nope", RunnerID: "r1"}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Errorf("hand-over of an absent execution: %v", err)
	}

	// The records survive a restart; the audit names fields, never values.
	e.restart()
	got, err := e.store.GetAsset(a.ID)
	if err != nil || got == nil || got.Description != "d" || !got.HasValue {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	entries, _, err := e.store.ListAudit(messages.Page{Page: 1, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action+"("+en.Details+")")
		if strings.Contains(en.Details, pw) {
			t.Errorf("audit entry holds the password: %+v", en)
		}
	}
	if got := strings.Join(actions, " "); got != "asset.updated(description,password) asset.created(erp (CREDENTIAL))" {
		t.Errorf("audit = %s", got)
	}
	if _, err := e.ask(&messages.DeleteAsset{ID: a.ID, Origin: o}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ask(&messages.DeleteAsset{ID: a.ID, Origin: o}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Errorf("deleted twice: %v", err)
	}
}
