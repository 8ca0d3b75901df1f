package httpd

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// openAPIOperation is the part of an operation the route check reads.
type openAPIOperation struct {
	Security    *[]map[string][]string `json:"security"`
	Roles       []string               `json:"x-roles"`
	RateLimited *bool                  `json:"x-rate-limited"`
}

// documentedOperations maps "METHOD /path" to its operation.
func documentedOperations(t *testing.T) map[string]openAPIOperation {
	t.Helper()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi.json: openapi %q, want 3.1.x", doc.OpenAPI)
	}
	ops := map[string]openAPIOperation{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
			default:
				continue // parameters, summary, ...
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("openapi.json %s %s: %v", method, path, err)
			}
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// routerParam matches the router's parameter syntaxes: {id}, {id:regex},
// {id?} and :id.
var routerParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)(?:[:?][^}]*)?\}|:([A-Za-z0-9_]+)`)

// openAPIPath converts a router path template to OpenAPI's syntax.
func openAPIPath(p string) string {
	return routerParam.ReplaceAllStringFunc(p, func(m string) string {
		sm := routerParam.FindStringSubmatch(m)
		name := sm[1]
		if name == "" {
			name = sm[2]
		}
		return "{" + name + "}"
	})
}

// pendingRoutes are documented endpoints whose feature is still being
// built. Remove an entry as soon as its route lands (the test says which).
var pendingRoutes = map[string]bool{}

// routeDocMismatches compares a route table with the documented operations.
func routeDocMismatches(routes []Route, ops map[string]openAPIOperation, pending map[string]bool) (problems, notes []string) {
	routed := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + openAPIPath(rt.Path)
		if routed[key] {
			problems = append(problems, fmt.Sprintf("route %s appears twice in the route table", key))
		}
		routed[key] = true
		op, ok := ops[key]
		if !ok {
			problems = append(problems, fmt.Sprintf("route %s is not documented in httpd/openapi.json (add the operation)", key))
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if (rt.Access == Public) != public {
			problems = append(problems, fmt.Sprintf("%s: route access %v, but the document says public=%v (security)", key, rt.Access, public))
		}
		var roles []string
		for _, r := range rt.Roles {
			roles = append(roles, string(r))
		}
		if rt.Access == Roles && !sameSet(roles, op.Roles) {
			problems = append(problems, fmt.Sprintf("%s: route roles %v, document x-roles %v", key, roles, op.Roles))
		}
		if op.RateLimited != nil && *op.RateLimited != rt.Limited {
			problems = append(problems, fmt.Sprintf("%s: route rate limited=%v, document x-rate-limited=%v", key, rt.Limited, *op.RateLimited))
		}
	}
	var missing []string
	for key := range ops {
		switch {
		case routed[key] && pending[key]:
			notes = append(notes, key+" is routed now: remove it from pendingRoutes")
		case !routed[key] && !pending[key]:
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		problems = append(problems, fmt.Sprintf("httpd/openapi.json documents %s but the route table has no such route", key))
	}
	return problems, notes
}

// TestOpenAPIMatchesRouteTable fails when a route is added without being
// documented in openapi.json, or the document lists an endpoint that has
// no route, or they disagree on authentication, roles or rate limiting.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	problems, notes := routeDocMismatches((&Server{}).routeTable(), documentedOperations(t), pendingRoutes)
	for _, n := range notes {
		t.Log(n)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestRouteDocCheckCatchesDrift proves the check fails on each kind of drift.
func TestRouteDocCheckCatchesDrift(t *testing.T) {
	ops := documentedOperations(t)
	base := (&Server{}).routeTable()
	h := (*Server).health
	for name, routes := range map[string][]Route{
		"undocumented route": append(append([]Route(nil), base...), Route{Method: "GET", Path: "/api/undocumented/{id}", Access: AnyUser, Handle: h}),
		"unrouted operation": base[1:],
		"wrong access":       append([]Route{{Method: "GET", Path: "/api/health", Access: AnyUser, Handle: h}}, base[1:]...),
		"wrong rate limit":   append([]Route{{Method: "GET", Path: "/api/health", Access: Public, Limited: true, Handle: h}}, base[1:]...),
	} {
		if problems, _ := routeDocMismatches(routes, ops, nil); len(problems) == 0 {
			t.Errorf("%s: the check found nothing", name)
		}
	}
	roles := append([]Route(nil), base...)
	for i, rt := range roles {
		if rt.Path == "/api/system/backup" {
			roles[i].Roles = allRoles
		}
	}
	if problems, _ := routeDocMismatches(roles, ops, nil); len(problems) != 1 {
		t.Errorf("wrong roles: %v", problems)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestOpenAPIPathConversion covers the router's parameter syntaxes.
func TestOpenAPIPathConversion(t *testing.T) {
	for in, want := range map[string]string{
		"/api/users/{id}":              "/api/users/{id}",
		"/api/users/:id":               "/api/users/{id}",
		"/api/x/{id:[0-9]+}/y/{name?}": "/api/x/{id}/y/{name}",
		"/metrics":                     "/metrics",
	} {
		if got := openAPIPath(in); got != want {
			t.Errorf("openAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}
