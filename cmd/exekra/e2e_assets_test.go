package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// End-to-end tests of assets (docs/api.md, "Assets"): creation and the
// role matrix, write-only secrets, resolution at publish, the hand-over in
// the poll answer to the assigned runner only, and no value in any other
// answer, the server's log, the audit log or a backup.

const (
	e2eAssetPassword = "Pa55-word-of-the-ERP-robot"
	e2eAssetKey      = "api-key-9f8e7d6c5b4a"
)

// withDebugLog logs at debug level, so a search of the log buffer covers
// every line the server writes.
func withDebugLog() harnessOption { return func(c *Config) { c.LogLevel = "debug" } }

// assetGraphJSON is a workflow that logs into a site with a CREDENTIAL
// asset and an API key (a SECRET asset).
func assetGraphJSON(site string) string {
	return `{"nodes":[{"id":"s","type":"start"},` +
		`{"id":"login","type":"http","params":{"method":"POST","url":"` + site + `/login",` +
		`"headers":{"Content-Type":"application/x-www-form-urlencoded","X-Api-Key":"{{asset:erp-api-key}}"},` +
		`"body":"user={{asset:erp-robot.username}}&password={{asset:erp-robot.password}}"}},` +
		`{"id":"l","type":"log","params":{"message":"logged in as {{asset:erp-robot.username}} with {{asset:erp-robot.password}}"}},` +
		`{"id":"e","type":"end"}],` +
		`"edges":[{"source":"s","target":"login"},{"source":"login","target":"l"},{"source":"l","target":"e"}]}`
}

// noSecretIn fails when text holds one of the asset secrets.
func noSecretIn(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{e2eAssetPassword, e2eAssetKey, "new-" + e2eAssetPassword} {
		if strings.Contains(text, s) {
			t.Errorf("%s holds an asset secret: %.300s", where, text)
		}
	}
}

func TestE2EAssetsFromCreationToHandOver(t *testing.T) {
	h := newHarness(t, withDebugLog())
	dev := h.userWithRole("DEVELOPER")
	op := h.userWithRole("OPERATOR")

	// Creation and the role matrix.
	cred := map[string]any{"name": "erp-robot", "type": "CREDENTIAL", "username": "robot-7", "password": e2eAssetPassword, "description": "ERP login"}
	h.expectError(op, "POST", "/api/assets", cred, 403, "FORBIDDEN")
	h.expectError(anon, "POST", "/api/assets", cred, 401, "UNAUTHORIZED")
	r := h.expect(dev, "POST", "/api/assets", cred, 201)
	credID := r.str("asset.id")
	if r.str("asset.type") != "CREDENTIAL" || r.str("asset.username") != "robot-7" || r.json["asset"].(map[string]any)["hasValue"] != true ||
		r.header.Get("Cache-Control") != "no-store" || dig(r.json, "asset.password") != nil {
		t.Fatalf("create: %s %v", r.body, r.header)
	}
	noSecretIn(t, "the create answer", string(r.body))
	key := h.expect(h.admin, "POST", "/api/assets", map[string]any{"name": "erp-api-key", "type": "SECRET", "value": e2eAssetKey}, 201)
	keyID := key.str("asset.id")
	noSecretIn(t, "the create answer", string(key.body))
	text := h.expect(dev, "POST", "/api/assets", map[string]any{"name": "erp-url", "type": "TEXT", "value": "https://erp.example.com"}, 201)
	if text.str("asset.value") != "https://erp.example.com" {
		t.Fatalf("a TEXT value is readable: %s", text.body)
	}

	// Bad input changes nothing.
	for _, bad := range []map[string]any{
		{"type": "SECRET", "value": "x"},
		{"name": "has space", "type": "SECRET"},
		{"name": "dotted.name", "type": "SECRET"},
		{"name": "x", "type": "PASSWORD"},
		{"name": "x"},
		{"name": "x", "type": "CREDENTIAL", "value": "v"},
		{"name": "x", "type": "SECRET", "password": "p"},
		{"name": "x", "type": "SECRET", "value": 5},
		{"name": "x", "type": "TEXT", "value": strings.Repeat("v", 64<<10+1)},
	} {
		h.expectError(dev, "POST", "/api/assets", bad, 400, "VALIDATION_ERROR")
	}
	h.expectError(dev, "POST", "/api/assets", map[string]any{"name": "ERP-ROBOT", "type": "SECRET"}, 409, "CONFLICT")

	// Reads never show a secret, to any role.
	for _, c := range []*client{h.admin, dev, op} {
		l := h.expect(c, "GET", "/api/assets", nil, 200)
		if l.num("pagination.total") != 3 || l.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("list: %s", l.body)
		}
		if first := l.json["assets"].([]any)[0].(map[string]any); first["name"] != "erp-url" {
			t.Fatalf("not newest first: %s", l.body)
		}
		noSecretIn(t, "the list", string(l.body))
		g := h.expect(c, "GET", "/api/assets/"+credID, nil, 200)
		noSecretIn(t, "GET asset", string(g.body))
		g = h.expect(c, "GET", "/api/assets/"+keyID, nil, 200)
		if g.json["asset"].(map[string]any)["hasValue"] != true || dig(g.json, "asset.value") != nil {
			t.Fatalf("secret read: %s", g.body)
		}
	}
	h.expectError(op, "GET", "/api/assets/nope", nil, 404, "NOT_FOUND")
	h.expectError(op, "GET", "/api/assets?limit=0", nil, 400, "VALIDATION_ERROR")

	// Updates: writes by ADMIN and DEVELOPER, the type never changes.
	h.expectError(op, "PATCH", "/api/assets/"+credID, map[string]any{"description": "x"}, 403, "FORBIDDEN")
	u := h.expect(dev, "PUT", "/api/assets/"+credID, map[string]any{"password": "new-" + e2eAssetPassword}, 200)
	noSecretIn(t, "the update answer", string(u.body))
	h.expect(dev, "PATCH", "/api/assets/"+credID, map[string]any{"password": e2eAssetPassword, "description": "ERP robot login"}, 200)
	h.expectError(dev, "PATCH", "/api/assets/"+credID, map[string]any{"type": "SECRET"}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "PATCH", "/api/assets/"+credID, map[string]any{"value": "v"}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "PATCH", "/api/assets/"+credID, map[string]any{}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "PATCH", "/api/assets/"+credID, map[string]any{"name": "ERP-API-KEY"}, 409, "CONFLICT")
	h.expectError(dev, "PATCH", "/api/assets/nope", map[string]any{"description": "d"}, 404, "NOT_FOUND")

	// Publishing resolves the references: an unknown name is 400 naming it.
	wf := h.createWorkflow(dev, "ERP invoices")
	h.expect(dev, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": strings.ReplaceAll(assetGraphJSON("https://erp.example.com"), "erp-api-key", "erp-api-kee")}, 201)
	e := h.expectError(dev, "POST", "/api/workflows/"+wf+"/publish", nil, 400, "VALIDATION_ERROR")
	if !strings.Contains(e.str("error"), "erp-api-kee") {
		t.Fatalf("the error does not name the unknown asset: %s", e.body)
	}
	h.expect(dev, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": assetGraphJSON("https://erp.example.com")}, 201)
	v := h.expect(dev, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	if names, _ := dig(v.json, "version.assetNames").([]any); len(names) != 2 || names[0] != "erp-api-key" || names[1] != "erp-robot" {
		t.Fatalf("assetNames: %s", v.body)
	}

	// In use by a published version: no delete (and only ADMIN deletes).
	h.expectError(dev, "DELETE", "/api/assets/"+credID, nil, 403, "FORBIDDEN")
	c := h.expectError(h.admin, "DELETE", "/api/assets/"+credID, nil, 409, "CONFLICT")
	if !strings.Contains(c.str("error"), "ERP invoices") {
		t.Fatalf("the conflict does not name the workflow: %s", c.body)
	}
	h.expect(h.admin, "DELETE", "/api/assets/"+text.str("asset.id"), nil, 200)
	h.expectError(h.admin, "DELETE", "/api/assets/"+text.str("asset.id"), nil, 404, "NOT_FOUND")

	// The hand-over: only the assignee's poll answer carries the values.
	r1 := h.rnOnline("assignee", "")
	r2 := h.rnOnline("bystander", "")
	ex := h.rnQueue(wf)
	p := h.expect(r1.c, "POST", "/api/runners/poll", map[string]any{}, 200)
	if p.str("execution.id") != ex || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("poll: %s", p.body)
	}
	for _, where := range []string{"assets", "execution.assets"} {
		if dig(p.json, where+".erp-robot.type") != "CREDENTIAL" || dig(p.json, where+".erp-robot.username") != "robot-7" ||
			dig(p.json, where+".erp-robot.password") != e2eAssetPassword || dig(p.json, where+".erp-api-key.value") != e2eAssetKey ||
			dig(p.json, where+".erp-api-key.type") != "SECRET" || len(dig(p.json, where).(map[string]any)) != 2 {
			t.Fatalf("%s of the hand-over: %s", where, p.body)
		}
	}
	// The other runner gets no work and no value, and cannot ask elsewhere.
	p2 := h.expect(r2.c, "POST", "/api/runners/poll", map[string]any{}, 200)
	if p2.json["hasWork"] != false || p2.json["assets"] != nil {
		t.Fatalf("bystander poll: %s", p2.body)
	}
	noSecretIn(t, "the bystander's poll", string(p2.body))
	// Given other work, it gets that work and still no value.
	plain := h.publishedWorkflow(dev, "no assets")
	other := h.rnQueue(plain)
	p3 := h.expect(r2.c, "POST", "/api/runners/poll", map[string]any{}, 200)
	if p3.str("execution.id") != other || p3.json["assets"] != nil || dig(p3.json, "execution.assets") != nil {
		t.Fatalf("bystander's own work: %s", p3.body)
	}
	noSecretIn(t, "the bystander's work", string(p3.body))
	h.expectError(r2.c, "GET", "/api/executions/"+ex, nil, 401, "UNAUTHORIZED")
	h.expectError(r2.c, "GET", "/api/assets/"+credID, nil, 401, "UNAUTHORIZED")
	h.expectError(r2.c, "POST", "/api/executions/"+ex+"/status", map[string]any{"status": "RUNNING"}, 403, "FORBIDDEN")
	noSecretIn(t, "the processes", string(h.expect(r2.c, "GET", "/api/runners/processes", nil, 200).body))
	noSecretIn(t, "the heartbeat", string(h.expect(r1.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200).body))

	// A repeated poll before starting gets the assignment and the values again.
	again := h.expect(r1.c, "GET", "/api/runners/poll", nil, 200)
	if again.str("execution.id") != ex || dig(again.json, "assets.erp-robot.password") != e2eAssetPassword {
		t.Fatalf("repeated poll: %s", again.body)
	}
	// Once RUNNING, polls carry nothing of it.
	h.expect(r1.c, "POST", "/api/executions/"+ex+"/status", map[string]any{"status": "RUNNING", "logs": "started\n"}, 200)
	running := h.expect(r1.c, "POST", "/api/runners/poll", map[string]any{}, 200)
	if running.json["hasWork"] != false || running.json["assets"] != nil {
		t.Fatalf("poll while running: %s", running.body)
	}

	// No other answer holds a value.
	for _, path := range []string{"/api/executions/" + ex, "/api/executions", "/api/workflows/" + wf, "/api/workflows/" + wf + "/versions",
		"/api/workflows/" + wf + "/versions/latest", "/api/runners", "/api/runners/" + r1.id, "/api/audit?limit=200"} {
		noSecretIn(t, "GET "+path, string(h.expect(h.admin, "GET", path, nil, 200).body))
	}
	// Each hand-over is audited: names, execution, runner.
	audit := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	handed := 0
	for _, it := range audit.json["entries"].([]any) {
		en := it.(map[string]any)
		if en["action"] != "asset.handed_over" {
			continue
		}
		handed++
		if en["actorType"] != "runner" || en["actorId"] != r1.id || en["targetType"] != "execution" || en["targetId"] != ex ||
			!strings.Contains(en["details"].(string), "erp-api-key, erp-robot") {
			t.Errorf("hand-over entry: %v", en)
		}
	}
	if handed != 2 {
		t.Errorf("%d hand-over entries, want 2 (one per poll answer that carried them)", handed)
	}
	// Neither the server's log nor a backup holds a value in clear.
	noSecretIn(t, "the server log", h.logs.String())
	backup, resp := h.downloadBackup(h.admin)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %d", resp.StatusCode)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{e2eAssetPassword, e2eAssetKey} {
		if bytes.Contains(data, []byte(s)) {
			t.Fatal("the backup holds an asset secret in clear")
		}
	}
}

// TestE2EAssetsWithTheReferenceRunner is the README's "Credentials for
// robots": a workflow logs into a site with a CREDENTIAL asset; the
// reference runner sends the values to the site and masks the password in
// the execution log. A restored backup hands the same values over.
func TestE2EAssetsWithTheReferenceRunner(t *testing.T) {
	h := newHarness(t, withDebugLog())
	var mu sync.Mutex
	var form url.Values
	var apiKey string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = r.ParseForm()
		form, apiKey = r.PostForm, r.Header.Get("X-Api-Key")
	}))
	defer site.Close()

	h.expect(h.admin, "POST", "/api/assets", map[string]any{"name": "erp-robot", "type": "CREDENTIAL", "username": "robot-7", "password": e2eAssetPassword}, 201)
	h.expect(h.admin, "POST", "/api/assets", map[string]any{"name": "erp-api-key", "type": "SECRET", "value": e2eAssetKey}, 201)
	wf := h.createWorkflow(h.admin, "ERP login")
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": assetGraphJSON(site.URL)}, 201)
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "finance-01"}, 201)
	h.startRefRunner(reg.str("machineKey"), reg.str("machineSecret"), false)

	ex := h.rnQueue(wf)
	done := h.waitExecution(ex)
	logs := done.str("execution.logs")
	if done.str("execution.status") != "COMPLETED" || !strings.Contains(logs, "logged in as robot-7 with ***") {
		t.Fatalf("execution: %s", done.body)
	}
	mu.Lock()
	if form.Get("user") != "robot-7" || form.Get("password") != e2eAssetPassword || apiKey != e2eAssetKey {
		t.Errorf("the site got %v and key %q", form, apiKey)
	}
	mu.Unlock()
	noSecretIn(t, "the execution", string(done.body))
	noSecretIn(t, "the server log", h.logs.String())
	noSecretIn(t, "the audit log", string(h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200).body))
}

// TestE2EOpenAPIDescribesTheAssetsAPI checks the answers of the asset
// endpoints, of a publish that records asset names and of a poll answer
// that hands assets over against the document.
func TestE2EOpenAPIDescribesTheAssetsAPI(t *testing.T) {
	h := newHarness(t)
	check := h.openAPICheck(t)
	a := h.admin
	op := h.userWithRole("OPERATOR")
	r := check(a, "POST", "/api/assets", "/api/assets", map[string]any{"name": "erp-robot", "type": "CREDENTIAL", "username": "robot-7", "password": e2eAssetPassword})
	cred := r.str("asset.id")
	r = check(a, "POST", "/api/assets", "/api/assets", map[string]any{"name": "erp-api-key", "type": "SECRET", "value": e2eAssetKey, "description": "d"})
	key := r.str("asset.id")
	check(a, "POST", "/api/assets", "/api/assets", map[string]any{"name": "erp-url", "type": "TEXT", "value": "https://erp.example.com"})
	check(a, "POST", "/api/assets", "/api/assets", map[string]any{"name": "ERP-URL", "type": "TEXT"})
	check(a, "POST", "/api/assets", "/api/assets", map[string]any{"name": "bad name", "type": "TEXT"})
	check(op, "POST", "/api/assets", "/api/assets", map[string]any{"name": "x", "type": "TEXT"})
	check(a, "GET", "/api/assets", "/api/assets", nil)
	check(a, "GET", "/api/assets", "/api/assets?page=0", nil)
	check(op, "GET", "/api/assets/{id}", "/api/assets/"+cred, nil)
	check(op, "GET", "/api/assets/{id}", "/api/assets/nope", nil)
	check(a, "PUT", "/api/assets/{id}", "/api/assets/"+key, map[string]any{"value": e2eAssetKey})
	check(a, "PATCH", "/api/assets/{id}", "/api/assets/"+cred, map[string]any{"type": "TEXT"})
	check(a, "PATCH", "/api/assets/{id}", "/api/assets/"+cred, map[string]any{"name": "erp-url"})
	check(op, "PATCH", "/api/assets/{id}", "/api/assets/"+cred, map[string]any{"description": "x"})

	wf := h.createWorkflow(a, "conform-assets")
	check(a, "POST", "/api/workflows/{id}/draft", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": strings.ReplaceAll(assetGraphJSON("https://x"), "erp-robot", "nobody")})
	check(a, "POST", "/api/workflows/{id}/publish", "/api/workflows/"+wf+"/publish", nil)
	check(a, "POST", "/api/workflows/{id}/draft", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": assetGraphJSON("https://x")})
	check(a, "POST", "/api/workflows/{id}/publish", "/api/workflows/"+wf+"/publish", nil)
	check(a, "GET", "/api/workflows/{id}/versions", "/api/workflows/"+wf+"/versions", nil)
	check(a, "DELETE", "/api/assets/{id}", "/api/assets/"+cred, nil)
	rn := h.rnOnline("conform-assets-runner", "")
	h.rnQueue(wf)
	p := check(rn.c, "POST", "/api/runners/poll", "/api/runners/poll", map[string]any{})
	if dig(p.json, "assets.erp-robot.password") != e2eAssetPassword {
		t.Fatalf("poll: %s", p.body)
	}
	check(op, "DELETE", "/api/assets/{id}", "/api/assets/"+key, nil)
	check(a, "DELETE", "/api/assets/{id}", "/api/assets/nope", nil)
}
