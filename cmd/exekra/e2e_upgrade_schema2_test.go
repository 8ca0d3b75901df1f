package main

import (
	"strings"
	"time"
)

// Records that schema 2 added (labels, assets, API keys, subscriptions and
// their deliveries), written into a release fixture and checked after an
// upgrade: the secrets sealed or hashed by the old release must still work,
// not only read back.

// writeSchema2Records adds schema-2 records to a fixture being written and
// returns the extra GET paths whose answers the fixture records.
func writeSchema2Records(h *harness, fx *releaseFixture, dev *client) []string {
	h.t.Helper()
	fx.AssetValues = map[string]string{
		"erp-url":            "https://erp.example.com",
		"erp-api-key":        "fixture-api-key-7f3a",
		"erp-robot.username": "robot@erp",
		"erp-robot.password": "fixture-password-9c1d",
	}
	h.expect(dev, "POST", "/api/assets", map[string]any{"name": "erp-url", "type": "TEXT", "value": fx.AssetValues["erp-url"]}, 201)
	h.expect(dev, "POST", "/api/assets", map[string]any{"name": "erp-api-key", "type": "SECRET",
		"value": fx.AssetValues["erp-api-key"], "description": "ERP API"}, 201)
	h.expect(dev, "POST", "/api/assets", map[string]any{"name": "erp-robot", "type": "CREDENTIAL",
		"username": fx.AssetValues["erp-robot.username"], "password": fx.AssetValues["erp-robot.password"]}, 201)

	// A labelled workflow that uses every asset, and its queued execution.
	wf := h.expect(dev, "POST", "/api/workflows", map[string]any{"name": "erp-sync", "runnerLabels": []string{"finance"}}, 201).str("workflow.id")
	h.expect(dev, "POST", "/api/workflows/"+wf+"/draft", map[string]any{
		"graphJson": `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"log","params":{"message":"{{asset:erp-url}} {{asset:erp-api-key}} {{asset:erp-robot.username}} {{asset:erp-robot.password}}"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"e"}]}`}, 201)
	h.expect(dev, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	fx.LabelledExecution = h.createExecution(dev, map[string]any{"workflowId": wf, "priority": "HIGH"}, 201).str("execution.id")

	body := map[string]any{"name": "robot-finance", "labels": []string{"finance", "eu"}}
	r := h.expect(h.admin, "POST", "/api/runners/register", body, 201)
	fx.LabelledRunnerID, fx.LabelledRunnerKey, fx.LabelledRunnerSec = r.str("id"), r.str("machineKey"), r.str("machineSecret")

	key, _ := h.newAPIKey(h.admin, map[string]any{"name": "fixture-ci", "role": "OPERATOR"})
	fx.APIKey = key.token

	// A subscription that received a delivery, then disabled so that the
	// upgraded server sends nothing until the test points it somewhere.
	rc := newReceiver(h.t, 204)
	sub := h.expect(h.admin, "POST", "/api/subscriptions", map[string]any{"url": rc.url(), "events": []string{"*"},
		"description": "fixture"}, 201)
	fx.SubscriptionID, fx.SubscriptionSecret = sub.str("subscription.id"), sub.str("subscription.secret")
	rc.setSecrets(fx.SubscriptionSecret)
	h.expect(h.admin, "POST", "/api/subscriptions/"+fx.SubscriptionID+"/test", nil, 200)
	h.rnEventually("the test ping delivered", func() bool { return rc.received("ping") > 0 })
	gone := h.createExecution(dev, map[string]any{"workflowId": wf, "priority": "LOW"}, 201).str("execution.id")
	h.expect(dev, "POST", "/api/executions/"+gone+"/stop", nil, 200)
	h.rnEventually("the stop delivered", func() bool { return rc.received("execution.stopped") > 0 })
	h.expect(h.admin, "PATCH", "/api/subscriptions/"+fx.SubscriptionID, map[string]any{"enabled": false}, 200)

	return []string{"/api/assets?limit=200", "/api/workflows/" + wf, "/api/executions/" + fx.LabelledExecution,
		"/api/runners?label=finance", "/api/auth/api-keys?all=true", "/api/subscriptions?limit=200",
		"/api/subscriptions/" + fx.SubscriptionID + "/deliveries"}
}

// checkSchema2Records proves the schema-2 secrets of an upgraded fixture
// still work (nothing to do for older fixtures).
func checkSchema2Records(h *harness, fx *releaseFixture) {
	h.t.Helper()
	if fx.APIKey == "" {
		return
	}
	// The API key (stored as a hash) still authenticates with its role.
	if me := h.expect(&client{token: fx.APIKey}, "GET", "/api/auth/me", nil, 200); me.str("user.role") != "OPERATOR" {
		h.t.Fatalf("the fixture's API key: %s", me.body)
	}
	// The labelled runner takes its HIGH execution and the sealed assets
	// unseal to the values stored.
	rr := h.rnAuth(&rnRunner{key: fx.LabelledRunnerKey, secret: fx.LabelledRunnerSec, id: fx.LabelledRunnerID})
	h.expect(rr.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	poll := h.expect(rr.c, "POST", "/api/runners/poll", map[string]any{}, 200)
	if poll.str("execution.id") != fx.LabelledExecution {
		h.t.Fatalf("the labelled runner got %s, want %s: %s", poll.str("execution.id"), fx.LabelledExecution, poll.body)
	}
	assets, _ := poll.json["assets"].(map[string]any)
	for ref, want := range fx.AssetValues {
		name, field, _ := strings.Cut(ref, ".")
		a, _ := assets[name].(map[string]any)
		if field == "" {
			field = "value"
		}
		if a == nil || a[field] != want {
			h.t.Fatalf("asset %s after the upgrade: %v", ref, a)
		}
	}
	// The subscription's sealed secret still signs: point it at a receiver
	// that knows only the old secret and send a ping.
	rc := newReceiver(h.t, 204)
	rc.setSecrets(fx.SubscriptionSecret)
	h.expect(h.admin, "PATCH", "/api/subscriptions/"+fx.SubscriptionID, map[string]any{"url": rc.url(), "enabled": true}, 200)
	h.expect(h.admin, "POST", "/api/subscriptions/"+fx.SubscriptionID+"/test", nil, 200)
	deadline := time.Now().Add(10 * time.Second)
	for rc.received("ping") == 0 {
		if time.Now().After(deadline) {
			h.t.Fatal("no verified ping from the upgraded subscription")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
