package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// graph is a small valid graphJson.
const testGraph = `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"log","params":{"message":"hi"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"e"}]}`

// createWorkflow creates a workflow as c and returns its id.
func (h *harness) createWorkflow(c *client, name string) string {
	h.t.Helper()
	r := h.expect(c, "POST", "/api/workflows", map[string]any{"name": name, "description": "d"}, 201)
	id := r.str("workflow.id")
	if id == "" {
		h.t.Fatalf("no workflow id: %s", r.body)
	}
	return id
}

// publishedWorkflow creates a workflow with one published version.
func (h *harness) publishedWorkflow(c *client, name string) string {
	h.t.Helper()
	id := h.createWorkflow(c, name)
	h.expect(c, "POST", "/api/workflows/"+id+"/draft", map[string]any{"graphJson": testGraph}, 201)
	h.expect(c, "POST", "/api/workflows/"+id+"/publish", nil, 200)
	return id
}

func TestE2EWorkflowsLifecycle(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")
	op := h.userWithRole("OPERATOR")

	// create: validation, roles
	h.expectError(dev, "POST", "/api/workflows", map[string]any{"description": "x"}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/workflows", map[string]any{"name": "  "}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/workflows", map[string]any{"name": 5}, 400, "VALIDATION_ERROR")
	h.expectError(op, "POST", "/api/workflows", map[string]any{"name": "x"}, 403, "FORBIDDEN")
	h.expectError(anon, "GET", "/api/workflows", nil, 401, "UNAUTHORIZED")

	r := h.expect(dev, "POST", "/api/workflows", map[string]any{"name": " Invoices ", "description": "pay them"}, 201)
	wf := r.str("workflow.id")
	if r.str("workflow.name") != "Invoices" || r.str("workflow.description") != "pay them" ||
		r.str("workflow.createdBy") != dev.user["id"] || r.str("workflow.createdAt") == "" ||
		r.num("workflow.latestVersionNumber") != 0 {
		t.Fatalf("created workflow: %s", r.body)
	}
	if v, ok := r.json["workflow"].(map[string]any)["publishedVersionId"]; !ok || v != nil {
		t.Fatalf("publishedVersionId before publish: %v", v)
	}
	second := h.createWorkflow(h.admin, "Second")

	// list: newest first, paginated, any role
	r = h.expect(op, "GET", "/api/workflows?limit=1", nil, 200)
	items := r.json["workflows"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != second || r.num("pagination.total") != 2 || r.num("pagination.totalPages") != 2 {
		t.Fatalf("list: %s", r.body)
	}
	h.expectError(op, "GET", "/api/workflows?limit=0", nil, 400, "VALIDATION_ERROR")

	// detail
	r = h.expect(op, "GET", "/api/workflows/"+wf, nil, 200)
	if r.num("workflow.executionCount") != 0 || len(dig(r.json, "workflow.versions").([]any)) != 0 ||
		len(dig(r.json, "workflow.triggers").([]any)) != 0 {
		t.Fatalf("detail: %s", r.body)
	}
	h.expectError(op, "GET", "/api/workflows/nope", nil, 404, "NOT_FOUND")

	// update (PUT and PATCH)
	r = h.expect(dev, "PUT", "/api/workflows/"+wf, map[string]any{"name": "Invoices v2"}, 200)
	if r.str("workflow.name") != "Invoices v2" || r.str("workflow.description") != "pay them" {
		t.Fatalf("put: %s", r.body)
	}
	r = h.expect(dev, "PATCH", "/api/workflows/"+wf, map[string]any{"description": "new"}, 200)
	if r.str("workflow.name") != "Invoices v2" || r.str("workflow.description") != "new" {
		t.Fatalf("patch: %s", r.body)
	}
	h.expectError(dev, "PATCH", "/api/workflows/"+wf, map[string]any{}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "PATCH", "/api/workflows/"+wf, map[string]any{"name": ""}, 400, "VALIDATION_ERROR")
	h.expectError(dev, "PATCH", "/api/workflows/nope", map[string]any{"name": "x"}, 404, "NOT_FOUND")
	h.expectError(op, "PATCH", "/api/workflows/"+wf, map[string]any{"name": "x"}, 403, "FORBIDDEN")

	// versions: none yet
	h.expectError(op, "GET", "/api/workflows/"+wf+"/versions/latest", nil, 404, "NOT_FOUND")
	h.expectError(dev, "POST", "/api/workflows/"+wf+"/publish", nil, 400, "VALIDATION_ERROR")
	h.expectError(dev, "POST", "/api/workflows/nope/publish", nil, 404, "NOT_FOUND")
	h.expectError(op, "POST", "/api/workflows/"+wf+"/publish", nil, 403, "FORBIDDEN")
	r = h.expect(op, "GET", "/api/workflows/"+wf+"/versions", nil, 200)
	if len(r.json["versions"].([]any)) != 0 {
		t.Fatalf("versions: %s", r.body)
	}
	h.expectError(op, "GET", "/api/workflows/nope/versions", nil, 404, "NOT_FOUND")

	// drafts: validation
	for _, bad := range []map[string]any{
		{},
		{"graphJson": "not json"},
		{"graphJson": `{"nodes":[{"id":"a"}],"edges":[]}`},
		{"graphJson": `{"nodes":[{"id":"a","type":"x"},{"id":"a","type":"y"}],"edges":[]}`},
		{"graphJson": `{"nodes":[{"id":"a","type":"x"}],"edges":[{"source":"a","target":"b"}]}`},
		{"graphJson": map[string]any{"nodes": []any{}}},
	} {
		h.expectError(dev, "POST", "/api/workflows/"+wf+"/draft", bad, 400, "VALIDATION_ERROR")
	}
	h.expectError(dev, "POST", "/api/workflows/nope/draft", map[string]any{"graphJson": testGraph}, 404, "NOT_FOUND")
	h.expectError(op, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph}, 403, "FORBIDDEN")

	r = h.expect(dev, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph, "metadata": "m1"}, 201)
	v1 := r.str("version.id")
	if r.num("version.number") != 1 || r.str("version.status") != "DRAFT" || r.str("version.graphJson") != testGraph ||
		r.str("version.metadata") != "m1" || r.str("version.workflowId") != wf || r.str("version.createdBy") != dev.user["id"] {
		t.Fatalf("draft: %s", r.body)
	}
	r = h.expect(dev, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	if r.str("version.id") != v1 || r.str("version.status") != "PUBLISHED" || r.str("version.publishedAt") == "" {
		t.Fatalf("publish: %s", r.body)
	}
	h.expectError(dev, "POST", "/api/workflows/"+wf+"/publish", nil, 400, "VALIDATION_ERROR")
	r = h.expect(dev, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph}, 201)
	v2 := r.str("version.id")
	if r.num("version.number") != 2 {
		t.Fatalf("draft 2: %s", r.body)
	}
	r = h.expect(op, "GET", "/api/workflows/"+wf+"/versions/latest", nil, 200)
	if r.str("version.id") != v2 || r.str("version.status") != "DRAFT" {
		t.Fatalf("latest: %s", r.body)
	}
	r = h.expect(op, "GET", "/api/workflows/"+wf, nil, 200)
	if r.str("workflow.publishedVersionId") != v1 || r.num("workflow.latestVersionNumber") != 2 {
		t.Fatalf("detail after draft 2: %s", r.body)
	}
	h.expect(h.admin, "POST", "/api/workflows/"+wf+"/publish", nil, 200)
	r = h.expect(op, "GET", "/api/workflows/"+wf+"/versions", nil, 200)
	vs := r.json["versions"].([]any)
	if len(vs) != 2 || vs[0].(map[string]any)["id"] != v2 || vs[0].(map[string]any)["status"] != "PUBLISHED" ||
		vs[1].(map[string]any)["status"] != "SUPERSEDED" {
		t.Fatalf("versions after second publish: %s", r.body)
	}
	r = h.expect(op, "GET", "/api/workflows/"+wf, nil, 200)
	if r.str("workflow.publishedVersionId") != v2 || len(dig(r.json, "workflow.versions").([]any)) != 2 {
		t.Fatalf("detail after publish: %s", r.body)
	}

	// audit
	r = h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	seen := map[string]bool{}
	for _, e := range r.json["entries"].([]any) {
		seen[e.(map[string]any)["action"].(string)] = true
	}
	for _, a := range []string{"workflow.created", "workflow.updated", "workflow.published"} {
		if !seen[a] {
			t.Errorf("audit lacks %s", a)
		}
	}

	// delete: ADMIN only
	h.expectError(dev, "DELETE", "/api/workflows/"+wf, nil, 403, "FORBIDDEN")
	h.expectError(h.admin, "DELETE", "/api/workflows/nope", nil, 404, "NOT_FOUND")
	r = h.expect(h.admin, "DELETE", "/api/workflows/"+wf, nil, 200)
	if r.json["success"] != true {
		t.Fatalf("delete: %s", r.body)
	}
	h.expectError(op, "GET", "/api/workflows/"+wf, nil, 404, "NOT_FOUND")
	h.expectError(op, "GET", "/api/workflows/"+wf+"/versions", nil, 404, "NOT_FOUND")
	h.expectError(h.admin, "DELETE", "/api/workflows/"+wf, nil, 404, "NOT_FOUND")
	r = h.expect(h.admin, "GET", "/api/audit?limit=5", nil, 200)
	if !strings.Contains(string(r.body), "workflow.deleted") {
		t.Fatalf("audit lacks workflow.deleted: %s", r.body)
	}
	r = h.expect(op, "GET", "/api/workflows", nil, 200)
	if r.num("pagination.total") != 1 {
		t.Fatalf("list after delete: %s", r.body)
	}
}

func TestE2EWorkflowDraftNumbersConcurrent(t *testing.T) {
	h := newHarness(t)
	wf := h.createWorkflow(h.admin, "busy")
	const n = 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	var nums []int
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.request(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph})
			if r.status != 201 {
				errs <- fmt.Sprintf("%d %s", r.status, r.body)
				return
			}
			mu.Lock()
			nums = append(nums, int(r.num("version.number")))
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	sort.Ints(nums)
	for i, v := range nums {
		if v != i+1 {
			t.Fatalf("numbers %v, want 1..%d", nums, n)
		}
	}
	h.restart()
	r := h.expect(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": testGraph}, 201)
	if r.num("version.number") != n+1 {
		t.Fatalf("after restart: %s", r.body)
	}
}

func TestE2EWorkflowLicense(t *testing.T) {
	h := newUnactivatedHarness(t)
	h.activate(h.issueLicense(licenseOpts{workflows: 2, expires: time.Now().Add(48 * time.Hour)}))
	h.admin = h.bootstrap(adminEmail, adminPassword)
	a := h.createWorkflow(h.admin, "one")
	b := h.createWorkflow(h.admin, "two")
	h.expectError(h.admin, "POST", "/api/workflows", map[string]any{"name": "three"}, 403, "LICENSE_LIMIT")
	r := h.expect(h.admin, "GET", "/api/license/status", nil, 200)
	if r.num("usage.workflows") != 2 {
		t.Fatalf("usage: %s", r.body)
	}
	h.expect(h.admin, "DELETE", "/api/workflows/"+b, nil, 200)
	c := h.createWorkflow(h.admin, "three")
	h.restart()
	h.expectError(h.admin, "POST", "/api/workflows", map[string]any{"name": "four"}, 403, "LICENSE_LIMIT")

	// Expired: publishing is refused, reads keep working.
	h.expect(h.admin, "POST", "/api/workflows/"+a+"/draft", map[string]any{"graphJson": testGraph}, 201)
	h.clock.Advance(72 * time.Hour)
	h.expectError(h.admin, "POST", "/api/workflows/"+a+"/publish", nil, 403, "LICENSE_EXPIRED")
	h.expect(h.admin, "GET", "/api/workflows/"+a, nil, 200)
	// Creating workflows is not on the list (docs/api.md, "Conventions", License) of what an expired license
	// refuses: only the limit holds.
	h.expectError(h.admin, "POST", "/api/workflows", map[string]any{"name": "four"}, 403, "LICENSE_LIMIT")
	h.expect(h.admin, "DELETE", "/api/workflows/"+c, nil, 200)
	h.createWorkflow(h.admin, "four")
}
