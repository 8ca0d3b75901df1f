package main

import (
	"strings"
	"testing"
)

// serve --help shows every flag's default as docs/api.md's flag table
// writes it (120s, not 2m0s; false and 0 too), with its variable.
func TestServeHelpShowsEveryDefaultAsDocumented(t *testing.T) {
	code, out, _ := runCLI([]string{"serve", "--help"}, nil)
	if code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for _, w := range f {
			if strings.HasPrefix(w, "--") {
				lines[strings.TrimSuffix(strings.TrimPrefix(w, "--"), ",")] = l
				break
			}
		}
	}
	for flag, want := range map[string]string{
		"addr": `(default ":4545")`, "data-dir": `(default "./data")`, "rate-limit": "(default 100)",
		"runner-ttl": "(default 120s)", "offline-grace": "(default 60s)", "queue-timeout": "(default 30m)",
		"stale-check-interval": "(default 5s)", "log-level": `(default "info")`, "log-format": `(default "text")`,
		"login-max-failures": "(default 10)", "insecure-http": "(default false)", "outbound-allow-loopback": "(default false)",
		"retention-days": "(default 0)", "tls-cert": "(default none", "tls-key": "(default none",
		"license-public-key": "default: the key built into the binary", "jwt-secret": "default: random",
	} {
		l, ok := lines[flag]
		if !ok {
			t.Errorf("serve --help has no --%s", flag)
			continue
		}
		if !strings.Contains(l, want) || !strings.Contains(l, "$"+envName(flag)) {
			t.Errorf("--%s: %q lacks %s or $%s", flag, strings.TrimSpace(l), want, envName(flag))
		}
		if strings.Count(l, "default") != 1 {
			t.Errorf("--%s: %q shows its default more than once", flag, strings.TrimSpace(l))
		}
	}
	// The defaults themselves are unchanged.
	c := NewMain().Config
	if c.RunnerTTL.String() != "2m0s" || c.QueueTimeout.String() != "30m0s" {
		t.Fatalf("defaults changed: %+v", c)
	}
}
