package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The rate-limit headers go out on the wire spelled as the API documents
// them (X-RateLimit-Limit, not fasthttp's normalized X-Ratelimit-Limit), for
// clients that look for them byte for byte; Go's and most clients' lookups
// ignore case either way.
func TestRateLimitHeaderNamesOnTheWire(t *testing.T) {
	h := newHarness(t, withRateLimit(5))
	host := strings.TrimPrefix(h.base, "http://")
	names := func(path string) map[string]bool {
		conn, err := net.DialTimeout("tcp", host, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + h.admin.token + "\r\nConnection: close\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		status, _ := r.ReadString('\n')
		got := map[string]bool{"status " + strings.Fields(status + " x x")[1]: true}
		for {
			line, err := r.ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			if err != nil || line == "" {
				return got
			}
			if name, _, ok := strings.Cut(line, ":"); ok {
				got[name] = true
			}
		}
	}
	for i := 0; i < 5; i++ {
		got := names("/api/auth/me")
		for _, want := range []string{"status 200", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if !got[want] {
				t.Fatalf("request %d: no %q among %v", i, want, got)
			}
		}
	}
	got := names("/api/auth/me")
	for _, want := range []string{"status 429", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"} {
		if !got[want] {
			t.Fatalf("limited request: no %q among %v", want, got)
		}
	}
	// net/http clients still read them.
	if r := h.request(h.admin, "GET", "/api/auth/me", nil); r.status != http.StatusTooManyRequests || r.header.Get("X-RateLimit-Limit") != "5" {
		t.Fatalf("net/http view: %d %v", r.status, r.header)
	}
}
