package main

import (
	"strings"
	"testing"
)

// The session cookie's attributes are written as the API reference names
// them (Path, Max-Age, HttpOnly, Secure, SameSite), so a client that looks
// for them as written finds them; the cookie over TLS is Secure and the
// one over plain HTTP is not.
func TestSessionCookieAttributesAsDocumented(t *testing.T) {
	h := newUnactivatedHarness(t, func(c *Config) { c.InsecureHTTP = false })
	h.base = strings.Replace(h.base, "http://", "https://", 1)
	h.http.Transport = insecureTransport()
	h.activate(h.issueLicense(licenseOpts{}))
	r := h.expect(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": adminEmail, "password": adminPassword, "name": "A"}, 201)
	attrs := func(c string) map[string]bool {
		m := map[string]bool{}
		for i, p := range strings.Split(c, ";") {
			if i > 0 {
				m[strings.TrimSpace(p)] = true
			}
		}
		return m
	}
	set := r.header.Get("Set-Cookie")
	got := attrs(set)
	for _, want := range []string{"Path=/", "Max-Age=604800", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !got[want] {
			t.Errorf("bootstrap cookie %q lacks %q", set, want)
		}
	}
	if !strings.HasPrefix(set, "token=") || len(got) != 5 {
		t.Errorf("bootstrap cookie %q: want token=… and exactly the five attributes", set)
	}
	r = h.expect(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail, "password": adminPassword}, 200)
	if set = r.header.Get("Set-Cookie"); !attrs(set)["Max-Age=604800"] || !attrs(set)["Secure"] {
		t.Errorf("login cookie %q", set)
	}
	tok := r.cookie("token")
	r = h.expect(&client{token: tok}, "POST", "/api/auth/logout", nil, 200)
	set = r.header.Get("Set-Cookie")
	if got := attrs(set); !strings.HasPrefix(set, "token=;") || !got["Max-Age=0"] || !got["Path=/"] || !got["HttpOnly"] || !got["Secure"] || !got["SameSite=Lax"] {
		t.Errorf("logout cookie %q: want token= with Max-Age=0 and the same attributes", set)
	}

	plain := newHarness(t)
	r = plain.expect(anon, "POST", "/api/auth/login", map[string]any{"email": adminEmail, "password": adminPassword}, 200)
	set = r.header.Get("Set-Cookie")
	if got := attrs(set); got["Secure"] || !got["Max-Age=604800"] || len(got) != 4 {
		t.Errorf("plain HTTP login cookie %q: want the attributes without Secure", set)
	}
}
