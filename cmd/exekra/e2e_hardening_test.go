package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of the hardening rules (docs/security.md): cross-site
// requests, the per-account login throttle, sessions, headers, webhook
// replay, stored inputs, request smuggling and slow clients.

// rawRequest sends exactly the headers given (no Content-Type or token
// added) and decodes the answer.
func (h *harness) rawRequest(method, path, body string, headers ...string) *response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := &response{status: resp.StatusCode, header: resp.Header, body: data}
	_ = json.Unmarshal(data, &out.json)
	return out
}

// userCount is the number of users the admin sees.
func (h *harness) userCount() int {
	h.t.Helper()
	return int(h.expect(h.admin, "GET", "/api/users?limit=1", nil, 200).num("pagination.total"))
}

// TestHardeningCrossSiteRequests: a change authenticated by the session
// cookie must be JSON (415) from the server's own origin (403); Bearer
// tokens, runner endpoints and webhooks are not affected.
func TestHardeningCrossSiteRequests(t *testing.T) {
	h := newHarness(t)
	cookie := "token=" + h.admin.token
	attack := `{"email":"evil@example.com","password":"password-123","role":"ADMIN"}`
	users := h.userCount()
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		code    string
	}{
		{"text/plain body", []string{"Content-Type", "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"form body", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"body without Content-Type", nil, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"foreign Origin", []string{"Content-Type", "application/json", "Origin", "http://evil.example.com"}, 403, "FORBIDDEN"},
		{"same host, other port", []string{"Content-Type", "application/json", "Origin", "http://127.0.0.1:1"}, 403, "FORBIDDEN"},
		{"null Origin", []string{"Content-Type", "application/json", "Origin", "null"}, 403, "FORBIDDEN"},
		{"Sec-Fetch-Site cross-site", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, 403, "FORBIDDEN"},
		{"Sec-Fetch-Site same-site", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "same-site"}, 403, "FORBIDDEN"},
	} {
		r := h.rawRequest("POST", "/api/auth/register", attack, append([]string{"Cookie", cookie}, tc.headers...)...)
		if r.status != tc.status || r.str("code") != tc.code || r.str("error") == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
	}
	if n := h.userCount(); n != users {
		t.Fatalf("a refused request created a user: %d → %d", users, n)
	}
	// The same change from the server's own page passes.
	ok := h.rawRequest("POST", "/api/workflows", `{"name":"from the console"}`, "Cookie", cookie,
		"Content-Type", "application/json; charset=utf-8", "Origin", h.base, "Sec-Fetch-Site", "same-origin")
	if ok.status != 201 {
		t.Fatalf("same-origin change: %d %s", ok.status, ok.body)
	}
	wf := ok.str("workflow.id")
	// No Origin at all (an older browser, a script with the cookie) passes.
	if r := h.rawRequest("PATCH", "/api/workflows/"+wf, `{"description":"d"}`, "Cookie", cookie, "Content-Type", "application/json"); r.status != 200 {
		t.Fatalf("change without Origin: %d %s", r.status, r.body)
	}
	// A DELETE needs no body, but a foreign origin is refused all the same.
	if r := h.rawRequest("DELETE", "/api/workflows/"+wf, "", "Cookie", cookie, "Origin", "http://evil.example.com"); r.status != 403 {
		t.Fatalf("cross-site DELETE: %d %s", r.status, r.body)
	}
	// Reads are not affected.
	if r := h.rawRequest("GET", "/api/auth/me", "", "Cookie", cookie, "Origin", "http://evil.example.com", "Sec-Fetch-Site", "cross-site"); r.status != 200 {
		t.Fatalf("cross-site read: %d %s", r.status, r.body)
	}
	// Bearer-authenticated scripts are not affected.
	bearer := h.rawRequest("POST", "/api/workflows", `{"name":"from a script"}`, "Authorization", "Bearer "+h.admin.token,
		"Content-Type", "text/plain", "Origin", "http://evil.example.com", "Sec-Fetch-Site", "cross-site")
	if bearer.status != 201 {
		t.Fatalf("Bearer change: %d %s", bearer.status, bearer.body)
	}
	// Runner endpoints and webhooks are not affected.
	rn := h.secRunner("cross-site-runner", "UNATTENDED")
	if r := h.rawRequest("POST", "/api/runners/heartbeat", `{}`, "Authorization", "Bearer "+rn.token,
		"Content-Type", "text/plain", "Origin", "null", "Sec-Fetch-Site", "cross-site"); r.status != 200 {
		t.Fatalf("runner heartbeat: %d %s", r.status, r.body)
	}
	pub := h.publishedWorkflow(h.admin, "cross-site-webhook")
	tr := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": pub, "type": "WEBHOOK", "config": "{}", "enabled": true}, 201)
	if r := h.rawRequest("POST", "/api/triggers/webhook/"+tr.str("trigger.id"), `{"a":1}`, "Content-Type", "text/plain",
		"Origin", "http://evil.example.com", "Sec-Fetch-Site", "cross-site"); r.status != 200 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	// Logout with the cookie, no body and no Content-Type, works.
	session := h.login(adminEmail, adminPassword)
	if r := h.rawRequest("POST", "/api/auth/logout", "", "Cookie", "token="+session.token); r.status != 200 {
		t.Fatalf("bodyless cookie logout: %d %s", r.status, r.body)
	}
	h.expectError(session, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
}

// fromAddress is an HTTP client whose connections leave from a loopback
// source address of its own (127.0.0.0/8 is all loopback on Linux).
func fromAddress(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:9") // probe: binding works?
	if err == nil {
		c.Close()
	} else if strings.Contains(err.Error(), "assign requested address") {
		t.Skipf("cannot send from %s here: %v", ip, err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestHardeningLoginThrottleAcrossAddresses: failed logins for one email
// from several source addresses add up; then that email's logins answer
// 429 with Retry-After, even with the right password, for 1 minute, then
// 2 after a further failure; unknown emails alike; a success resets; the
// refusals are audited; the per-address rate limit is off throughout.
func TestHardeningLoginThrottleAcrossAddresses(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LoginMaxFailures = 3 })
	op := h.userWithRole("OPERATOR")
	email := op.user["email"].(string)
	login := func(ip, email, password string) *response {
		t.Helper()
		saved := h.http
		h.http = fromAddress(t, ip)
		defer func() { h.http = saved }()
		return h.request(anon, "POST", "/api/auth/login", map[string]any{"email": email, "password": password})
	}
	for _, who := range []string{email, "nobody@example.com"} {
		for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
			if r := login(ip, who, "wrong-password"); r.status != 401 {
				t.Fatalf("%s failure %d from %s: %d %s", who, i+1, ip, r.status, r.body)
			}
		}
		r := login("127.0.0.5", who, "password-123")
		if r.status != 429 || r.str("code") != "RATE_LIMITED" || r.header.Get("Retry-After") != "60" || r.cookie("token") != "" {
			t.Fatalf("%s after 3 failures: %d Retry-After=%q %s", who, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	// The failures came from three addresses; the refusals are audited.
	audit := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200)
	ips, throttled := map[string]bool{}, 0
	for _, e := range audit.json["entries"].([]any) {
		m := e.(map[string]any)
		switch m["action"] {
		case "auth.login.failed":
			ips[fmt.Sprint(m["ip"])] = true
		case "auth.login.throttled":
			throttled++
		}
	}
	if len(ips) != 3 || throttled != 2 {
		t.Fatalf("audit: failures from %v, %d throttled entries: %s", ips, throttled, audit.body)
	}
	// Another account is not affected.
	h.login(adminEmail, adminPassword)
	// A minute later one more failure locks it for two.
	h.clock.Advance(time.Minute + time.Second)
	if r := login("127.0.0.6", email, "wrong-password"); r.status != 401 {
		t.Fatalf("failure after the lock: %d %s", r.status, r.body)
	}
	if r := login("127.0.0.6", email, "password-123"); r.status != 429 || r.header.Get("Retry-After") != "120" {
		t.Fatalf("second lock: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	// Once it passes, the right password works and resets the count.
	h.clock.Advance(2*time.Minute + time.Second)
	if r := login("127.0.0.7", email, "password-123"); r.status != 200 {
		t.Fatalf("after the lock: %d %s", r.status, r.body)
	}
	for i := 0; i < 2; i++ {
		login("127.0.0.2", email, "wrong-password")
	}
	if r := login("127.0.0.2", email, "password-123"); r.status != 200 {
		t.Fatalf("the count was not reset by the success: %d %s", r.status, r.body)
	}
}

func TestHardeningLoginMaxFailuresFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want int
		bad  bool
	}{
		{nil, nil, 10, false},
		{[]string{"--login-max-failures", "0"}, nil, 0, false},
		{nil, map[string]string{"EXEKRA_LOGIN_MAX_FAILURES": "7"}, 7, false},
		{[]string{"--login-max-failures", "-1"}, nil, 0, true},
	} {
		m := NewMain()
		err := m.ParseFlags(tc.args, func(k string) string { return tc.env[k] })
		if (err != nil) != tc.bad || (!tc.bad && m.Config.LoginMaxFailures != tc.want) {
			t.Errorf("%v %v: %v, LoginMaxFailures=%d, want %d", tc.args, tc.env, err, m.Config.LoginMaxFailures, tc.want)
		}
	}
}

// TestHardeningSessions: disabling a user ends every session they have,
// for good (enabling them again, or a restart, brings none back); a role
// change keeps the session and applies on the very next request.
func TestHardeningSessions(t *testing.T) {
	h := newHarness(t)
	dev := h.userWithRole("DEVELOPER")
	id, email := dev.user["id"].(string), dev.user["email"].(string)
	second := h.login(email, "password-123")
	// A role change keeps both sessions; the new role applies at once.
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"role": "ADMIN"}, 200)
	h.expect(dev, "GET", "/api/users", nil, 200)
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"role": "OPERATOR"}, 200)
	if me := h.expect(second, "GET", "/api/auth/me", nil, 200); me.str("user.role") != "OPERATOR" {
		t.Fatalf("me after the demotion: %s", me.body)
	}
	h.expectError(dev, "GET", "/api/users", nil, 403, "FORBIDDEN")
	h.expectError(dev, "POST", "/api/workflows", map[string]any{"name": "x"}, 403, "FORBIDDEN")
	// Disabling ends both; enabling brings neither back, nor does a restart.
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"disabled": true}, 200)
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"disabled": false}, 200)
	for _, c := range []*client{dev, second} {
		h.expectError(c, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
		if r := h.rawRequest("GET", "/api/auth/me", "", "Cookie", "token="+c.token); r.status != 401 {
			t.Fatalf("cookie session after re-enable: %d", r.status)
		}
	}
	h.restart()
	h.expectError(dev, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
	fresh := h.login(email, "password-123")
	h.expect(fresh, "GET", "/api/auth/me", nil, 200)
	// Disabling an already disabled user twice, then enabling, keeps the
	// session made in between dead too (it was refused anyway).
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"disabled": true}, 200)
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"name": "renamed while disabled"}, 200)
	h.expect(h.admin, "PATCH", "/api/users/"+id, map[string]any{"disabled": false}, 200)
	h.expectError(fresh, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
}

// TestHardeningHeaders: nosniff on every answer, no-store on the answers
// that set a session or show a secret, HSTS only over TLS.
func TestHardeningHeaders(t *testing.T) {
	h := newUnactivatedHarness(t)
	h.activate(h.issueLicense(licenseOpts{}))
	boot := h.request(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": adminEmail, "password": adminPassword, "name": "A"})
	h.admin = &client{token: boot.cookie("token")}
	rn := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "hdr"}, 201)
	secretAnswers := map[string]*response{
		"bootstrap":         boot,
		"login":             h.request(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail, "password": adminPassword}),
		"me":                h.request(h.admin, "GET", "/api/auth/me", nil),
		"runner register":   rn,
		"authenticate":      h.request(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": rn.str("machineKey"), "machineSecret": rn.str("machineSecret")}),
		"regenerate-secret": h.request(h.admin, "POST", "/api/runners/"+rn.str("id")+"/regenerate-secret", nil),
		"password change":   h.request(h.admin, "POST", "/api/auth/password", map[string]any{"currentPassword": adminPassword, "newPassword": "new-password-1"}),
	}
	for name, r := range secretAnswers {
		if r.status >= 300 || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d Cache-Control %q", name, r.status, r.header.Get("Cache-Control"))
		}
	}
	others := []*response{
		h.request(anon, "GET", "/api/health", nil),
		h.request(h.admin, "GET", "/api/workflows", nil),
		h.request(anon, "GET", "/api/workflows", nil),                                 // 401
		h.request(anon, "GET", "/api/no-such-thing", nil),                             // 404
		h.request(anon, "DELETE", "/api/health", nil),                                 // 405
		h.request(h.admin, "POST", "/api/workflows", "{"),                             // 400
		h.request(anon, "GET", "/metrics", nil),                                       // text
		h.request(h.admin, "GET", "/api/system/backup", nil),                          // stream
		h.request(h.admin, "GET", "/api/openapi.json", nil),                           // document
		h.rawRequest("POST", "/api/workflows", "x", "Cookie", "token="+h.admin.token), // 415
	}
	for _, r := range append(others, boot, rn) {
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%d %.80s: X-Content-Type-Options %q", r.status, r.body, r.header.Get("X-Content-Type-Options"))
		}
		if r.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("HSTS over plain HTTP: %d", r.status)
		}
	}
	if cc := others[1].header.Get("Cache-Control"); cc == "no-store" {
		t.Errorf("a plain list is marked no-store")
	}
	// A malformed request, answered by the transport, carries nosniff too.
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("transport error: %d nosniff=%q", resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
	}

	// Over TLS every answer carries HSTS.
	tlsH := newUnactivatedHarness(t, func(c *Config) { c.InsecureHTTP = false })
	tlsH.base = strings.Replace(tlsH.base, "http://", "https://", 1)
	tlsH.http.Transport = insecureTransport()
	for _, r := range []*response{
		tlsH.request(anon, "GET", "/api/health", nil),
		tlsH.request(anon, "GET", "/api/workflows", nil), // 503 not ready
		tlsH.request(anon, "GET", "/api/nothing", nil),
	} {
		if r.header.Get("Strict-Transport-Security") != "max-age=31536000" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("TLS %d: HSTS %q nosniff %q", r.status, r.header.Get("Strict-Transport-Security"), r.header.Get("X-Content-Type-Options"))
		}
	}
}

// signWebhook signs body for a trigger's secret: timestamped at t when t
// is not zero, else the plain form.
func signWebhook(secret string, t int64, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	if t == 0 {
		mac.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	ts := strconv.FormatInt(t, 10)
	mac.Write([]byte(ts + "." + body))
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// TestHardeningWebhookReplay: a timestamped signature within 5 minutes
// creates one execution; the same signed request again answers it (also
// with another Idempotency-Key, also after a restart); a timestamp out of
// the window is 401; requireTimestamp refuses the plain form.
func TestHardeningWebhookReplay(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "replay")
	tr := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": map[string]any{"secret": "replay-secret"}, "enabled": true}, 201)
	path := "/api/triggers/webhook/" + tr.str("trigger.id")
	body := `{"order":42}`
	fire := func(sig string, headers ...string) *response {
		t.Helper()
		return h.rawRequest("POST", path, body, append([]string{"Content-Type", "application/json", "X-Exekra-Signature", sig}, headers...)...)
	}
	count := func() int {
		t.Helper()
		return int(h.expect(h.admin, "GET", "/api/executions?workflowId="+wf, nil, 200).num("pagination.total"))
	}
	now := h.clock.Now().Unix()
	sig := signWebhook("replay-secret", now, body)
	first := fire(sig)
	if first.status != 200 || first.str("executionId") == "" {
		t.Fatalf("timestamped webhook: %d %s", first.status, first.body)
	}
	id := first.str("executionId")
	for name, r := range map[string]*response{
		"replay":                       fire(sig),
		"replay with spaces":           fire(strings.Replace(sig, ",", ", ", 1)),
		"replay with another key":      fire(sig, "Idempotency-Key", "other-key"),
		"replay 4 minutes later":       func() *response { h.clock.Advance(4 * time.Minute); return fire(sig) }(),
		"replay after a restart":       func() *response { h.restart(); return fire(sig) }(),
		"replay with another key, too": fire(sig, "Idempotency-Key", "third-key"),
	} {
		if r.status != 200 || r.str("executionId") != id {
			t.Errorf("%s: %d %s, want the first execution %s", name, r.status, r.body, id)
		}
	}
	if n := count(); n != 1 {
		t.Fatalf("%d executions after replays, want 1", n)
	}
	// Past the window: refused, nothing created.
	h.clock.Advance(2 * time.Minute) // 6 minutes after t
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", sig)
	now = h.clock.Now().Unix()
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", signWebhook("replay-secret", now-301, body))
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", signWebhook("replay-secret", now+301, body))
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", signWebhook("other-secret", now, body))
	h.expectError(anon, "POST", path, `{"order":43}`, 401, "UNAUTHORIZED", "X-Exekra-Signature", signWebhook("replay-secret", now, body))
	// A new timestamp is a new request; the plain form still works.
	if r := fire(signWebhook("replay-secret", now-60, body)); r.status != 200 || r.str("executionId") == id {
		t.Fatalf("a new signed request: %d %s", r.status, r.body)
	}
	if r := fire(signWebhook("replay-secret", 0, body)); r.status != 200 {
		t.Fatalf("plain signature: %d %s", r.status, r.body)
	}
	// requireTimestamp refuses the plain form; a secret is needed for it.
	h.expectError(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": map[string]any{"requireTimestamp": true}, "enabled": true}, 400, "VALIDATION_ERROR")
	h.expect(h.admin, "PATCH", "/api/triggers/"+tr.str("trigger.id"), map[string]any{"config": `{"requireTimestamp":true}`}, 200)
	before := count()
	h.expectError(anon, "POST", path, body, 401, "UNAUTHORIZED", "X-Exekra-Signature", signWebhook("replay-secret", 0, body))
	if r := fire(signWebhook("replay-secret", h.clock.Now().Unix(), body)); r.status != 200 {
		t.Fatalf("timestamped with requireTimestamp: %d %s", r.status, r.body)
	}
	if n := count(); n != before+1 {
		t.Fatalf("%d executions, want %d", n, before+1)
	}
	if g := h.expect(h.admin, "GET", "/api/triggers/"+tr.str("trigger.id"), nil, 200); !strings.Contains(g.str("trigger.config"), "requireTimestamp") || !strings.Contains(string(g.body), `"hasSecret":true`) {
		t.Fatalf("trigger after the update: %s", g.body)
	}
}

// TestHardeningStoredInputs: a runner's ipAddress must be an address;
// names refuse Unicode format characters; descriptions refuse control
// characters other than newline and tab. Nothing refused is stored.
func TestHardeningStoredInputs(t *testing.T) {
	h := newHarness(t)
	rn := h.secRunner("inputs-runner", "UNATTENDED")
	rc := &client{token: rn.token}
	h.expect(rc, "POST", "/api/runners/heartbeat", map[string]any{"ipAddress": "10.1.2.3"}, 200)
	for _, bad := range []string{"not-an-ip", "<script>alert(1)</script>", "10.1.2.3.4", "fe80::1%eth0", "10.1.2.3 ", "1.2.3.4\u202e"} {
		if bad == "10.1.2.3 " {
			continue // surrounding space is trimmed, as before
		}
		h.expectError(rc, "POST", "/api/runners/heartbeat", map[string]any{"ipAddress": bad}, 400, "VALIDATION_ERROR")
		h.expectError(anon, "POST", "/api/runners/heartbeat", map[string]any{"machineKey": rn.key, "machineSecret": rn.secret, "ipAddress": bad}, 400, "VALIDATION_ERROR")
	}
	h.expect(rc, "POST", "/api/runners/heartbeat", map[string]any{"ipAddress": "2001:DB8::1"}, 200)
	if g := h.expect(h.admin, "GET", "/api/runners/"+rn.id, nil, 200); g.str("runner.ipAddress") != "2001:db8::1" {
		t.Fatalf("stored ipAddress: %s", g.body)
	}
	wf := h.createWorkflow(h.admin, "inputs")
	for _, name := range []string{"adm\u202ein", "ad\u200bmin", "a\u2066b\u2069", "\ufeffx"} {
		h.expectError(h.admin, "POST", "/api/workflows", map[string]any{"name": name}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "PATCH", "/api/workflows/"+wf, map[string]any{"name": name}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "POST", "/api/runners/register", map[string]any{"name": name}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "POST", "/api/auth/register", map[string]any{"email": "x@example.com", "password": "password-123", "name": name}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "PATCH", "/api/users/"+h.admin.user["id"].(string), map[string]any{"name": name}, 400, "VALIDATION_ERROR")
	}
	for _, d := range []string{"a\x00b", "red \x1b[31m", "bell\x07"} {
		h.expectError(h.admin, "POST", "/api/workflows", map[string]any{"name": "described", "description": d}, 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "PATCH", "/api/workflows/"+wf, map[string]any{"description": d}, 400, "VALIDATION_ERROR")
	}
	ok := "line one\nline two\tand a tab; right-to-left text: \u05e9\u05dc\u05d5\u05dd"
	h.expect(h.admin, "PATCH", "/api/workflows/"+wf, map[string]any{"description": ok}, 200)
	if g := h.expect(h.admin, "GET", "/api/workflows/"+wf, nil, 200); g.str("workflow.description") != ok || g.str("workflow.name") != "inputs" {
		t.Fatalf("workflow after refused changes: %s", g.body)
	}
}

// TestHardeningRequestSmuggling: requests whose length is ambiguous are
// refused or read one way only, so nothing can hide a second request in a
// body (a front proxy reading them differently is what smuggling needs).
func TestHardeningRequestSmuggling(t *testing.T) {
	h := newHarness(t)
	addr := strings.TrimPrefix(h.base, "http://")
	smuggled := "GET /api/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.admin.token + "\r\n\r\n"
	send := func(raw string) []*http.Response {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		var out []*http.Response
		rd := bufio.NewReader(conn)
		for {
			resp, err := http.ReadResponse(rd, nil)
			if err != nil {
				return out
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out = append(out, resp)
			if resp.Close {
				return out
			}
			_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond)) // any second answer comes at once
		}
	}
	// Control: two requests pipelined on purpose are both answered, so the
	// reading below would see a smuggled one.
	if resps := send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled); len(resps) != 2 || resps[1].StatusCode != 200 {
		t.Fatalf("pipelined control: %d answers", len(resps))
	}
	for name, raw := range map[string]string{
		// CL.TE: a proxy that reads Content-Length forwards the smuggled
		// request as body; the server must read chunked (body ends at 0).
		"content-length and chunked": "POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(5+len(smuggled)) +
			"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"two content lengths": "POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: " + strconv.Itoa(len(smuggled)) +
			"\r\n\r\n" + smuggled,
		"obfuscated transfer-encoding": "POST /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: " +
			strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled,
		"space before colon": "POST /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: " +
			strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled,
	} {
		resps := send(raw)
		for i, r := range resps {
			// The smuggled GET /api/auth/me would answer 200 with a user; a
			// POST to /api/health answers 405 and a refused request 400.
			if i > 0 && r.StatusCode == 200 {
				t.Errorf("%s: a smuggled request was served (answer %d: %d)", name, i+1, r.StatusCode)
			}
		}
		if len(resps) == 0 {
			t.Errorf("%s: no answer", name)
		}
		t.Logf("%s: %d answers, first %d", name, len(resps), resps[0].StatusCode)
	}
	h.expect(h.admin, "GET", "/api/auth/me", nil, 200) // the server is fine
}

// TestHardeningSlowClientsDoNotBlockOthers: connections that trickle their
// headers or body (slowloris) hold no worker others need: requests from
// other clients are answered meanwhile. (The server's read timeout, which
// closes such connections after 30 s, is checked in httpd.)
func TestHardeningSlowClientsDoNotBlockOthers(t *testing.T) {
	h := newHarness(t)
	addr := strings.TrimPrefix(h.base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			fmt.Fprint(c, "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ") // headers never end
		} else {
			fmt.Fprint(c, "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{") // body never ends
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 20; i++ {
		h.expect(h.admin, "GET", "/api/auth/me", nil, 200)
		h.expect(anon, "GET", "/api/health", nil, 200)
	}
	if time.Now().After(deadline) {
		t.Fatal("answers to other clients took more than 10 s while slow clients were connected")
	}
}

// TestHardeningNesting: JSON nested deeper than 128 levels is refused
// wherever it would be stored (request bodies and execution input,
// graphJson, trigger config, webhook bodies); 128 levels are fine, and
// everything stored still lists and survives a restart.
func TestHardeningNesting(t *testing.T) {
	h := newHarness(t)
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	wf := h.publishedWorkflow(h.admin, "nesting")
	before := h.expect(h.admin, "GET", "/api/executions", nil, 200).num("pagination.total")
	h.expectError(h.admin, "POST", "/api/executions", `{"workflowId":"`+wf+`","input":`+deep(129)+`}`, 400, "VALIDATION_ERROR")
	h.expect(h.admin, "POST", "/api/executions", `{"workflowId":"`+wf+`","input":`+deep(128)+`}`, 201) // the input on its own
	h.expectError(h.admin, "POST", "/api/workflows", `{"name":"deep-body","x":`+deep(128)+`}`, 400, "VALIDATION_ERROR")
	graph := `{"nodes":[{"id":"a","type":"start","params":{"x":` + deep(127) + `}}],"edges":[]}`
	h.expectError(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": graph}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": `{"x":` + deep(128) + `}`, "enabled": true}, 400, "VALIDATION_ERROR")
	tr := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": "{}", "enabled": true}, 201)
	path := "/api/triggers/webhook/" + tr.str("trigger.id")
	h.expectError(anon, "POST", path, deep(129), 400, "VALIDATION_ERROR")
	h.expect(anon, "POST", path, deep(128), 200)
	if n := h.expect(h.admin, "GET", "/api/executions", nil, 200).num("pagination.total"); n != before+2 {
		t.Fatalf("%v executions, want %v", n, before+2)
	}
	h.restart()
	h.expect(h.admin, "GET", "/api/executions?limit=200", nil, 200)
	h.expect(h.admin, "GET", "/api/workflows/"+wf, nil, 200)
}

// TestHardeningNoSecretsAtRest: a consistent copy of the database holds no
// password, machine secret or webhook secret in plain text.
func TestHardeningNoSecretsAtRest(t *testing.T) {
	h := newHarness(t)
	const userPw, hookSecret = "at-rest-password-9", "at-rest-webhook-secret-9"
	h.expect(h.admin, "POST", "/api/auth/register", map[string]any{"email": "rest@example.com", "password": userPw}, 201)
	rn := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "at-rest"}, 201)
	wf := h.publishedWorkflow(h.admin, "at-rest")
	h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": map[string]any{"secret": hookSecret}, "enabled": true}, 201)
	db := h.request(h.admin, "GET", "/api/system/backup", nil)
	if db.status != 200 || len(db.body) < 4096 {
		t.Fatalf("backup: %d, %d bytes", db.status, len(db.body))
	}
	for what, s := range map[string]string{"admin password": adminPassword, "user password": userPw,
		"machine secret": rn.str("machineSecret"), "webhook secret": hookSecret} {
		if s == "" || strings.Contains(string(db.body), s) {
			t.Errorf("the database holds the %s in plain text (%q)", what, s)
		}
	}
}

// TestSecurityDocNamesRealTests: every test docs/security.md names as proof
// exists, so a rename cannot leave the matrix pointing at nothing.
func TestSecurityDocNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	err = filepath.WalkDir(filepath.Join("..", ".."), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".tools" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)\w+)\(`).FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllSubmatch(doc, -1)
	if len(named) < 40 {
		t.Fatalf("docs/security.md names only %d tests", len(named))
	}
	for _, m := range named {
		if !defined[string(m[1])] {
			t.Errorf("docs/security.md names %s, which no test file defines", m[1])
		}
	}
}

// TestDocsWebhookSigningSnippets runs the shell, Python and Node examples of
// docs/api.md ("Signing webhooks") against a trigger that requires the
// timestamped form: each creates an execution. A missing interpreter skips
// its snippet.
func TestDocsWebhookSigningSnippets(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Signing webhooks")
	if !ok {
		t.Fatal("docs/api.md has no \"Signing webhooks\" section")
	}
	blocks := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)```(sh|python|js)\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks[m[1]] = m[2]
	}
	if len(blocks) != 3 {
		t.Fatalf("found snippets %v, want sh, python and js", blocks)
	}
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "snippets")
	const secret = "snippet-secret"
	tr := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK",
		"config": map[string]any{"secret": secret, "requireTimestamp": true}, "enabled": true}, 201)
	url := h.base + "/api/triggers/webhook/" + tr.str("trigger.id")
	runs := map[string][]string{
		"sh":     {"sh", "-c", blocks["sh"]},
		// Each snippet signs a body of its own: the same body signed in the
		// same second is the same signature, which the server (rightly)
		// answers as a replay of the first.
		"python": {"python3", "-c", blocks["python"] + "\nimport os\nprint(fire(os.environ['URL'], os.environ['SECRET'], {'order': 43}))\n"},
		"js":     {"node", "-e", blocks["js"] + "\nfire(process.env.URL, process.env.SECRET, {order: 44}).then(console.log, e => { console.error(e); process.exit(1) });\n"},
	}
	ran := 0
	for lang, argv := range runs {
		tools := []string{argv[0]}
		if lang == "sh" {
			tools = append(tools, "openssl", "curl")
		}
		missing := ""
		for _, tool := range tools {
			if _, err := exec.LookPath(tool); err != nil {
				missing = tool
			}
		}
		if missing != "" {
			t.Logf("%s: %s not installed, skipped", lang, missing)
			continue
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "URL="+url, "SECRET="+secret)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s snippet: %v\n%s", lang, err, out)
		}
		ran++
	}
	if n := int(h.expect(h.admin, "GET", "/api/executions?workflowId="+wf, nil, 200).num("pagination.total")); n != ran {
		t.Fatalf("%d executions after %d snippets", n, ran)
	}
}
