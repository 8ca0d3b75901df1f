package httpd

import (
	"strings"
	"testing"

	"github.com/exekra/orchestrator/messages"
)

// credKinds are the ways a fuzzed request may present itself.
var credKinds = []string{"none", "cookie", "bearer", "both", "runner", "runner-cookie"}

// FuzzCrossSiteClassification sends every route requests with fuzzed
// credentials, content type, Origin, Sec-Fetch-Site and body, and checks
// the middleware's classification against the rules written out plainly
// (docs/security.md): a change authenticated by the session cookie that
// breaks one is refused before any handler runs (403 for the origin, 415
// for the content type), and no other request is ever refused by them. The
// seed corpus runs with plain `go test`.
func FuzzCrossSiteClassification(f *testing.F) {
	ft := newFuzzTarget(f)
	routes := ft.srv.Routes()
	seeds := []struct {
		cred              uint8
		ct, origin, fetch string
		body              string
	}{
		{1, "application/json", "", "", `{}`},
		{1, "application/json; charset=utf-8", "http://exekra.test:4545", "same-origin", `{}`},
		{1, "text/plain", "", "", `{}`},
		{1, "", "", "", `{}`},
		{1, "", "", "", ``},
		{1, "application/json", "null", "", `{}`},
		{1, "application/json", "http://exekra.test:4545.evil.test", "", `{}`},
		{1, "application/json", "https://exekra.test:4545", "", `{}`},
		{1, "application/json", "HTTP://EXEKRA.TEST:4545", "", `{}`},
		{1, "application/json", "http://exekra.test:04545", "", `{}`},
		{1, "application/json", "http://exekra.test:4545@evil.test", "", `{}`},
		{1, "application/json", "", "cross-site", `{}`},
		{1, "application/json", "", " SAME-SITE ", `{}`},
		{1, "application/json", "", "none", `{}`},
		{1, "application/jsonp", "", "", `{}`},
		{1, "text/plain;application/json", "", "", `{}`},
		{1, "multipart/form-data; boundary=x", "", "", "--x--"},
		{2, "text/plain", "http://evil.test", "cross-site", `{}`},
		{3, "text/plain", "null", "same-site", `{}`},
		{4, "text/plain", "http://evil.test", "cross-site", `{}`},
		{5, "text/plain", "http://evil.test", "cross-site", `{}`},
		{0, "text/plain", "http://evil.test", "cross-site", `{}`},
	}
	for _, s := range seeds {
		for r := range routes {
			f.Add(uint8(r), s.cred, s.ct, s.origin, s.fetch, []byte(s.body))
		}
	}
	f.Fuzz(func(t *testing.T, which, cred uint8, ct, origin, fetch string, body []byte) {
		if len(body) > 4096 {
			return
		}
		rt := routes[int(which)%len(routes)]
		c := csCase{
			method: rt.Method, path: fillPath(rt.Path, "id-1"), cred: credKinds[int(cred)%len(credKinds)],
			contentType: headerSafe(ct), origin: headerSafe(origin), secFetchSite: headerSafe(fetch), body: string(body),
		}
		if rt.Path == "/api/system/backup" || rt.Path == "/metrics" {
			return // streams and scrapes: no body, no change, and no interest here
		}
		resp, ran := ft.serveCrossSite(c)
		code := resp.StatusCode()
		refusedBy := ""
		switch {
		case code == 415 && strings.Contains(string(resp.Body()), string(messages.CodeUnsupportedMediaType)):
			refusedBy = "content type"
		case code == 403 && (strings.Contains(string(resp.Body()), errForeignOrigin.Message) ||
			strings.Contains(string(resp.Body()), errForeignSession.Message)):
			refusedBy = "origin"
		}
		// The rules, written out plainly.
		cookieUser := c.cred == "cookie" && (rt.Access == AnyUser || rt.Access == Roles)
		changes := rt.Method == "POST" || rt.Method == "PUT" || rt.Method == "PATCH" || rt.Method == "DELETE"
		site := strings.TrimSpace(c.secFetchSite)
		o := strings.TrimSpace(c.origin)
		foreign := strings.EqualFold(site, "cross-site") || strings.EqualFold(site, "same-site") ||
			(o != "" && !strings.EqualFold(o, "http://exekra.test:4545"))
		media, _, _ := strings.Cut(c.contentType, ";")
		media = strings.TrimSpace(media)
		notJSON := (strings.TrimSpace(c.contentType) == "" && len(body) > 0) ||
			(strings.TrimSpace(c.contentType) != "" && !strings.EqualFold(media, "application/json"))
		want := ""
		if setsSession := rt.Path == "/api/auth/login" || rt.Path == "/api/auth/bootstrap"; setsSession && foreign {
			want = "origin"
		}
		if cookieUser && changes {
			switch {
			case foreign:
				want = "origin"
			case notJSON:
				want = "content type"
			}
		}
		if refusedBy != want {
			t.Fatalf("%s %s cred=%s ct=%q origin=%q sec-fetch-site=%q body=%q: refused by %q, want %q (%d %s)",
				rt.Method, rt.Path, c.cred, c.contentType, c.origin, c.secFetchSite, body, refusedBy, want, code, resp.Body())
		}
		if want != "" && ran {
			t.Fatalf("%s %s: refused (%s) after its handler ran", rt.Method, rt.Path, want)
		}
		if got := string(resp.Header.Peek("X-Content-Type-Options")); got != "nosniff" {
			t.Fatalf("%s %s (%d): no nosniff", rt.Method, rt.Path, code)
		}
	})
}
