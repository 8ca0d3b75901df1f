package main

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A small OpenAPI 3.1 response checker: it validates real answers of the
// running server against the schemas of httpd/openapi.json ($ref, allOf,
// oneOf/anyOf, type (incl. type lists), enum, const, required, properties,
// items), and reports fields the document does not declare. It covers the
// subset of JSON Schema the document uses.

// openAPIDoc is the parsed document served by the server.
type openAPIDoc struct{ root map[string]any }

// openAPICheck fetches GET /api/openapi.json and returns a request that
// checks its answer against the document: tmpl is the documented path of
// the path requested.
func (h *harness) openAPICheck(t *testing.T) func(c *client, method, tmpl, path string, body any, headers ...string) *response {
	t.Helper()
	r := h.expect(anon, "GET", "/api/openapi.json", nil, 200)
	var root map[string]any
	if err := json.Unmarshal(r.body, &root); err != nil {
		t.Fatal(err)
	}
	doc := &openAPIDoc{root: root}
	return func(c *client, method, tmpl, path string, body any, headers ...string) *response {
		t.Helper()
		r := h.request(c, method, path, body, headers...)
		doc.conform(t, method, tmpl, r)
		return r
	}
}

// ref resolves a "#/..." pointer.
func (d *openAPIDoc) ref(p string) map[string]any {
	var cur any = d.root
	for _, part := range strings.Split(strings.TrimPrefix(p, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	m, _ := cur.(map[string]any)
	return m
}

func (d *openAPIDoc) deref(s map[string]any) map[string]any {
	for i := 0; i < 10 && s != nil; i++ {
		r, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = d.ref(r)
	}
	return s
}

// responseSchema is the JSON schema of method path's answer with status.
func (d *openAPIDoc) responseSchema(method, path string, status int) (map[string]any, error) {
	paths, _ := d.root["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	if op == nil {
		return nil, fmt.Errorf("%s %s is not documented", method, path)
	}
	responses, _ := op["responses"].(map[string]any)
	resp, _ := responses[strconv.Itoa(status)].(map[string]any)
	if resp == nil {
		resp, _ = responses["default"].(map[string]any)
	}
	if resp == nil {
		return nil, fmt.Errorf("%s %s: status %d is not documented", method, path, status)
	}
	resp = d.deref(resp)
	content, _ := resp["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		return nil, fmt.Errorf("%s %s %d: no application/json content documented", method, path, status)
	}
	s, _ := media["schema"].(map[string]any)
	return s, nil
}

// validate returns the mismatches of v against schema s at path p.
func (d *openAPIDoc) validate(v any, s map[string]any, p string) []string {
	s = d.deref(s)
	if s == nil {
		return nil
	}
	var errs []string
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, d.validateAllowingExtra(v, sub, p)...)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts := asList(s[key]); len(alts) > 0 {
			var best []string
			ok := false
			for _, alt := range alts {
				e := d.validate(v, alt, p)
				if len(e) == 0 {
					ok = true
					break
				}
				if best == nil || len(e) < len(best) {
					best = e
				}
			}
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: matches no %s alternative (closest: %s)", p, key, strings.Join(best, "; ")))
			}
		}
	}
	if t, ok := s["type"]; ok && !typeMatches(v, t) {
		return append(errs, fmt.Sprintf("%s: %s, documented type %v", p, jsonType(v), t))
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		errs = append(errs, fmt.Sprintf("%s: %v, documented const %v", p, v, c))
	}
	if enum := asAnyList(s["enum"]); len(enum) > 0 {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s: %v is not in the documented enum %v", p, v, enum))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asAnyList(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required field %q is missing", p, r))
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(x[k], ps, p+"."+k)...)
			} else if props != nil && !d.allowsExtra(s) {
				errs = append(errs, fmt.Sprintf("%s: field %q is not documented", p, k))
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				errs = append(errs, d.validate(e, items, fmt.Sprintf("%s[%d]", p, i))...)
			}
		}
	}
	return errs
}

// validateAllowingExtra validates one allOf member (its siblings declare
// the other fields).
func (d *openAPIDoc) validateAllowingExtra(v any, s map[string]any, p string) []string {
	var out []string
	for _, e := range d.validate(v, s, p) {
		if !strings.Contains(e, "is not documented") {
			out = append(out, e)
		}
	}
	return out
}

func (d *openAPIDoc) allowsExtra(s map[string]any) bool {
	switch a := s["additionalProperties"].(type) {
	case bool:
		return a
	case map[string]any:
		return true
	}
	return len(asList(s["allOf"])) > 0
}

func asList(v any) []map[string]any {
	var out []map[string]any
	for _, e := range asAnyList(v) {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func asAnyList(v any) []any { l, _ := v.([]any); return l }

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func typeMatches(v any, t any) bool {
	got := jsonType(v)
	for _, want := range append(asAnyList(t), t) {
		w, _ := want.(string)
		if w == got || (w == "number" && got == "integer") {
			return true
		}
	}
	return false
}

// conform checks a decoded answer against the document and reports each
// mismatch as a test error.
func (d *openAPIDoc) conform(t *testing.T, method, path string, r *response) {
	t.Helper()
	s, err := d.responseSchema(method, path, r.status)
	if err != nil {
		t.Errorf("openapi mismatch: %v (body %.200s)", err, r.body)
		return
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Errorf("openapi mismatch: %s %s %d: body is not JSON", method, path, r.status)
		return
	}
	for _, e := range d.validate(v, s, "body") {
		t.Errorf("openapi mismatch: %s %s %d: %s", method, path, r.status, e)
	}
}

// TestE2EOpenAPIDescribesTheAnswers drives the identity, license and
// operations endpoints (success and error answers) and checks every answer
// against the document.
func TestE2EOpenAPIDescribesTheAnswers(t *testing.T) {
	h := newUnactivatedHarness(t)
	check := h.openAPICheck(t)
	check(anon, "GET", "/api/health", "/api/health", nil)
	check(anon, "GET", "/api/status", "/api/status", nil)
	check(anon, "GET", "/api/license/status", "/api/license/status", nil) // 503 before ready
	check(anon, "POST", "/api/license/activate", "/api/license/activate", map[string]any{"license": "junk"})
	check(anon, "POST", "/api/license/activate", "/api/license/activate", map[string]any{"license": h.issueLicense(licenseOpts{})})
	check(anon, "POST", "/api/auth/bootstrap", "/api/auth/bootstrap", map[string]any{"email": "other@example.com", "password": "password-123", "name": "X"})
	r := check(anon, "POST", "/api/auth/bootstrap", "/api/auth/bootstrap", map[string]any{"email": adminEmail, "password": adminPassword, "name": "Admin"})
	admin := &client{token: r.cookie("token")}
	check(admin, "GET", "/api/license/status", "/api/license/status", nil)
	check(admin, "POST", "/api/license/validate", "/api/license/validate", nil)
	check(admin, "GET", "/api/auth/me", "/api/auth/me", nil)
	r = check(admin, "POST", "/api/auth/register", "/api/auth/register", map[string]any{"email": "dev@example.com", "password": "password-123", "name": "Dev", "role": "DEVELOPER"})
	devID := r.str("user.id")
	check(admin, "POST", "/api/auth/register", "/api/auth/register", map[string]any{"email": "dev@example.com", "password": "password-123", "name": "Dev"})
	check(admin, "POST", "/api/auth/register", "/api/auth/register", map[string]any{"email": "x@example.com", "password": "short", "name": "X"})
	check(anon, "POST", "/api/auth/login", "/api/auth/login", map[string]any{"email": "dev@example.com", "password": "wrong-password"})
	r = check(anon, "POST", "/api/auth/login", "/api/auth/login", map[string]any{"email": "dev@example.com", "password": "password-123"})
	dev := &client{token: r.cookie("token")}
	check(dev, "GET", "/api/users", "/api/users", nil)
	check(admin, "GET", "/api/users", "/api/users", nil)
	check(admin, "GET", "/api/users", "/api/users?limit=0", nil)
	check(admin, "PATCH", "/api/users/{id}", "/api/users/"+devID, map[string]any{"name": "Developer"})
	check(admin, "PATCH", "/api/users/{id}", "/api/users/nope", map[string]any{"name": "Developer"})
	check(admin, "GET", "/api/audit", "/api/audit", nil)
	check(dev, "POST", "/api/auth/password", "/api/auth/password", map[string]any{"currentPassword": "wrong-password", "newPassword": "password-456"})
	check(dev, "POST", "/api/auth/password", "/api/auth/password", map[string]any{"currentPassword": "password-123", "newPassword": "password-456"})
	check(dev, "GET", "/api/system/backup", "/api/system/backup", nil)
	check(dev, "POST", "/api/auth/logout", "/api/auth/logout", nil)
	check(dev, "GET", "/api/auth/me", "/api/auth/me", nil)
}

// TestE2EOpenAPIDescribesTheWorkAPI checks the answers of the workflow,
// execution, runner, trigger and analytics endpoints against the document.
func TestE2EOpenAPIDescribesTheWorkAPI(t *testing.T) {
	h := newHarness(t)
	check := h.openAPICheck(t)
	a := h.admin
	// workflows and versions
	r := check(a, "POST", "/api/workflows", "/api/workflows", map[string]any{"name": "conform", "description": "d"})
	wf := r.str("workflow.id")
	check(a, "POST", "/api/workflows", "/api/workflows", map[string]any{"name": ""})
	check(a, "GET", "/api/workflows/{id}/versions/latest", "/api/workflows/"+wf+"/versions/latest", nil)
	check(a, "POST", "/api/workflows/{id}/publish", "/api/workflows/"+wf+"/publish", nil)
	check(a, "POST", "/api/workflows/{id}/draft", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": "{}"})
	check(a, "POST", "/api/workflows/{id}/draft", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph, "metadata": "m"})
	check(a, "POST", "/api/executions", "/api/executions", map[string]any{"workflowId": wf})
	check(a, "POST", "/api/workflows/{id}/publish", "/api/workflows/"+wf+"/publish", nil)
	check(a, "GET", "/api/workflows", "/api/workflows", nil)
	check(a, "PUT", "/api/workflows/{id}", "/api/workflows/"+wf, map[string]any{"name": "conform2"})
	check(a, "PATCH", "/api/workflows/{id}", "/api/workflows/"+wf, map[string]any{"description": "d2"})
	check(a, "GET", "/api/workflows/{id}/versions", "/api/workflows/"+wf+"/versions", nil)
	check(a, "GET", "/api/workflows/{id}/versions/latest", "/api/workflows/"+wf+"/versions/latest", nil)
	check(a, "GET", "/api/workflows/{id}", "/api/workflows/nope", nil)

	// runners
	r = check(a, "POST", "/api/runners/register", "/api/runners/register", map[string]any{"name": "conform-runner"})
	rid, key, secret := r.str("id"), r.str("machineKey"), r.str("machineSecret")
	check(a, "POST", "/api/runners/register", "/api/runners/register", map[string]any{"name": "conform-runner"})
	check(anon, "POST", "/api/runners/authenticate", "/api/runners/authenticate", map[string]any{"machineKey": key, "machineSecret": "wrong"})
	r = check(anon, "POST", "/api/runners/authenticate", "/api/runners/authenticate", map[string]any{"machineKey": key, "machineSecret": secret})
	rc := &client{token: r.str("token")}
	check(anon, "POST", "/api/runners/heartbeat", "/api/runners/heartbeat", map[string]any{"machineKey": key, "machineSecret": secret})
	check(rc, "POST", "/api/runners/heartbeat", "/api/runners/heartbeat", map[string]any{"metrics": map[string]any{"cpu": 5, "memUsedMB": 100, "extra": "kept"}})
	check(rc, "GET", "/api/runners/processes", "/api/runners/processes", nil)
	check(a, "GET", "/api/runners", "/api/runners", nil)
	check(a, "GET", "/api/runners/{id}", "/api/runners/"+rid, nil)

	// executions
	r = check(a, "POST", "/api/executions", "/api/executions", map[string]any{"workflowId": wf, "priority": "HIGH", "input": map[string]any{"k": 1}}, "Idempotency-Key", "conform-1")
	ex := r.str("execution.id")
	check(a, "POST", "/api/executions", "/api/executions", map[string]any{"workflowId": wf}, "Idempotency-Key", "conform-1")
	check(a, "POST", "/api/executions", "/api/executions", map[string]any{"workflowId": "nope"})
	check(a, "POST", "/api/executions", "/api/executions", map[string]any{"workflowId": wf, "priority": "URGENT"})
	check(rc, "GET", "/api/runners/poll", "/api/runners/poll", nil)
	check(rc, "POST", "/api/executions/{id}/status", "/api/executions/"+ex+"/status", map[string]any{"status": "QUEUED"})
	check(rc, "POST", "/api/executions/{id}/status", "/api/executions/"+ex+"/status", map[string]any{"status": "RUNNING", "logs": "a\n"})
	check(rc, "POST", "/api/runners/heartbeat", "/api/runners/heartbeat", nil)
	check(a, "GET", "/api/runners/{id}", "/api/runners/"+rid, nil)
	check(a, "POST", "/api/executions/{id}/stop", "/api/executions/"+ex+"/stop", nil)
	check(rc, "POST", "/api/runners/poll", "/api/runners/poll", nil)
	check(rc, "POST", "/api/executions/{id}/status", "/api/executions/"+ex+"/status", map[string]any{"status": "STOPPED",
		"metrics": map[string]any{"cpuAvg": 12.5, "cpuPeak": 20, "memAvgMB": 64, "memPeakMB": 70}})
	check(rc, "POST", "/api/executions/{id}/status", "/api/executions/"+ex+"/status", map[string]any{"status": "COMPLETED"})
	check(a, "POST", "/api/executions/{id}/stop", "/api/executions/"+ex+"/stop", nil)
	check(a, "GET", "/api/executions/{id}", "/api/executions/"+ex, nil)
	check(a, "GET", "/api/executions", "/api/executions", nil)
	check(a, "GET", "/api/executions", "/api/executions?status=BOGUS", nil)
	check(a, "GET", "/api/executions/stats", "/api/executions/stats", nil)
	check(rc, "POST", "/api/runners/executions", "/api/runners/executions", map[string]any{"workflowId": wf})
	check(a, "GET", "/api/analytics/process-performance", "/api/analytics/process-performance", nil)

	// triggers
	r = check(a, "POST", "/api/triggers", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE", "config": `{"cron":"0 3 * * *"}`, "enabled": true})
	sched := r.str("trigger.id")
	check(a, "POST", "/api/triggers", "/api/triggers", map[string]any{"workflowId": wf, "type": "SCHEDULE", "config": `{"cron":"bogus"}`, "enabled": true})
	r = check(a, "POST", "/api/triggers", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": map[string]any{"secret": "s3cret"}, "enabled": true})
	hook := r.str("trigger.id")
	r = check(a, "POST", "/api/triggers", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "enabled": true})
	open := r.str("trigger.id")
	check(a, "GET", "/api/triggers", "/api/triggers", nil)
	check(a, "GET", "/api/triggers/{id}", "/api/triggers/"+hook, nil)
	check(a, "PUT", "/api/triggers/{id}", "/api/triggers/"+sched, map[string]any{"enabled": false})
	check(a, "PATCH", "/api/triggers/{id}", "/api/triggers/"+sched, map[string]any{"config": `{"cron":"@hourly"}`})
	check(anon, "POST", "/api/triggers/webhook/{id}", "/api/triggers/webhook/"+open, map[string]any{"x": 1})
	check(anon, "POST", "/api/triggers/webhook/{id}", "/api/triggers/webhook/"+hook, map[string]any{"x": 1})
	check(anon, "POST", "/api/triggers/webhook/{id}", "/api/triggers/webhook/"+sched, map[string]any{"x": 1})
	check(anon, "POST", "/api/triggers/webhook/{id}", "/api/triggers/webhook/nope", nil)
	check(a, "DELETE", "/api/triggers/{id}", "/api/triggers/"+sched, nil)

	// deletes and secrets
	check(a, "DELETE", "/api/workflows/{id}", "/api/workflows/"+wf, nil)
	check(a, "POST", "/api/runners/{id}/regenerate-secret", "/api/runners/"+rid+"/regenerate-secret", nil)
	check(a, "DELETE", "/api/runners/{id}", "/api/runners/"+rid, nil)
	check(a, "GET", "/api/runners/{id}", "/api/runners/"+rid, nil)
}
