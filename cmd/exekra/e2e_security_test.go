package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/exekra/orchestrator/httpd"
	"github.com/exekra/orchestrator/messages"
)

// The security suite: the role matrix of the OpenAPI document's x-roles checked against the
// server's route table and then call by call, token forgeries and
// revocations for users and runners, and a full tour of the API that looks
// for secrets in every answer, every log line and the database file.

// who may call an endpoint.
const (
	accPublic     = "public"      // nothing needed
	accAnyUser    = "any"         // any logged-in user
	accRoles      = "roles"       // a user with one of the listed roles
	accRunner     = "runner"      // a runner token
	accRunnerOrMC = "runner|body" // a runner token, or machine credentials in the body
)

// endpoint is one row of the security matrix.
type secEndpoint struct {
	method, path string
	auth         string
	roles        []string
}

var (
	secAdmin    = []string{"ADMIN"}
	secAdminDev = []string{"ADMIN", "DEVELOPER"}
	secEveryone = []string{"ADMIN", "DEVELOPER", "OPERATOR"}
)

// securityMatrix is the OpenAPI document's x-roles, row by row. A route the server serves that is
// missing here (or differs) fails TestSecurityMatrixMatchesRouteTable: every
// new endpoint needs an explicit decision in this table.
var securityMatrix = []secEndpoint{
	{"GET", "/api/health", accPublic, nil},
	{"GET", "/api/status", accPublic, nil},
	{"POST", "/api/license/activate", accPublic, nil},
	{"GET", "/api/license/status", accAnyUser, nil},
	{"POST", "/api/license/validate", accRoles, secAdmin},
	{"PUT", "/api/license", accRoles, secAdmin},
	{"POST", "/api/auth/login", accPublic, nil},
	{"POST", "/api/auth/bootstrap", accPublic, nil},
	{"POST", "/api/auth/register", accRoles, secAdmin},
	{"POST", "/api/auth/logout", accAnyUser, nil},
	{"GET", "/api/auth/me", accAnyUser, nil},
	{"POST", "/api/auth/password", accAnyUser, nil},
	{"GET", "/api/users", accRoles, secAdmin},
	{"PATCH", "/api/users/{id}", accRoles, secAdmin},
	{"GET", "/api/audit", accRoles, secAdmin},
	{"POST", "/api/auth/api-keys", accAnyUser, nil},
	{"GET", "/api/auth/api-keys", accAnyUser, nil},
	{"DELETE", "/api/auth/api-keys/{id}", accAnyUser, nil},
	{"POST", "/api/workflows", accRoles, secAdminDev},
	{"GET", "/api/workflows", accAnyUser, nil},
	{"GET", "/api/workflows/{id}", accAnyUser, nil},
	{"PUT", "/api/workflows/{id}", accRoles, secAdminDev},
	{"PATCH", "/api/workflows/{id}", accRoles, secAdminDev},
	{"DELETE", "/api/workflows/{id}", accRoles, secAdmin},
	{"POST", "/api/workflows/{id}/draft", accRoles, secAdminDev},
	{"POST", "/api/workflows/{id}/publish", accRoles, secAdminDev},
	{"GET", "/api/workflows/{id}/versions", accAnyUser, nil},
	{"GET", "/api/workflows/{id}/versions/latest", accAnyUser, nil},
	{"POST", "/api/executions", accRoles, secEveryone},
	{"GET", "/api/executions", accAnyUser, nil},
	{"GET", "/api/executions/stats", accAnyUser, nil},
	{"GET", "/api/executions/{id}", accAnyUser, nil},
	{"POST", "/api/executions/{id}/stop", accRoles, secEveryone},
	{"POST", "/api/executions/{id}/status", accRunner, nil},
	{"POST", "/api/runners/register", accRoles, secAdmin},
	{"POST", "/api/runners/authenticate", accPublic, nil},
	{"POST", "/api/runners/heartbeat", accRunnerOrMC, nil},
	{"GET", "/api/runners/poll", accRunnerOrMC, nil},
	{"POST", "/api/runners/poll", accRunnerOrMC, nil},
	{"POST", "/api/runners/executions", accRunner, nil},
	{"GET", "/api/runners/processes", accRunner, nil},
	{"GET", "/api/runners", accAnyUser, nil},
	{"GET", "/api/runners/{id}", accAnyUser, nil},
	{"POST", "/api/runners/{id}/regenerate-secret", accRoles, secAdmin},
	{"DELETE", "/api/runners/{id}", accRoles, secAdmin},
	{"PATCH", "/api/runners/{id}", accRoles, secAdmin},
	{"POST", "/api/triggers", accRoles, secAdminDev},
	{"GET", "/api/triggers", accAnyUser, nil},
	{"GET", "/api/triggers/{id}", accAnyUser, nil},
	{"PUT", "/api/triggers/{id}", accRoles, secAdminDev},
	{"PATCH", "/api/triggers/{id}", accRoles, secAdminDev},
	{"DELETE", "/api/triggers/{id}", accRoles, secAdmin},
	{"POST", "/api/triggers/webhook/{id}", accPublic, nil},
	{"GET", "/api/analytics/process-performance", accAnyUser, nil},
	{"GET", "/api/events", accAnyUser, nil},
	{"GET", "/api/openapi.json", accPublic, nil},
	{"GET", "/metrics", accPublic, nil},
	{"GET", "/api/system/backup", accRoles, secAdmin},
	// assets (docs/api.md, "Assets")
	{"POST", "/api/assets", accRoles, secAdminDev},
	{"GET", "/api/assets", accAnyUser, nil},
	{"GET", "/api/assets/{id}", accAnyUser, nil},
	{"PUT", "/api/assets/{id}", accRoles, secAdminDev},
	{"PATCH", "/api/assets/{id}", accRoles, secAdminDev},
	{"DELETE", "/api/assets/{id}", accRoles, secAdmin},
	{"POST", "/api/subscriptions", accRoles, secAdmin},
	{"GET", "/api/subscriptions", accRoles, secAdmin},
	{"GET", "/api/subscriptions/{id}", accRoles, secAdmin},
	{"PATCH", "/api/subscriptions/{id}", accRoles, secAdmin},
	{"DELETE", "/api/subscriptions/{id}", accRoles, secAdmin},
	{"POST", "/api/subscriptions/{id}/rotate-secret", accRoles, secAdmin},
	{"POST", "/api/subscriptions/{id}/test", accRoles, secAdmin},
	{"GET", "/api/subscriptions/{id}/deliveries", accRoles, secAdmin},
	{"POST", "/api/subscriptions/{id}/deliveries/{deliveryId}/retry", accRoles, secAdmin},
}

// allowedRoles is the set of user roles an endpoint admits ("" for none).
func (e secEndpoint) allowedRoles() string {
	switch e.auth {
	case accAnyUser:
		return strings.Join(secEveryone, ",")
	case accRoles:
		r := append([]string(nil), e.roles...)
		sort.Strings(r)
		return strings.Join(r, ",")
	}
	return ""
}

func (e secEndpoint) key() string { return e.method + " " + e.path }

// userFacing reports whether the endpoint takes a user token.
func (e secEndpoint) userFacing() bool { return e.auth == accAnyUser || e.auth == accRoles }

// runnerFacing reports whether the endpoint takes a runner token.
func (e secEndpoint) runnerFacing() bool { return e.auth == accRunner || e.auth == accRunnerOrMC }

// fromRoute is a route table row in the matrix's terms.
func secFromRoute(rt httpd.Route) secEndpoint {
	e := secEndpoint{method: rt.Method, path: rt.Path}
	switch rt.Access {
	case httpd.Public:
		e.auth = accPublic
	case httpd.AnyUser:
		e.auth = accAnyUser
	case httpd.Roles:
		e.auth = accRoles
		for _, r := range rt.Roles {
			e.roles = append(e.roles, string(r))
		}
		if len(e.roles) == len(secEveryone) {
			e.auth = accAnyUser // every role is any user
		}
	case httpd.Runner:
		e.auth = accRunner
	case httpd.RunnerOrCredentials:
		e.auth = accRunnerOrMC
	default:
		e.auth = fmt.Sprintf("access(%d)", rt.Access)
	}
	return e
}

// normalized folds "every role" into any user, so either spelling matches.
func (e secEndpoint) normalized() secEndpoint {
	if e.auth == accRoles && len(e.roles) == len(secEveryone) {
		return secEndpoint{method: e.method, path: e.path, auth: accAnyUser}
	}
	return e
}

// served is the matrix rows the running server has routes for.
func (h *harness) secServed() map[string]bool {
	out := map[string]bool{}
	for _, rt := range h.m.http.Routes() {
		out[rt.Method+" "+rt.Path] = true
	}
	return out
}

// requireRoutes skips the test when an endpoint it needs is not served.
func (h *harness) secRequireRoutes(t *testing.T, keys ...string) {
	t.Helper()
	secServed := h.secServed()
	for _, k := range keys {
		if !secServed[k] {
			t.Skipf("the server has no %s route yet", k)
		}
	}
}

func TestSecurityMatrixMatchesRouteTable(t *testing.T) {
	h := newHarness(t)
	want := map[string]secEndpoint{}
	for _, e := range securityMatrix {
		if _, dup := want[e.key()]; dup {
			t.Errorf("matrix lists %s twice", e.key())
		}
		want[e.key()] = e.normalized()
	}
	got := map[string]secEndpoint{}
	for _, rt := range h.m.http.Routes() {
		e := secFromRoute(rt)
		got[e.key()] = e
		w, ok := want[e.key()]
		switch {
		case !ok:
			t.Errorf("route %s (%s %v) has no row in the security matrix: decide who may call it", e.key(), e.auth, e.roles)
		case w.auth != e.auth || w.allowedRoles() != e.allowedRoles():
			t.Errorf("route %s admits %s [%s], the matrix (the OpenAPI document's x-roles) says %s [%s]", e.key(), e.auth, e.allowedRoles(), w.auth, w.allowedRoles())
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("endpoint %s of the role matrix is not served", k)
		}
	}
}

// missingID is an id that names nothing (well-formed, so allowed calls
// answer 404 or 400 and change nothing).
var secMissingID = messages.NewID(time.Now())

func secFill(path, id string) string { return strings.ReplaceAll(path, "{id}", id) }

// probeBody is a body that no write endpoint accepts as complete.
func secProbeBody(method string) any {
	if method == "GET" || method == "DELETE" {
		return nil
	}
	return map[string]any{}
}

// roleClient is a logged-in user of one role, with its credentials so the
// test can open a throwaway session (for logout).
type secRoleClient struct {
	role  string
	email string
	c     *client
}

func (h *harness) secRoleClients() []secRoleClient {
	h.t.Helper()
	out := []secRoleClient{{role: "ADMIN", email: adminEmail, c: h.admin}}
	for _, r := range []string{"DEVELOPER", "OPERATOR"} {
		c := h.userWithRole(r)
		out = append(out, secRoleClient{role: r, email: c.user["email"].(string), c: c})
	}
	return out
}

func TestSecurityRoleMatrix(t *testing.T) {
	h := newHarness(t)
	secServed := h.secServed()
	users := h.secRoleClients()
	rn := h.secRunner("matrix-runner", "UNATTENDED") // nil when runners are not served yet
	for _, e := range securityMatrix {
		if !secServed[e.key()] {
			continue // reported by TestSecurityMatrixMatchesRouteTable
		}
		path := secFill(e.path, secMissingID)
		t.Run(e.key(), func(t *testing.T) {
			h.t = t
			defer func() { h.t = t }()
			switch {
			case e.userFacing():
				h.expectError(anon, e.method, path, secProbeBody(e.method), 401, "UNAUTHORIZED")
				h.expectError(&client{token: "Bearer-garbage"}, e.method, path, secProbeBody(e.method), 401, "UNAUTHORIZED")
				if rn != nil {
					h.expectError(&client{token: rn.token}, e.method, path, secProbeBody(e.method), 401, "UNAUTHORIZED")
				}
				allowed := "," + e.normalized().allowedRoles() + ","
				for _, u := range users {
					c := u.c
					if e.key() == "POST /api/auth/logout" {
						c = h.login(u.email, secPasswordOf(u))
					}
					r := h.request(c, e.method, path, secProbeBody(e.method))
					if strings.Contains(allowed, ","+u.role+",") {
						if r.status == 401 || r.status == 403 || r.status >= 500 {
							t.Errorf("%s may call %s %s: got %d %s", u.role, e.method, path, r.status, r.body)
						}
					} else if r.status != 403 || r.str("code") != "FORBIDDEN" {
						t.Errorf("%s may not call %s %s: got %d %s, want 403 FORBIDDEN", u.role, e.method, path, r.status, r.body)
					}
				}
			case e.runnerFacing():
				for _, u := range users {
					h.expectError(u.c, e.method, path, secProbeBody(e.method), 401, "UNAUTHORIZED")
				}
				if e.auth == accRunner {
					h.expectError(anon, e.method, path, secProbeBody(e.method), 401, "UNAUTHORIZED")
				} else {
					// No token: the body must carry valid machine credentials.
					for _, body := range []any{map[string]any{}, map[string]any{"machineKey": "FC-nope", "machineSecret": "nope"}} {
						if r := h.request(anon, e.method, path, body); r.status != 400 && r.status != 401 {
							t.Errorf("%s %s without credentials: %d %s, want 400 or 401", e.method, path, r.status, r.body)
						}
					}
				}
				if rn != nil {
					r := h.request(&client{token: rn.token}, e.method, path, secProbeBody(e.method))
					if r.status == 401 || r.status >= 500 {
						t.Errorf("runner may call %s %s: got %d %s", e.method, path, r.status, r.body)
					}
				}
			}
		})
	}
	h.t = t
	// The calls above changed nothing: the users are still there, no
	// workflow, trigger or execution appeared.
	for _, p := range []string{"/api/workflows", "/api/triggers", "/api/executions"} {
		if !secServed["GET "+p] {
			continue
		}
		if r := h.expect(h.admin, "GET", p, nil, 200); r.num("pagination.total") != 0 {
			t.Errorf("probing created something at %s: %s", p, r.body)
		}
	}
}

func secPasswordOf(u secRoleClient) string {
	if u.role == "ADMIN" && u.email == adminEmail {
		return adminPassword
	}
	return "password-123"
}

// runnerClient is a registered runner with its credentials and a token.
type secRunnerClient struct {
	id, key, secret string
	token           string
}

// newRunner registers and authenticates a runner (nil when the runner
// routes are not served yet).
func (h *harness) secRunner(name, typ string) *secRunnerClient {
	h.t.Helper()
	secServed := h.secServed()
	if !secServed["POST /api/runners/register"] || !secServed["POST /api/runners/authenticate"] {
		return nil
	}
	r := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": name, "type": typ}, 201)
	rc := &secRunnerClient{id: r.str("id"), key: r.str("machineKey"), secret: r.str("machineSecret")}
	if rc.id == "" || rc.key == "" || rc.secret == "" {
		h.t.Fatalf("register runner: %s", r.body)
	}
	rc.token = h.secRunnerToken(rc.key, rc.secret)
	return rc
}

// runnerToken authenticates machine credentials.
func (h *harness) secRunnerToken(key, secret string) string {
	h.t.Helper()
	r := h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": key, "machineSecret": secret}, 200)
	if r.str("token") == "" {
		h.t.Fatalf("authenticate: %s", r.body)
	}
	return r.str("token")
}

const secJWTSecret = "security-test-jwt-secret-0123456789"

func secWithJWTSecret(s string) harnessOption { return func(c *Config) { c.JWTSecret = s } }

// forge re-signs a token's claims with header alg and signature function.
func secForge(t *testing.T, token string, edit func(map[string]any), sign func(signingInput string) string, header string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b64 := base64.RawURLEncoding
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(claims)
	}
	payload, _ = json.Marshal(claims)
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	return input + "." + sign(input)
}

func secHS256(secret string) func(string) string {
	return func(input string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(input))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
}

// tokenAttacks are forgeries of a valid token that the server must refuse,
// even those signed with the real HMAC key.
func secTokenAttacks(t *testing.T, token string) map[string]string {
	t.Helper()
	parts := strings.Split(token, ".")
	hs256Header := `{"alg":"HS256","typ":"JWT"}`
	real := secHS256(secJWTSecret)
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)/2] == 'A' {
			b[len(b)/2] = 'B'
		} else {
			b[len(b)/2] = 'A'
		}
		return string(b)
	}
	hs512 := func(input string) string {
		tok := jwt.New(jwt.SigningMethodHS512)
		sig, err := tok.Method.Sign(input, []byte(secJWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(sig)
	}
	return map[string]string{
		"alg none":                 secForge(t, token, nil, func(string) string { return "" }, `{"alg":"none","typ":"JWT"}`),
		"alg None":                 secForge(t, token, nil, func(string) string { return "" }, `{"alg":"None","typ":"JWT"}`),
		"HS512 with the real key":  secForge(t, token, nil, hs512, `{"alg":"HS512","typ":"JWT"}`),
		"RS256 header, HMAC body":  secForge(t, token, nil, real, `{"alg":"RS256","typ":"JWT"}`),
		"tampered payload":         parts[0] + "." + strings.Split(secForge(t, token, func(c map[string]any) { c["sub"] = secMissingID }, real, hs256Header), ".")[1] + "." + parts[2],
		"tampered signature":       parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"signed with another key":  secForge(t, token, nil, secHS256("another-secret-0123456789abcdef"), hs256Header),
		"no expiry (real key)":     secForge(t, token, func(c map[string]any) { delete(c, "exp") }, real, hs256Header),
		"expired (real key)":       secForge(t, token, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, real, hs256Header),
		"unknown subject (real)":   secForge(t, token, func(c map[string]any) { c["sub"] = secMissingID }, real, hs256Header),
		"unknown kind (real key)":  secForge(t, token, func(c map[string]any) { c["knd"] = "admin" }, real, hs256Header),
		"stale epoch (real key)":   secForge(t, token, func(c map[string]any) { c["ep"] = -1.0 }, real, hs256Header),
		"empty signature":          parts[0] + "." + parts[1] + ".",
		"two parts":                parts[0] + "." + parts[1],
		"four parts":               token + "." + parts[2],
		"whitespace inside":        parts[0] + ". " + parts[1] + "." + parts[2],
		"garbage":                  "not-a-token",
		"empty claims (real key)":  secForge(t, token, func(c map[string]any) { clear(c) }, real, hs256Header),
		"kid to an empty key":      secForge(t, token, nil, secHS256(""), `{"alg":"HS256","typ":"JWT","kid":"../../../../dev/null"}`),
		"jku to another key":       secForge(t, token, nil, secHS256("attacker-key-0123456789abcdef"), `{"alg":"HS256","typ":"JWT","jku":"http://127.0.0.1:1/keys"}`),
		"payload not json (real)":  base64.RawURLEncoding.EncodeToString([]byte(hs256Header)) + ".bm90LWpzb24." + secHS256(secJWTSecret)(base64.RawURLEncoding.EncodeToString([]byte(hs256Header))+".bm90LWpzb24"),
		"future iat (real key)":    secForge(t, token, func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }, real, hs256Header),
		"user kind on runner (rk)": secForge(t, token, func(c map[string]any) { c["knd"] = secFlipKind(c["knd"]) }, real, hs256Header),
	}
}

func secFlipKind(k any) string {
	if k == "user" {
		return "runner"
	}
	return "user"
}

func TestSecurityUserTokenForgeries(t *testing.T) {
	h := newHarness(t, secWithJWTSecret(secJWTSecret))
	// The real token still works with the known key: the forgeries below
	// differ from it in one respect each.
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200)
	if got := secForge(t, h.admin.token, nil, secHS256(secJWTSecret), `{"alg":"HS256","typ":"JWT"}`); got != h.admin.token {
		h.expect(&client{token: got}, "GET", "/api/auth/me", nil, 200) // a re-encoding of the same claims is the same token
	}
	for name, tok := range secTokenAttacks(t, h.admin.token) {
		t.Run(name, func(t *testing.T) {
			h.t = t
			defer func() { h.t = t }()
			h.expectError(&client{token: tok}, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
			h.expectError(&client{token: tok}, "GET", "/api/users", nil, 401, "UNAUTHORIZED")
		})
	}
	h.t = t

	// The cookie is checked like the header.
	cookieReq := func(tok string) int {
		r := h.request(anon, "GET", "/api/auth/me", nil, "Cookie", "token="+tok)
		return r.status
	}
	if s := cookieReq(h.admin.token); s != 200 {
		t.Fatalf("cookie token: %d", s)
	}
	if s := cookieReq(secTokenAttacks(t, h.admin.token)["alg none"]); s != 401 {
		t.Fatalf("alg none in the cookie: %d", s)
	}

	// Revoked by logout: dead everywhere, across a restart too.
	dev := h.userWithRole("DEVELOPER")
	h.expect(dev, "POST", "/api/auth/logout", nil, 200)
	h.expectError(dev, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
	h.expectError(dev, "GET", "/api/workflows", nil, 401, "UNAUTHORIZED")
	h.expectError(dev, "POST", "/api/auth/logout", nil, 401, "UNAUTHORIZED")

	// A disabled user is refused at once.
	op := h.userWithRole("OPERATOR")
	h.expect(h.admin, "PATCH", "/api/users/"+op.user["id"].(string), map[string]any{"disabled": true}, 200)
	h.expectError(op, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")

	// Expired: move the clock past the 7-day lifetime.
	h.clock.Advance(7*24*time.Hour + time.Minute)
	h.expectError(h.admin, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
}

func TestSecurityRunnerTokens(t *testing.T) {
	h := newHarness(t, secWithJWTSecret(secJWTSecret))
	h.secRequireRoutes(t, "POST /api/runners/register", "POST /api/runners/authenticate", "POST /api/runners/heartbeat",
		"POST /api/runners/{id}/regenerate-secret", "DELETE /api/runners/{id}")
	beat := func(c *client) *response {
		return h.request(c, "POST", "/api/runners/heartbeat", map[string]any{"metrics": map[string]any{"cpu": 1}})
	}
	rn := h.secRunner("token-runner", "UNATTENDED")
	if r := beat(&client{token: rn.token}); r.status != 200 {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	for name, tok := range secTokenAttacks(t, rn.token) {
		t.Run(name, func(t *testing.T) {
			h.t = t
			defer func() { h.t = t }()
			h.expectError(&client{token: tok}, "POST", "/api/runners/heartbeat", map[string]any{}, 401, "UNAUTHORIZED")
		})
	}
	h.t = t
	// Wrong machine credentials.
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rn.key, "machineSecret": rn.secret + "x"}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rn.key + "x", "machineSecret": rn.secret}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/heartbeat", map[string]any{"machineKey": rn.key, "machineSecret": "0000"}, 401, "UNAUTHORIZED")

	// Regenerating the secret kills the old secret and every token issued with it.
	r := h.expect(h.admin, "POST", "/api/runners/"+rn.id+"/regenerate-secret", nil, 200)
	newSecret := r.str("machineSecret")
	if newSecret == "" || newSecret == rn.secret {
		t.Fatalf("regenerate: %s", r.body)
	}
	h.expectError(&client{token: rn.token}, "POST", "/api/runners/heartbeat", map[string]any{}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rn.key, "machineSecret": rn.secret}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/heartbeat", map[string]any{"machineKey": rn.key, "machineSecret": rn.secret}, 401, "UNAUTHORIZED")
	fresh := h.secRunnerToken(rn.key, newSecret)
	if r := beat(&client{token: fresh}); r.status != 200 {
		t.Fatalf("heartbeat with the new token: %d %s", r.status, r.body)
	}
	// ... and across a restart.
	h.restart()
	h.expectError(&client{token: rn.token}, "POST", "/api/runners/heartbeat", map[string]any{}, 401, "UNAUTHORIZED")
	if r := beat(&client{token: fresh}); r.status != 200 {
		t.Fatalf("heartbeat with the new token after restart: %d %s", r.status, r.body)
	}

	// Deleting the runner kills its credentials and tokens at once.
	h.expect(h.admin, "DELETE", "/api/runners/"+rn.id, nil, 200)
	h.expectError(&client{token: fresh}, "POST", "/api/runners/heartbeat", map[string]any{}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rn.key, "machineSecret": newSecret}, 401, "UNAUTHORIZED")
	h.restart()
	h.expectError(&client{token: fresh}, "POST", "/api/runners/heartbeat", map[string]any{}, 401, "UNAUTHORIZED")

	// Runner tokens expire (24 h).
	other := h.secRunner("expiring-runner", "UNATTENDED")
	h.clock.Advance(24*time.Hour + time.Minute)
	h.expectError(&client{token: other.token}, "POST", "/api/runners/heartbeat", map[string]any{}, 401, "UNAUTHORIZED")
}

func TestSecurityRunnerReportsOnlyOwnExecutions(t *testing.T) {
	h := newHarness(t)
	h.secRequireRoutes(t, "POST /api/runners/register", "POST /api/executions", "POST /api/runners/poll",
		"POST /api/executions/{id}/status", "POST /api/workflows/{id}/publish")
	wf := h.publishedWorkflow(h.admin, "own-executions")
	a := h.secRunner("runner-a", "UNATTENDED")
	b := h.secRunner("runner-b", "UNATTENDED")
	for _, rn := range []*secRunnerClient{a, b} {
		h.expect(&client{token: rn.token}, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	}
	exec := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201).str("execution.id")
	p := h.expect(&client{token: a.token}, "POST", "/api/runners/poll", map[string]any{}, 200)
	if p.str("execution.id") != exec {
		t.Fatalf("runner a polled %s, want %s", p.body, exec)
	}
	path := "/api/executions/" + exec + "/status"
	h.expectError(&client{token: b.token}, "POST", path, map[string]any{"status": "RUNNING"}, 403, "FORBIDDEN")
	h.expectError(&client{token: b.token}, "POST", path, map[string]any{"status": "FAILED", "error": "hijack"}, 403, "FORBIDDEN")
	h.expectError(h.admin, "POST", path, map[string]any{"status": "COMPLETED"}, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", path, map[string]any{"status": "COMPLETED"}, 401, "UNAUTHORIZED")
	h.expectError(&client{token: b.token}, "POST", "/api/executions/"+secMissingID+"/status", map[string]any{"status": "RUNNING"}, 404, "NOT_FOUND")
	if r := h.expect(h.admin, "GET", "/api/executions/"+exec, nil, 200); r.str("execution.status") != "ASSIGNED" || r.str("execution.runnerId") != a.id {
		t.Fatalf("after b's reports: %s", r.body)
	}
	h.expect(&client{token: a.token}, "POST", path, map[string]any{"status": "RUNNING"}, 200)
	h.expect(&client{token: a.token}, "POST", path, map[string]any{"status": "COMPLETED"}, 200)
	h.expectError(&client{token: b.token}, "POST", path, map[string]any{"status": "COMPLETED"}, 403, "FORBIDDEN")
	// An unattended runner may not start work itself.
	if h.secServed()["POST /api/runners/executions"] {
		h.expectError(&client{token: a.token}, "POST", "/api/runners/executions", map[string]any{"workflowId": wf}, 403, "FORBIDDEN")
	}
}

func TestSecurityLoginFailuresIndistinguishable(t *testing.T) {
	h := newHarness(t)
	op := h.userWithRole("OPERATOR")
	email := op.user["email"].(string)
	unknown := h.request(anon, "POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "password-123"})
	wrong := h.request(anon, "POST", "/api/auth/login", map[string]any{"email": email, "password": "password-124"})
	wrongCase := h.request(anon, "POST", "/api/auth/login", map[string]any{"email": strings.ToUpper(email), "password": "password-124"})
	// A disabled account with a wrong password tells nothing either.
	off := h.userWithRole("DEVELOPER")
	h.expect(h.admin, "PATCH", "/api/users/"+off.user["id"].(string), map[string]any{"disabled": true}, 200)
	offWrong := h.request(anon, "POST", "/api/auth/login", map[string]any{"email": off.user["email"], "password": "password-124"})
	if r := h.request(anon, "POST", "/api/auth/login", map[string]any{"email": off.user["email"], "password": "password-123"}); r.status != 401 || r.cookie("token") != "" {
		t.Fatalf("a disabled user logged in: %d %s", r.status, r.body)
	}
	for _, r := range []*response{unknown, wrong, wrongCase, offWrong} {
		if r.status != 401 || r.str("code") != "UNAUTHORIZED" {
			t.Fatalf("failed login: %d %s", r.status, r.body)
		}
		if r.str("error") != unknown.str("error") || string(r.body) != string(unknown.body) {
			t.Fatalf("login failures differ: %q vs %q", r.body, unknown.body)
		}
		if r.cookie("token") != "" {
			t.Fatalf("failed login set a token cookie")
		}
	}
	// Both failures are audited alike (no password in the details).
	audit := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	if strings.Contains(string(audit.body), "password-124") {
		t.Fatalf("audit log holds a tried password: %s", audit.body)
	}
}

// secretsTour drives every kind of object through the API and returns the
// secrets it made along the way; answers lists every answer body except
// the ones allowed to show a secret (registering and regenerating a runner).
type secTour struct {
	secrets map[string]string // what → plain text
	answers map[string][]byte // "METHOD path" → body
	tokens  []string
}

func TestSecurityNoSecretLeaks(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LogLevel = "debug" })
	secServed := h.secServed()
	tour := &secTour{secrets: map[string]string{
		"admin password": adminPassword,
	}, answers: map[string][]byte{}}
	record := func(method, path string, r *response) {
		tour.answers[method+" "+path+fmt.Sprintf(" #%d", len(tour.answers))] = r.body
	}
	call := func(c *client, method, path string, body any, want int, headers ...string) *response {
		t.Helper()
		r := h.expect(c, method, path, body, want, headers...)
		record(method, path, r)
		return r
	}

	// Users: register, log in, change a password, patch.
	const userPw, userPw2 = "tour-password-1", "tour-password-2"
	tour.secrets["user password"], tour.secrets["changed password"] = userPw, userPw2
	u := call(h.admin, "POST", "/api/auth/register", map[string]any{"email": "tour@example.com", "password": userPw, "name": "Tour", "role": "DEVELOPER"}, 201)
	uid := u.str("user.id")
	lr := h.expect(anon, "POST", "/api/auth/login", map[string]any{"email": "tour@example.com", "password": userPw}, 200)
	record("POST", "/api/auth/login", lr)
	dev := &client{token: lr.cookie("token")}
	tour.tokens = append(tour.tokens, h.admin.token, dev.token)
	call(dev, "POST", "/api/auth/password", map[string]any{"currentPassword": userPw, "newPassword": userPw2}, 200)
	h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": "tour@example.com", "password": userPw}, 401, "UNAUTHORIZED")
	call(h.admin, "PATCH", "/api/users/"+uid, map[string]any{"name": "Tour Renamed"}, 200)
	call(dev, "GET", "/api/auth/me", nil, 200)

	// Workflows, a webhook trigger with a secret, executions.
	var wf string
	if secServed["POST /api/workflows/{id}/publish"] {
		wf = h.publishedWorkflow(h.admin, "tour")
		call(h.admin, "GET", "/api/workflows/"+wf, nil, 200)
		call(h.admin, "GET", "/api/workflows/"+wf+"/versions", nil, 200)
	}
	if wf != "" && secServed["POST /api/triggers"] {
		const hookSecret = "tour-webhook-secret-42"
		tour.secrets["webhook secret"] = hookSecret
		tr := call(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
			"config": fmt.Sprintf(`{"secret":%q}`, hookSecret), "enabled": true}, 201)
		tid := tr.str("trigger.id")
		if tr.json["trigger"].(map[string]any)["hasSecret"] != true {
			t.Errorf("trigger lacks hasSecret: %s", tr.body)
		}
		body := `{"order":7}`
		m := hmac.New(sha256.New, []byte(hookSecret))
		m.Write([]byte(body))
		sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
		call(anon, "POST", "/api/triggers/webhook/"+tid, body, 200, "X-Exekra-Signature", sig)
		h.expectError(anon, "POST", "/api/triggers/webhook/"+tid, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", "sha256=00")
		call(h.admin, "PATCH", "/api/triggers/"+tid, map[string]any{"enabled": true}, 200)
		call(h.admin, "GET", "/api/triggers/"+tid, nil, 200)
		call(h.admin, "GET", "/api/triggers", nil, 200)
		call(h.admin, "GET", "/api/workflows/"+wf, nil, 200)
	}
	if wf != "" && secServed["POST /api/executions"] {
		call(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "input": map[string]any{"k": "v"}}, 201)
	}

	// Assets: SECRET values and CREDENTIAL passwords are write-only (the
	// tour's workflow references none, so its poll answer carries none).
	if secServed["POST /api/assets"] {
		const assetSecret, assetPassword = "tour-asset-secret-77", "tour-asset-password-88"
		tour.secrets["asset secret"], tour.secrets["asset password"] = assetSecret, assetPassword
		a := call(h.admin, "POST", "/api/assets", map[string]any{"name": "tour-key", "type": "SECRET", "value": assetSecret}, 201)
		c := call(dev, "POST", "/api/assets", map[string]any{"name": "tour-login", "type": "CREDENTIAL", "username": "tour-robot", "password": assetPassword}, 201)
		call(dev, "PATCH", "/api/assets/"+c.str("asset.id"), map[string]any{"password": assetPassword}, 200)
		call(h.admin, "PUT", "/api/assets/"+a.str("asset.id"), map[string]any{"value": assetSecret, "description": "d"}, 200)
		call(h.admin, "GET", "/api/assets", nil, 200)
		call(dev, "GET", "/api/assets/"+c.str("asset.id"), nil, 200)
	}

	// Runners: only register and regenerate may show the machine secret.
	if rn := h.secRunner("tour-runner", "UNATTENDED"); rn != nil {
		tour.secrets["machine secret"] = rn.secret
		tour.tokens = append(tour.tokens, rn.token)
		rc := &client{token: rn.token}
		call(rc, "POST", "/api/runners/heartbeat", map[string]any{"metrics": map[string]any{"cpu": 3}}, 200)
		hb := h.expect(anon, "POST", "/api/runners/heartbeat", map[string]any{"machineKey": rn.key, "machineSecret": rn.secret}, 200)
		record("POST", "/api/runners/heartbeat (credentials)", hb)
		if secServed["POST /api/runners/poll"] {
			call(rc, "POST", "/api/runners/poll", map[string]any{}, 200)
		}
		if secServed["GET /api/runners/processes"] {
			call(rc, "GET", "/api/runners/processes", nil, 200)
		}
		call(h.admin, "GET", "/api/runners", nil, 200)
		call(h.admin, "GET", "/api/runners/"+rn.id, nil, 200)
		rg := h.expect(h.admin, "POST", "/api/runners/"+rn.id+"/regenerate-secret", nil, 200)
		tour.secrets["regenerated machine secret"] = rg.str("machineSecret")
		call(h.admin, "GET", "/api/runners/"+rn.id, nil, 200)
	}

	// Every list and read an admin has.
	for _, p := range []string{"/api/users", "/api/audit?limit=200", "/api/license/status", "/api/executions",
		"/api/executions/stats", "/api/workflows", "/api/analytics/process-performance", "/metrics", "/api/openapi.json", "/api/status", "/api/health"} {
		path := p
		if i := strings.IndexByte(p, '?'); i >= 0 {
			path = p[:i]
		}
		if secServed["GET "+path] {
			call(h.admin, "GET", p, nil, 200)
		}
	}
	if secServed["GET /api/executions"] {
		list := h.expect(h.admin, "GET", "/api/executions", nil, 200)
		if items, _ := list.json["executions"].([]any); len(items) > 0 {
			id := items[0].(map[string]any)["id"].(string)
			call(h.admin, "GET", "/api/executions/"+id, nil, 200)
		}
	}

	// No answer holds a secret, a hash or a hash-looking field.
	forbidden := map[string]string{}
	for what, s := range tour.secrets {
		if s != "" {
			forbidden[what] = s
		}
	}
	for what, s := range map[string]string{"bcrypt hash": "$2a$", "bcrypt hash (2b)": "$2b$", "argon2 hash": "$argon2",
		"jwt secret": secJWTSecret, "hash field": "passwordHash", "secret hash field": "secretHash"} {
		forbidden[what] = s
	}
	for call, body := range tour.answers {
		for what, s := range forbidden {
			if strings.Contains(string(body), s) {
				t.Errorf("%s answer holds the %s: %s", call, what, body)
			}
		}
	}
	if len(tour.answers) < 10 {
		t.Fatalf("the tour made only %d calls", len(tour.answers))
	}

	// No log line holds a secret or a token.
	logs := h.logs.String()
	if !strings.Contains(logs, "level=DEBUG") && !strings.Contains(logs, `"level":"DEBUG"`) {
		t.Logf("note: no debug line was logged (%d bytes of logs)", len(logs))
	}
	for what, s := range forbidden {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds the %s", what)
		}
	}
	for i, tok := range tour.tokens {
		if strings.Contains(logs, tok) || strings.Contains(logs, strings.Split(tok, ".")[2]) {
			t.Errorf("the log holds token #%d", i)
		}
	}

	// The database (and everything else in the data dir) holds no secret in plain text.
	dir := h.cfg.DataDir
	h.stop()
	scanned := 0
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for what, s := range tour.secrets {
			if s == "" || !strings.Contains(string(data), s) {
				continue
			}
			t.Errorf("%s holds the %s in plain text", filepath.Base(path), what)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned == 0 {
		t.Fatalf("no file in the data dir %s", dir)
	}
}

// secHostileBodies are bodies an attacker or a broken client sends.
var secHostileBodies = []string{
	``, `null`, `[]`, `"str"`, `42`, `{}`, `{"a":1}{"b":2}`, "\xff\xfe\xfd", `{"x":"\ud800"}`,
	`{` + strings.Repeat(`"a":{`, 20000) + `}`,
	`[` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `]`,
	`{"name":` + strings.Repeat(`[`, 9990) + strings.Repeat(`]`, 9990) + `}`,
	`{"name":"` + strings.Repeat("n", 200<<10) + `"}`,
	`{"workflowId":{"$ne":null},"name":{"$gt":""},"email":["a"],"password":true}`,
	`{"workflowId":"../../etc/passwd","priority":"HIGH","input":1e400}`,
	`{"workflowId":"` + strings.Repeat("w", 64<<10) + `","dedupeKey":"` + strings.Repeat("k", 64<<10) + `"}`,
	`{"email":"a@b.co\u0000admin","password":"password-123","role":"ADMIN ","name":"\u202e"}`,
	`{"graphJson":"{\"nodes\":[{\"id\":\"a\",\"type\":\"x\",\"params\":{\"p\":` + strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000) + `}}],\"edges\":[]}"}`,
	`{"graphJson":"{\"nodes\":[{\"id\":\"a\",\"type\":\"start\"}],\"edges\":[{\"source\":\"a\",\"target\":\"a\"}]}","metadata":{"x":1}}`,
	`{"type":"SCHEDULE","config":"{\"cron\":\"@every 0s\"}","workflowId":"x","enabled":"yes"}`,
	`{"type":"SCHEDULE","config":{"cron":"TZ=","timezone":"\u0000"}}`,
	`{"config":"{\"cron\":\"* * * * * * *\"}","enabled":null,"priority":7}`,
	`{"status":"COMPLETED","logs":"` + strings.Repeat("L", 128<<10) + `","metrics":{"cpu":-1e308,"memoryMB":"NaN"}}`,
	`{"status":"RUNNING","metrics":[1,2,3],"error":{"nested":true}}`,
	`{"machineKey":"","machineSecret":"","metrics":{"cpu":1e309}}`,
	`{"disabled":"true","role":"SUPERUSER"}`, `{"currentPassword":null,"newPassword":"` + strings.Repeat("p", 100) + `"}`,
	`{"license":"` + strings.Repeat("A", 32<<10) + `"}`, `{"name":"ok","description":null,"unknownField":[{}]}`,
}

// TestSecurityHostileBodiesRealStack sends hostile bodies to every route
// that takes one, on the real stack with real ids in the paths: never a
// 5xx, always a JSON answer. (httpd's fuzz tests cover the decoders in
// depth against a fake core; this covers what lies behind them.)
func TestSecurityHostileBodiesRealStack(t *testing.T) {
	h := newHarness(t)
	served := h.secServed()
	ids := map[string]string{}
	dev := h.userWithRole("DEVELOPER")
	ids["/api/users/"] = dev.user["id"].(string)
	var rn *secRunnerClient
	if served["POST /api/workflows/{id}/publish"] {
		wf := h.publishedWorkflow(h.admin, "hostile")
		ids["/api/workflows/"] = wf
		if served["POST /api/triggers"] {
			tr := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": "{}", "enabled": true}, 201)
			ids["/api/triggers/"] = tr.str("trigger.id")
			ids["/api/triggers/webhook/"] = tr.str("trigger.id")
		}
		if served["POST /api/executions"] {
			ids["/api/executions/"] = h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201).str("execution.id")
		}
	}
	if rn = h.secRunner("hostile-runner", "UNATTENDED"); rn != nil {
		ids["/api/runners/"] = rn.id
		h.expect(&client{token: rn.token}, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
		if _, ok := ids["/api/executions/"]; ok && served["POST /api/runners/poll"] {
			h.expect(&client{token: rn.token}, "POST", "/api/runners/poll", map[string]any{}, 200) // the execution is now this runner's
		}
	}
	pathFor := func(p string) string {
		i := strings.Index(p, "{id}")
		if i < 0 {
			return p
		}
		id, ok := ids[p[:i]]
		if !ok {
			id = secMissingID
		}
		return p[:i] + id + p[i+len("{id}"):]
	}
	n := 0
	for _, rt := range h.m.http.Routes() {
		if rt.Method != "POST" && rt.Method != "PUT" && rt.Method != "PATCH" {
			continue
		}
		path := pathFor(rt.Path)
		for i, body := range secHostileBodies {
			if rt.Path == "/api/auth/logout" && i >= 4 {
				break // each call costs a fresh login (bcrypt); logout reads no body
			}
			c := anon
			switch rt.Access {
			case httpd.AnyUser, httpd.Roles:
				c = h.admin
				if rt.Path == "/api/auth/logout" {
					c = h.login(adminEmail, adminPassword)
				}
			case httpd.Runner, httpd.RunnerOrCredentials:
				if rn != nil {
					c = &client{token: rn.token}
				}
			}
			r := h.request(c, rt.Method, path, body)
			n++
			if r.status >= 500 || r.status == 0 {
				t.Errorf("%s %s hostile body #%d (%.80q): %d %.300s", rt.Method, rt.Path, i, body, r.status, r.body)
				continue
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s hostile body #%d: content type %q", rt.Method, rt.Path, i, r.header.Get("Content-Type"))
			}
			if r.status >= 400 && (r.str("code") == "" || r.str("error") == "") {
				t.Errorf("%s %s hostile body #%d: error without code: %d %.200s", rt.Method, rt.Path, i, r.status, r.body)
			}
			if rt.Path == "/api/runners/{id}/regenerate-secret" && r.status == 200 && rn != nil {
				rn.token = h.secRunnerToken(rn.key, r.str("machineSecret"))
			}
		}

	}
	if n == 0 {
		t.Fatal("no route takes a body")
	}
	// The server is still healthy and the admin still works.
	h.expect(anon, "GET", "/api/health", nil, 200)
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200)
	if strings.Contains(h.logs.String(), "panic") {
		t.Errorf("a handler panicked:\n%s", h.logs.String())
	}
}

// The contract sets no minimum for --jwt-secret: a short one starts the server
// (with a warning in the log) and signs working tokens.
func TestE2EShortJWTSecretIsAccepted(t *testing.T) {
	h := newHarness(t, secWithJWTSecret("testsecret"))
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200)
}
