package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func runCLI(args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestCLIUsageErrorsAreOneLineExit2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"serve", "--no-such-flag"},
		{"serve", "--rate-limit", "many"},
		{"serve", "--log-format", "xml"},
		{"serve", "--tls-cert", "only-cert.pem"},
		{"serve", "extra-arg"},
		{"license"},
		{"license", "frobnicate"},
		{"license", "keygen"},
		{"license", "issue", "--email", "a@example.com", "--org", "O"},
		{"license", "issue", "--key", "k", "--email", "a@example.com", "--org", "O", "--days", "3", "--expires", "2030-01-01T00:00:00Z"},
		{"license", "issue", "--key", "k", "--email", "a@example.com", "--org", "O", "--expires", "yesterday"},
		{"version", "extra"},
		{"help", "bogus"},
		{"workflows", "list", "--bogus"},
		{"license", "keygen", "extra"},
	} {
		code, _, stderr := runCLI(args, nil)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if lines := strings.Count(strings.TrimRight(stderr, "\n"), "\n"); lines != 0 || stderr == "" {
			t.Errorf("%v: want one line on stderr, got %q", args, stderr)
		}
	}
}

func TestCLIVersion(t *testing.T) {
	code, out, _ := runCLI([]string{"version"}, nil)
	if code != 0 || !strings.HasPrefix(out, "exekra ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestCLILicenseKeygenAndIssue(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI([]string{"license", "keygen", "--out", dir}, nil); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	if code, _, _ := runCLI([]string{"license", "keygen", "--out", dir}, nil); code != 1 {
		t.Fatalf("keygen over existing keys must refuse")
	}
	if fi, err := os.Stat(filepath.Join(dir, "license.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", fi, err)
	}
	past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	out := filepath.Join(dir, "past.lic")
	code, _, stderr := runCLI([]string{"license", "issue", "--key", filepath.Join(dir, "license.key"), "--email", "ops@example.com",
		"--org", "Acme", "--runners", "3", "--users", "4", "--workflows", "5", "--expires", past, "--grace-days", "7", "--out", out}, nil)
	if code != 0 {
		t.Fatalf("issue: %s", stderr)
	}
	text, _ := os.ReadFile(out)
	pubPEM, _ := os.ReadFile(filepath.Join(dir, "license.pub"))
	pub, err := messages.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	lic, err := messages.ParseLicense(string(text), pub)
	if err != nil {
		t.Fatal(err)
	}
	if lic.Email != "ops@example.com" || lic.Organization != "Acme" || lic.Limits.Runners != 3 || lic.Limits.Users != 4 ||
		lic.Limits.Workflows != 5 || lic.GraceDays != 7 || lic.Expiry().Format(time.RFC3339) != past {
		t.Fatalf("license: %+v", lic)
	}
	if st := lic.StateAt(time.Now()); st != messages.LicenseGrace {
		t.Fatalf("state %s", st)
	}
	// Printed to stdout without --out, with --days.
	code, stdout, _ := runCLI([]string{"license", "issue", "--key", filepath.Join(dir, "license.key"), "--email", "ops@example.com", "--org", "Acme", "--days", "10"}, nil)
	if code != 0 {
		t.Fatal("issue to stdout failed")
	}
	lic, err = messages.ParseLicense(stdout, pub)
	if err != nil || lic.DaysRemaining(time.Now()) != 10 {
		t.Fatalf("days: %v %v", lic, err)
	}
}

func TestServeFlagsAndEnvironment(t *testing.T) {
	m := NewMain()
	env := map[string]string{
		"EXEKRA_ADDR": "127.0.0.1:9999", "EXEKRA_RATE_LIMIT": "7", "EXEKRA_RUNNER_TTL": "30s",
		"EXEKRA_INSECURE_HTTP": "true", "EXEKRA_LOG_FORMAT": "json", "EXEKRA_OFFLINE_GRACE": "5s",
		"EXEKRA_QUEUE_TIMEOUT": "1m", "EXEKRA_STALE_CHECK_INTERVAL": "1s", "EXEKRA_DATA_DIR": "/tmp/x",
		"EXEKRA_RETENTION_DAYS": "9",
	}
	if err := m.ParseFlags([]string{"--rate-limit", "8"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.Addr != "127.0.0.1:9999" || c.RateLimit != 8 || c.RunnerTTL != 30*time.Second || !c.InsecureHTTP ||
		c.LogFormat != "json" || c.OfflineGrace != 5*time.Second || c.QueueTimeout != time.Minute ||
		c.StaleCheckInterval != time.Second || c.DataDir != "/tmp/x" || c.RetentionDays != 9 {
		t.Fatalf("config: %+v", c)
	}
	if err := NewMain().ParseFlags(nil, func(k string) string {
		if k == "EXEKRA_RATE_LIMIT" {
			return "lots"
		}
		return ""
	}); err == nil {
		t.Fatal("a bad environment value must be refused")
	}
	d := NewMain().Config
	if d.Addr != ":4545" || d.DataDir != "./data" || d.RateLimit != 100 || d.RunnerTTL != 120*time.Second ||
		d.OfflineGrace != 60*time.Second || d.QueueTimeout != 30*time.Minute || d.StaleCheckInterval != 5*time.Second ||
		d.LogLevel != "info" || d.LogFormat != "text" {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestServeHTTPSSelfSignedKeptInDataDir(t *testing.T) {
	h := newUnactivatedHarness(t, func(c *Config) { c.InsecureHTTP = false })
	cert := filepath.Join(h.cfg.DataDir, selfSignedCert)
	first, err := os.ReadFile(cert)
	if err != nil {
		t.Fatalf("no certificate generated: %v", err)
	}
	h.base = strings.Replace(h.base, "http://", "https://", 1)
	h.http.Transport = insecureTransport()
	h.expect(anon, "GET", "/api/health", nil, 200)
	h.restart()
	second, _ := os.ReadFile(cert)
	if !bytes.Equal(first, second) {
		t.Fatal("the self-signed certificate was regenerated")
	}
	h.base = strings.Replace(h.base, "http://", "https://", 1)
	h.expect(anon, "GET", "/api/health", nil, 200)
	h.activate(h.issueLicense(licenseOpts{}))
	r := h.request(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": adminEmail, "password": adminPassword, "name": "A"})
	if r.status != 201 || !strings.Contains(strings.ToLower(r.header.Get("Set-Cookie")), "; secure") {
		t.Fatalf("cookie over TLS must be Secure: %d %s", r.status, r.header.Get("Set-Cookie"))
	}
}

// The first steps printed by an unactivated server fit its key setup: a new
// key pair and a restart with it, or — when serve already has a key — a
// license signed with that key's private half and no restart.
func TestFirstStepsFollowTheKeySetup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct{ key, want, not string }{
		{"", "restart serve with --license-public-key keys/license.pub", "already verifies"},
		{"/etc/exekra/vendor.pub", "the private key of /etc/exekra/vendor.pub", "keygen"},
	} {
		var out bytes.Buffer
		m := &Main{Config: Config{LicensePublicKey: c.key}, Stdout: &out, ln: ln}
		m.printFirstSteps("https")
		if !strings.Contains(out.String(), c.want) || strings.Contains(out.String(), c.not) {
			t.Errorf("key %q:\n%s", c.key, out.String())
		}
		// The cookie jar is the README's, which .gitignore keeps out.
		if !strings.Contains(out.String(), "-c cookies.txt ") {
			t.Errorf("the bootstrap step keeps its cookie elsewhere than cookies.txt:\n%s", out.String())
		}
	}
}
