package httpd

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

func TestJSONContentType(t *testing.T) {
	for _, tc := range []struct {
		ct      string
		hasBody bool
		ok      bool
	}{
		{"application/json", true, true},
		{"application/json; charset=utf-8", true, true},
		{"Application/JSON ;charset=UTF-8", true, true},
		{"  application/json  ", true, true},
		{"", false, true}, // a bodyless change (logout)
		{"", true, false}, // a Blob fetched without a type
		{"text/plain", true, false},
		{"text/plain", false, false},
		{"application/x-www-form-urlencoded", true, false},
		{"multipart/form-data; boundary=x", true, false},
		{"application/json-patch+json", true, false},
		{"application/jsonx", true, false},
		{"text/plain; application/json", true, false},
	} {
		if got := jsonContentType([]byte(tc.ct), tc.hasBody); got != tc.ok {
			t.Errorf("jsonContentType(%q, body=%v) = %v, want %v", tc.ct, tc.hasBody, got, tc.ok)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	own := func(tls bool, host, proto, fhost string) origin {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetHost(host)
		if proto != "" {
			ctx.Request.Header.Set("X-Forwarded-Proto", proto)
		}
		if fhost != "" {
			ctx.Request.Header.Set("X-Forwarded-Host", fhost)
		}
		o := ownOrigin(&ctx)
		if tls { // IsTLS needs a TLS connection; the scheme is all it changes
			o, _ = parseHostPort("https", host)
		}
		return o
	}
	for _, tc := range []struct {
		name   string
		origin string
		own    origin
		same   bool
	}{
		{"exact", "http://exekra.test:4545", own(false, "exekra.test:4545", "", ""), true},
		{"case", "HTTP://Exekra.TEST:4545", own(false, "exekra.test:4545", "", ""), true},
		{"default port", "http://exekra.test", own(false, "exekra.test:80", "", ""), true},
		{"default port in the origin", "https://exekra.test:443", own(true, "exekra.test", "", ""), true},
		{"ipv6", "http://[::1]:4545", own(false, "[::1]:4545", "", ""), true},
		{"other port", "http://exekra.test:4546", own(false, "exekra.test:4545", "", ""), false},
		{"other scheme", "https://exekra.test:4545", own(false, "exekra.test:4545", "", ""), false},
		{"http to a TLS server", "http://exekra.test", own(true, "exekra.test", "", ""), false},
		{"subdomain", "http://evil.exekra.test:4545", own(false, "exekra.test:4545", "", ""), false},
		{"suffix", "http://exekra.test:4545.evil.test", own(false, "exekra.test:4545", "", ""), false},
		{"user info", "http://exekra.test:4545@evil.test", own(false, "exekra.test:4545", "", ""), false},
		{"path", "http://exekra.test:4545/", own(false, "exekra.test:4545", "", ""), false},
		{"null", "null", own(false, "exekra.test:4545", "", ""), false},
		{"leading zeros", "http://exekra.test:04545", own(false, "exekra.test:4545", "", ""), false},
		{"no scheme", "exekra.test:4545", own(false, "exekra.test:4545", "", ""), false},
		{"file", "file://exekra.test:4545", own(false, "exekra.test:4545", "", ""), false},
		{"no host header", "http://exekra.test:4545", own(false, "", "", ""), false},
		{"behind a TLS proxy", "https://exekra.example.com", own(false, "127.0.0.1:4545", "https", "exekra.example.com"), true},
		{"behind a proxy, chain", "https://exekra.example.com", own(false, "127.0.0.1:4545", "https, http", "exekra.example.com, 10.0.0.1"), true},
		{"behind a proxy, other site", "https://evil.example.com", own(false, "127.0.0.1:4545", "https", "exekra.example.com"), false},
		{"proxy proto only", "https://exekra.test:4545", own(false, "exekra.test:4545", "https", ""), true},
		{"unknown proxy proto ignored", "http://exekra.test:4545", own(false, "exekra.test:4545", "gopher", ""), true},
	} {
		if got := sameOrigin([]byte(tc.origin), tc.own); got != tc.same {
			t.Errorf("%s: sameOrigin(%q, %+v) = %v, want %v", tc.name, tc.origin, tc.own, got, tc.same)
		}
	}
}

// csCase is one request through the whole middleware for the cross-site
// rules.
type csCase struct {
	method, path string
	cred         string // "cookie", "bearer", "both", "runner", "none"
	contentType  string
	origin       string
	secFetchSite string
	body         string
}

// serveCrossSite sends c through the real handler (fake core) with Host
// exekra.test:4545 and reports the answer and whether a handler ran.
func (ft *fuzzTarget) serveCrossSite(c csCase) (*fasthttp.Response, bool) {
	core := ft.srv.core.(*fuzzCore)
	before := core.asks.Load()
	var ctx fasthttp.RequestCtx
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(c.method)
	req.SetRequestURI(c.path)
	req.Header.SetHost("exekra.test:4545")
	switch c.cred {
	case "cookie":
		req.Header.SetCookie("token", ft.userToken)
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+ft.userToken)
	case "both":
		req.Header.SetCookie("token", ft.userToken)
		req.Header.Set("Authorization", "Bearer "+ft.userToken)
	case "runner":
		req.Header.Set("Authorization", "Bearer "+ft.runnerToken)
	case "runner-cookie":
		req.Header.SetCookie("token", ft.runnerToken)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	if c.secFetchSite != "" {
		req.Header.Set("Sec-Fetch-Site", c.secFetchSite)
	}
	req.SetBodyString(c.body)
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4321}, nil)
	ft.srv.Handler()(&ctx)
	resp := &fasthttp.Response{}
	ctx.Response.CopyTo(resp)
	return resp, core.asks.Load() != before
}

// TestCrossSiteRules checks each rule once through the middleware.
func TestCrossSiteRules(t *testing.T) {
	ft := newFuzzTarget(t)
	const json = "application/json"
	body := `{"name":"wf"}`
	for _, tc := range []struct {
		name string
		c    csCase
		want int // 0: the handler runs
	}{
		{"cookie JSON same origin", csCase{"POST", "/api/workflows", "cookie", json, "http://exekra.test:4545", "same-origin", body}, 0},
		{"cookie JSON no Origin", csCase{"POST", "/api/workflows", "cookie", json + "; charset=utf-8", "", "", body}, 0},
		{"cookie text/plain", csCase{"POST", "/api/workflows", "cookie", "text/plain", "", "", body}, 415},
		{"cookie form", csCase{"PATCH", "/api/users/u1", "cookie", "application/x-www-form-urlencoded", "", "", "role=ADMIN"}, 415},
		{"cookie body without Content-Type", csCase{"PUT", "/api/workflows/w1", "cookie", "", "", "", body}, 415},
		{"cookie DELETE text/plain", csCase{"DELETE", "/api/workflows/w1", "cookie", "text/plain", "", "", ""}, 415},
		{"cookie logout without body", csCase{"POST", "/api/auth/logout", "cookie", "", "", "", ""}, 0},
		{"cookie foreign Origin", csCase{"POST", "/api/workflows", "cookie", json, "http://evil.test", "", body}, 403},
		{"cookie other port", csCase{"POST", "/api/workflows", "cookie", json, "http://exekra.test:8080", "", body}, 403},
		{"cookie null Origin", csCase{"DELETE", "/api/workflows/w1", "cookie", "", "null", "", ""}, 403},
		{"cookie cross-site", csCase{"POST", "/api/workflows", "cookie", json, "", "cross-site", body}, 403},
		{"cookie same-site", csCase{"POST", "/api/workflows", "cookie", json, "", "Same-Site", body}, 403},
		{"cookie user-initiated (none)", csCase{"POST", "/api/workflows", "cookie", json, "", "none", body}, 0},
		{"cookie GET from anywhere", csCase{"GET", "/api/auth/me", "cookie", "text/plain", "http://evil.test", "cross-site", ""}, 200},
		{"bearer text/plain foreign", csCase{"POST", "/api/workflows", "bearer", "text/plain", "http://evil.test", "cross-site", body}, 0},
		{"bearer and cookie", csCase{"POST", "/api/workflows", "both", "text/plain", "http://evil.test", "cross-site", body}, 0},
		{"runner text/plain foreign", csCase{"POST", "/api/runners/heartbeat", "runner", "text/plain", "null", "cross-site", `{}`}, 0},
		{"runner token as a cookie", csCase{"POST", "/api/runners/heartbeat", "runner-cookie", "text/plain", "null", "cross-site", `{}`}, 401},
		{"webhook text/plain foreign", csCase{"POST", "/api/triggers/webhook/t1", "none", "text/plain", "http://evil.test", "cross-site", `{}`}, 0},
		{"login with a cookie present", csCase{"POST", "/api/auth/login", "cookie", json, "", "", `{"email":"a@b.co","password":"x"}`}, 0},
		{"login from a script", csCase{"POST", "/api/auth/login", "none", "application/x-www-form-urlencoded", "", "", `{"email":"a@b.co","password":"x"}`}, 0},
		{"login same origin", csCase{"POST", "/api/auth/login", "none", json, "http://exekra.test:4545", "same-origin", `{"email":"a@b.co","password":"x"}`}, 0},
		{"login from a foreign page", csCase{"POST", "/api/auth/login", "none", "text/plain", "http://evil.test", "", `{"email":"a@b.co","password":"x"}`}, 403},
		{"login cross-site", csCase{"POST", "/api/auth/login", "none", "text/plain", "", "cross-site", `{"email":"a@b.co","password":"x"}`}, 403},
		{"bootstrap from a foreign page", csCase{"POST", "/api/auth/bootstrap", "none", json, "null", "", `{"email":"a@b.co","password":"password1"}`}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ran := ft.serveCrossSite(tc.c)
			code := resp.StatusCode()
			switch tc.want {
			case 0:
				if !ran {
					t.Fatalf("the handler did not run: %d %s", code, resp.Body())
				}
			case 403, 415:
				wantCode := messages.CodeForbidden
				if tc.want == 415 {
					wantCode = messages.CodeUnsupportedMediaType
				}
				if ran || code != tc.want || !strings.Contains(string(resp.Body()), string(wantCode)) {
					t.Fatalf("got %d %s (handler ran: %v), want %d %s", code, resp.Body(), ran, tc.want, wantCode)
				}
			default:
				if code != tc.want {
					t.Fatalf("got %d %s, want %d", code, resp.Body(), tc.want)
				}
			}
		})
	}
}

// TestSecurityHeadersOnEveryAnswer: nosniff on success, error, unmatched
// and transport-error answers; no-store where a session or secret is
// shown; no HSTS over plain HTTP.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	ft := newFuzzTarget(t)
	for _, c := range []csCase{
		{method: "GET", path: "/api/health", cred: "none"},
		{method: "GET", path: "/api/auth/me", cred: "bearer"},
		{method: "GET", path: "/nope/../api", cred: "none"},
		{method: "DELETE", path: "/api/health", cred: "none"},
		{method: "POST", path: "/api/workflows", cred: "cookie", contentType: "text/plain", body: "x"},
	} {
		resp, _ := ft.serveCrossSite(c)
		if got := string(resp.Header.Peek("X-Content-Type-Options")); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q", c.method, c.path, resp.StatusCode(), got)
		}
		if hsts := resp.Header.Peek("Strict-Transport-Security"); len(hsts) > 0 {
			t.Errorf("%s %s: HSTS over plain HTTP: %s", c.method, c.path, hsts)
		}
	}
	me, _ := ft.serveCrossSite(csCase{method: "GET", path: "/api/auth/me", cred: "bearer"})
	if string(me.Header.Peek("Cache-Control")) != "no-store" {
		t.Errorf("GET /api/auth/me: Cache-Control %q", me.Header.Peek("Cache-Control"))
	}
	health, _ := ft.serveCrossSite(csCase{method: "GET", path: "/api/health", cred: "none"})
	if len(health.Header.Peek("Cache-Control")) > 0 {
		t.Errorf("GET /api/health: Cache-Control %q", health.Header.Peek("Cache-Control"))
	}
	// fasthttp's own error path (a malformed request) goes through
	// transportError, not the middleware.
	var ctx fasthttp.RequestCtx
	ft.srv.transportError(&ctx, net.ErrClosed)
	if string(ctx.Response.Header.Peek("X-Content-Type-Options")) != "nosniff" {
		t.Errorf("transport error without nosniff")
	}
}

// TestOpenAPIDocumentsCrossSiteAnswers: every change a user may make with
// the session cookie documents the cross-site answers (403 and 415).
func TestOpenAPIDocumentsCrossSiteAnswers(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	ft := newFuzzTarget(t)
	for _, rt := range ft.srv.Routes() {
		if (rt.Access != AnyUser && rt.Access != Roles) || !changesState([]byte(rt.Method)) {
			continue
		}
		op, ok := doc.Paths[openAPIPath(rt.Path)][strings.ToLower(rt.Method)]
		if !ok {
			continue // TestOpenAPIMatchesRouteTable reports it
		}
		for _, status := range []string{"403", "415"} {
			if _, ok := op.Responses[status]; !ok {
				t.Errorf("%s %s: openapi.json documents no %s (add \"%s\": {\"$ref\": \"#/components/responses/%s\"})",
					rt.Method, rt.Path, status, status, map[string]string{"403": "CrossSiteForbidden", "415": "UnsupportedMediaType"}[status])
			}
		}
	}
}
