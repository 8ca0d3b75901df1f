package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSystemStatesAndGate(t *testing.T) {
	h := newUnactivatedHarness(t)
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("state") != "UNACTIVATED" {
		t.Fatalf("state = %s", r.body)
	}
	h.expect(anon, "GET", "/api/health", nil, 200)
	for _, p := range []string{"/api/users", "/api/auth/me", "/api/license/status", "/api/audit"} {
		h.expectError(anon, "GET", p, nil, 503, "SYSTEM_NOT_READY")
	}
	h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": "a@b.c", "password": "x"}, 503, "SYSTEM_NOT_READY")
	h.expectError(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": adminEmail, "password": adminPassword}, 409, "CONFLICT")

	// Activation: bad inputs first, then the real thing, then a second try.
	h.expectError(anon, "POST", "/api/license/activate", map[string]any{"license": "not-a-license"}, 400, "VALIDATION_ERROR")
	h.expectError(anon, "POST", "/api/license/activate", map[string]any{}, 400, "VALIDATION_ERROR")
	other := newUnactivatedHarness(t) // a license signed by another key
	h.expectError(anon, "POST", "/api/license/activate", map[string]any{"license": other.issueLicense(licenseOpts{})}, 400, "VALIDATION_ERROR")
	expired := h.issueLicense(licenseOpts{expires: time.Now().Add(-10 * 24 * time.Hour), graceDays: 3})
	h.expectError(anon, "POST", "/api/license/activate", map[string]any{"license": expired}, 400, "VALIDATION_ERROR")
	r := h.expect(anon, "POST", "/api/license/activate", map[string]any{"license": h.issueLicense(licenseOpts{})}, 200)
	if r.json["activated"] != true || r.str("status") != "ACTIVE" || r.str("licensee") != adminEmail {
		t.Fatalf("activate answer: %s", r.body)
	}
	h.expectError(anon, "POST", "/api/license/activate", map[string]any{"license": h.issueLicense(licenseOpts{})}, 409, "CONFLICT")
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("state") != "ACTIVATED" {
		t.Fatalf("state = %s", r.body)
	}
	h.expectError(anon, "GET", "/api/users", nil, 503, "SYSTEM_NOT_READY")

	// Bootstrap: the email must be the licensee's.
	h.expectError(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": "other@example.com", "password": adminPassword, "name": "X"}, 400, "VALIDATION_ERROR")
	h.expectError(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": adminEmail, "password": "short", "name": "X"}, 400, "VALIDATION_ERROR")
	br := h.request(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": strings.ToUpper(adminEmail), "password": adminPassword, "name": "Admin"})
	if br.status != 201 || br.str("user.role") != "ADMIN" || br.cookie("token") == "" || br.str("user.lastLoginAt") == "" {
		t.Fatalf("bootstrap: %d %s", br.status, br.body)
	}
	h.expectError(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": adminEmail, "password": adminPassword, "name": "X"}, 409, "CONFLICT")
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("state") != "BOOTSTRAPPED" {
		t.Fatalf("state = %s", r.body)
	}
	admin := &client{token: br.cookie("token")}
	if r := h.expect(admin, "GET", "/api/auth/me", nil, 200); r.str("user.email") == "" || r.str("user.role") != "ADMIN" {
		t.Fatalf("me: %s", r.body)
	}
	// The state survives a restart.
	h.restart()
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("state") != "BOOTSTRAPPED" {
		t.Fatalf("state after restart = %s", r.body)
	}
	h.expect(admin, "GET", "/api/auth/me", nil, 200)
}

func TestLoginCookieAndNoEnumeration(t *testing.T) {
	h := newHarness(t)
	r := h.expect(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail, "password": adminPassword}, 200)
	setCookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"token=", "HttpOnly", "SameSite=Lax", "path=/", "max-age=604800"} {
		if !strings.Contains(strings.ToLower(setCookie), strings.ToLower(want)) {
			t.Errorf("cookie %q lacks %s", setCookie, want)
		}
	}
	if strings.Contains(strings.ToLower(setCookie), "secure") {
		t.Errorf("cookie over plain HTTP must not be Secure: %s", setCookie)
	}
	if strings.Contains(string(r.body), "password") || strings.Contains(string(r.body), "$2a$") {
		t.Fatalf("login answer leaks a password field: %s", r.body)
	}
	// The answer shows this login as the last one, as GET /api/auth/me does.
	me := h.expect(&client{token: r.cookie("token")}, "GET", "/api/auth/me", nil, 200)
	if at := r.str("user.lastLoginAt"); at == "" || at != me.str("user.lastLoginAt") {
		t.Fatalf("login answer's lastLoginAt %q, me's %q", at, me.str("user.lastLoginAt"))
	}
	// The cookie works as well as the Bearer header.
	req, _ := http.NewRequest("GET", h.base+"/api/auth/me", nil)
	req.AddCookie(&http.Cookie{Name: "token", Value: r.cookie("token")})
	resp, err := h.http.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("cookie auth: %v %v", err, resp)
	}
	resp.Body.Close()

	wrongPw := h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail, "password": "wrong-password"}, 401, "UNAUTHORIZED")
	unknown := h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong-password"}, 401, "UNAUTHORIZED")
	if wrongPw.str("error") != unknown.str("error") {
		t.Fatalf("messages differ: %q vs %q", wrongPw.str("error"), unknown.str("error"))
	}
	// Timing: both paths run one bcrypt comparison; compare medians loosely.
	median := func(email string) time.Duration {
		var ds []time.Duration
		for i := 0; i < 5; i++ {
			start := time.Now()
			h.request(anon, "POST", "/api/auth/login", map[string]any{"email": email, "password": "wrong-password"})
			ds = append(ds, time.Since(start))
		}
		for i := range ds {
			for j := i + 1; j < len(ds); j++ {
				if ds[j] < ds[i] {
					ds[i], ds[j] = ds[j], ds[i]
				}
			}
		}
		return ds[2]
	}
	known, nobody := median(adminEmail), median("nobody@example.com")
	if nobody < known/3 || known < nobody/3 {
		t.Errorf("login timing differs too much: known user %v, unknown %v", known, nobody)
	}
	h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail}, 400, "VALIDATION_ERROR")

	// Failed and successful logins are audited.
	a := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	actions := map[string]bool{}
	for _, e := range a.json["entries"].([]any) {
		actions[e.(map[string]any)["action"].(string)] = true
	}
	for _, want := range []string{"auth.login.failed", "auth.login.succeeded", "auth.bootstrap", "license.activated"} {
		if !actions[want] {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
}

func TestRegisterAndRoles(t *testing.T) {
	h := newHarness(t)
	r := h.expect(h.admin, "POST", "/api/auth/register", map[string]any{"email": "Op@Example.com", "password": "password-1", "name": "Op"}, 201)
	if r.str("user.role") != "OPERATOR" || r.str("user.id") == "" {
		t.Fatalf("register: %s", r.body)
	}
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "op@example.com", "password": "password-1", "name": "Dup"}, 409, "CONFLICT")
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "x@example.com", "password": "short", "name": "X"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "x@example.com", "password": "password-1", "role": "SUPERUSER"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "not-an-email", "password": "password-1"}, 400, "VALIDATION_ERROR")
	h.expectError(anon, "POST", "/api/auth/register", map[string]any{"email": "y@example.com", "password": "password-1"}, 401, "UNAUTHORIZED")

	op := h.login("op@example.com", "password-1")
	dev := h.userWithRole("DEVELOPER")
	for _, c := range []*client{op, dev} {
		h.expectError(c, "POST", "/api/auth/register", map[string]any{"email": "z@example.com", "password": "password-1"}, 403, "FORBIDDEN")
		h.expectError(c, "GET", "/api/users", nil, 403, "FORBIDDEN")
		h.expectError(c, "GET", "/api/audit", nil, 403, "FORBIDDEN")
		h.expectError(c, "POST", "/api/license/validate", nil, 403, "FORBIDDEN")
		h.expectError(c, "PUT", "/api/license", map[string]any{"license": "x"}, 403, "FORBIDDEN")
		h.expect(c, "GET", "/api/auth/me", nil, 200)
		h.expect(c, "GET", "/api/license/status", nil, 200)
	}
	// No password hash anywhere in user lists.
	users := h.expect(h.admin, "GET", "/api/users", nil, 200)
	if strings.Contains(string(users.body), "$2a$") || strings.Contains(strings.ToLower(string(users.body)), "passwordhash") {
		t.Fatalf("users list leaks hashes: %s", users.body)
	}
	if users.num("pagination.total") != 3 || len(users.json["users"].([]any)) != 3 {
		t.Fatalf("users list: %s", users.body)
	}
	// Newest first, paginated.
	p := h.expect(h.admin, "GET", "/api/users?page=2&limit=2", nil, 200)
	if p.num("pagination.page") != 2 || p.num("pagination.limit") != 2 || p.num("pagination.totalPages") != 2 || len(p.json["users"].([]any)) != 1 {
		t.Fatalf("page 2: %s", p.body)
	}
	if first := users.json["users"].([]any)[0].(map[string]any); first["role"] != "DEVELOPER" {
		t.Fatalf("newest first: %v", first)
	}
	for _, q := range []string{"page=0", "page=-1", "page=x", "limit=0", "limit=201", "limit=abc"} {
		h.expectError(h.admin, "GET", "/api/users?"+q, nil, 400, "VALIDATION_ERROR")
	}
}

func TestBadInputMatrix(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name string
		body any
	}{
		{"empty", ""},
		{"null", "null"},
		{"array", "[]"},
		{"string", `"text"`},
		{"not json", "{email:"},
		{"wrong types", `{"email": 5, "password": true}`},
		{"invalid utf-8", []byte("{\"email\": \"a\xff\xfe@example.com\", \"password\": \"password-1\"}")},
		{"trailing garbage", `{"email": "a@example.com", "password": "password-1"} {}`},
		{"unknown role", `{"email": "a@example.com", "password": "password-1", "role": "ROOT"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			h.expectError(h.admin, "POST", "/api/auth/register", c.body, 400, "VALIDATION_ERROR")
		})
	}
	h.t = t
	big := `{"email": "a@example.com", "password": "` + strings.Repeat("x", 1<<20+10) + `"}`
	h.expectError(h.admin, "POST", "/api/auth/register", big, 413, "PAYLOAD_TOO_LARGE")
	// Nothing was created by any of it.
	if u := h.expect(h.admin, "GET", "/api/users", nil, 200); u.num("pagination.total") != 1 {
		t.Fatalf("bad input created users: %s", u.body)
	}
	h.expectError(anon, "GET", "/api/nope", nil, 404, "NOT_FOUND")
	h.expectError(anon, "DELETE", "/api/health", nil, 405, "METHOD_NOT_ALLOWED")
	h.expectError(h.admin, "PATCH", "/api/users/unknown-id", map[string]any{"name": "x"}, 404, "NOT_FOUND")
}

func TestLogoutRevokesAcrossRestart(t *testing.T) {
	h := newHarness(t)
	second := h.login(adminEmail, adminPassword)
	r := h.expect(second, "POST", "/api/auth/logout", nil, 200)
	if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "token=") || !strings.Contains(strings.ToLower(c), "max-age=0") && !strings.Contains(strings.ToLower(c), "expires=") {
		t.Fatalf("logout does not clear the cookie: %q", c)
	}
	h.expectError(second, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200) // other sessions live on
	h.restart()
	h.expectError(second, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200)
}

func TestUserPatchTakesEffectAtOnce(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")
	id := dev.user["id"].(string)
	h.expect(dev, "GET", "/api/auth/me", nil, 200)
	h.expectError(h.admin, "PATCH", "/api/users/"+id, map[string]any{}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "PATCH", "/api/users/"+id, map[string]any{"role": "KING"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "PATCH", "/api/users/"+id, map[string]any{"disabled": "yes"}, 400, "VALIDATION_ERROR")

	r := h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"role": "ADMIN", "name": "Promoted"}, 200)
	if r.str("user.role") != "ADMIN" || r.str("user.name") != "Promoted" {
		t.Fatalf("patch: %s", r.body)
	}
	h.expect(dev, "GET", "/api/users", nil, 200) // admin on the very next request
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"role": "OPERATOR"}, 200)
	h.expectError(dev, "GET", "/api/users", nil, 403, "FORBIDDEN")

	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"disabled": true}, 200)
	h.expectError(dev, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
	email := dev.user["email"].(string)
	h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": email, "password": "password-123"}, 401, "UNAUTHORIZED")
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"disabled": false}, 200)
	// Enabling does not bring the old session back; a new login works.
	h.expectError(dev, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
	h.expect(h.login(email, "password-123"), "GET", "/api/auth/me", nil, 200)

	// The last enabled admin can be neither demoted nor disabled.
	adminID := h.admin.user["id"].(string)
	h.expectError(h.admin, "PATCH", "/api/users/"+adminID, map[string]any{"role": "OPERATOR"}, 409, "CONFLICT")
	h.expectError(h.admin, "PATCH", "/api/users/"+adminID, map[string]any{"disabled": true}, 409, "CONFLICT")
}

func TestPasswordChangeRevokesOtherTokens(t *testing.T) {
	h := newHarness(t)
	other := h.login(adminEmail, adminPassword)
	h.expectError(h.admin, "POST", "/api/auth/password", map[string]any{"currentPassword": "wrong-one", "newPassword": "new-password-1"}, 403, "FORBIDDEN")
	h.expectError(h.admin, "POST", "/api/auth/password", map[string]any{"currentPassword": adminPassword, "newPassword": "short"}, 400, "VALIDATION_ERROR")
	h.expect(h.admin, "POST", "/api/auth/password", map[string]any{"currentPassword": adminPassword, "newPassword": "new-password-1"}, 200)
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200)
	h.expectError(other, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
	h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail, "password": adminPassword}, 401, "UNAUTHORIZED")
	fresh := h.login(adminEmail, "new-password-1")
	h.expect(fresh, "GET", "/api/auth/me", nil, 200)
	h.restart()
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200)
	h.expectError(other, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
}

func TestTokenForgeries(t *testing.T) {
	h := newHarness(t)
	parts := strings.Split(h.admin.token, ".")
	b64 := base64.RawURLEncoding
	noneHeader := b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	hs512Header := b64.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`))
	payload, _ := b64.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	claims["sub"] = "someone-else"
	tampered, _ := json.Marshal(claims)
	delete(claims, "exp")
	noExp, _ := json.Marshal(claims)
	for name, tok := range map[string]string{
		"alg none":         noneHeader + "." + parts[1] + ".",
		"other algorithm":  hs512Header + "." + parts[1] + "." + parts[2],
		"tampered payload": parts[0] + "." + b64.EncodeToString(tampered) + "." + parts[2],
		"no expiry":        parts[0] + "." + b64.EncodeToString(noExp) + "." + parts[2],
		"garbage":          "abc.def.ghi",
		"truncated":        parts[0] + "." + parts[1],
	} {
		t.Run(name, func(t *testing.T) {
			h.t = t
			h.expectError(&client{token: tok}, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
		})
	}
	h.t = t
	// Expired: move the clock past the 7-day lifetime.
	h.clock.Advance(7*24*time.Hour + time.Minute)
	h.expectError(h.admin, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
}

func TestLicenseLifecycle(t *testing.T) {
	h := newHarness(t)
	st := h.expect(h.admin, "GET", "/api/license/status", nil, 200)
	for _, f := range []string{"activated", "status", "licensee", "organization", "expiresAt", "daysRemaining", "limits", "usage"} {
		if _, ok := st.json[f]; !ok {
			t.Errorf("license status lacks %s: %s", f, st.body)
		}
	}
	if st.num("usage.users") != 1 || st.num("daysRemaining") != 30 {
		t.Fatalf("status: %s", st.body)
	}
	h.expect(h.admin, "POST", "/api/license/validate", nil, 200)

	// Renewal: same licensee works without restart, another licensee is 400.
	h.expectError(h.admin, "PUT", "/api/license", map[string]any{"license": h.issueLicense(licenseOpts{email: "else@example.com"})}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "PUT", "/api/license", map[string]any{"license": "garbage"}, 400, "VALIDATION_ERROR")
	renewed := h.expect(h.admin, "PUT", "/api/license", map[string]any{
		"license": h.issueLicense(licenseOpts{expires: h.clock.Now().Add(2 * 24 * time.Hour), graceDays: 3, users: 2})}, 200)
	if renewed.num("limits.users") != 2 || renewed.num("daysRemaining") != 2 {
		t.Fatalf("renewed: %s", renewed.body)
	}
	// Users limit: the bootstrap admin counts.
	h.expect(h.admin, "POST", "/api/auth/register", map[string]any{"email": "u2@example.com", "password": "password-1"}, 201)
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "u3@example.com", "password": "password-1"}, 403, "LICENSE_LIMIT")

	// The clock alone moves the license into the grace period, then expiry.
	h.clock.Advance(3 * 24 * time.Hour)
	g := h.expect(h.admin, "GET", "/api/license/status", nil, 200)
	if g.str("status") != "GRACE_PERIOD" || g.header.Get("X-License-Warning") == "" {
		t.Fatalf("grace: %s %v", g.body, g.header)
	}
	h.expect(h.admin, "GET", "/api/users", nil, 200)
	h.clock.Advance(3 * 24 * time.Hour)
	e := h.expect(h.admin, "GET", "/api/license/status", nil, 200)
	if e.str("status") != "EXPIRED" {
		t.Fatalf("expired: %s", e.body)
	}
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "u4@example.com", "password": "password-1"}, 403, "LICENSE_EXPIRED")
	// Reads and login keep working; renewal brings it back.
	h.expect(h.admin, "GET", "/api/users", nil, 200)
	h.login(adminEmail, adminPassword)
	h.expect(h.admin, "PUT", "/api/license", map[string]any{"license": h.issueLicense(licenseOpts{})}, 200)
	if s := h.expect(h.admin, "GET", "/api/license/status", nil, 200); s.str("status") != "ACTIVE" {
		t.Fatalf("after renewal: %s", s.body)
	}
	// Every license change is audited.
	a := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	if !strings.Contains(string(a.body), "license.replaced") || !strings.Contains(string(a.body), "license.validated") {
		t.Fatalf("audit: %s", a.body)
	}
}

func TestLicenseInvalidWhenKeyChanges(t *testing.T) {
	h := newHarness(t)
	other := newUnactivatedHarness(t)
	h.cfg.LicensePublicKey = other.cfg.LicensePublicKey
	h.restart()
	st := h.expect(h.admin, "GET", "/api/license/status", nil, 200)
	if st.str("status") != "INVALID" {
		t.Fatalf("status: %s", st.body)
	}
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "u@example.com", "password": "password-1"}, 403, "LICENSE_EXPIRED")
	h.expect(h.admin, "GET", "/api/users", nil, 200)
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, withRateLimit(5))
	var last *response
	for i := 0; i < 5; i++ {
		last = h.request(h.admin, "GET", "/api/auth/me", nil)
	}
	// Bootstrap spent the IP's budget, not the user's: the admin still had 5.
	if last.status != 200 || last.header.Get("X-RateLimit-Limit") != "5" || last.header.Get("X-RateLimit-Remaining") != "0" || last.header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("fifth request: %d %v", last.status, last.header)
	}
	r := h.expectError(h.admin, "GET", "/api/auth/me", nil, 429, "RATE_LIMITED")
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.header)
	}
	// Exempt endpoints keep answering.
	for i := 0; i < 10; i++ {
		h.expect(anon, "GET", "/api/health", nil, 200)
		h.expect(anon, "GET", "/api/status", nil, 200)
	}
	// Login attempts count against the IP.
	var codes []int
	for i := 0; i < 8; i++ {
		codes = append(codes, h.request(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail, "password": "bad-password"}).status)
	}
	if codes[len(codes)-1] != 429 {
		t.Fatalf("login attempts not limited: %v", codes)
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	statuses := make([]int, 40)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Half of them collide on the same email.
			email := fmt.Sprintf("user-%d@example.com", i%20)
			statuses[i] = h.request(h.admin, "POST", "/api/auth/register", map[string]any{"email": email, "password": "password-1"}).status
		}(i)
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
			conflicts++
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if created != 20 || conflicts != 20 {
		t.Fatalf("created %d, conflicts %d", created, conflicts)
	}
	if u := h.expect(h.admin, "GET", "/api/users?limit=200", nil, 200); u.num("pagination.total") != 21 {
		t.Fatalf("total: %s", u.body)
	}
}

// The very answer that activates a license already in its grace period
// carries the warning, as every later one does.
func TestE2EActivateIntoGraceWarns(t *testing.T) {
	h := newUnactivatedHarness(t)
	lic := h.issueLicense(licenseOpts{expires: h.clock.Now().Add(-24 * time.Hour), graceDays: 14})
	r := h.expect(anon, "POST", "/api/license/activate", map[string]any{"license": lic}, 200)
	if r.str("status") != "GRACE_PERIOD" || r.header.Get("X-License-Warning") == "" {
		t.Fatalf("activate into grace: %s %v", r.body, r.header)
	}
}

// Input no record should hold is refused: addresses no account can have
// (over 254 characters at login — before bcrypt and the audit log —,
// control characters at registration), passwords of fewer than 8
// characters, names with control characters.
func TestE2EInputBounds(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("x", 300) + "@example.com"
	h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": long, "password": "whatever-1"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "x\u0000@example.com", "password": "password-1"}, 400, "VALIDATION_ERROR")
	// Eight bytes but four characters: too short.
	h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "umlaut@example.com", "password": "üüüü"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/workflows", map[string]any{"name": "in\u0000voices"}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": "bot\u001b[31m"}, 400, "VALIDATION_ERROR")
	h.expect(h.admin, "POST", "/api/workflows", map[string]any{"name": "Zürich invoices ✓"}, 201)
	audit := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	if strings.Contains(string(audit.body), strings.Repeat("x", 300)) {
		t.Fatal("the over-long address reached the audit log")
	}
}
