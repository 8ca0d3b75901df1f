package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The client commands against a real HTTPS server: login trusting the
// server's certificate file, push, run --wait on success and failure,
// -o json read back, API keys through EXEKRA_TOKEN, logout.

const failGraph = `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"log","params":{"message":"about to fail"}},{"id":"f","type":"fail","params":{"message":"boom"}},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"f"},{"source":"f","target":"e"}]}`

func TestCLIClientAgainstAServer(t *testing.T) {
	h := newUnactivatedHarness(t, func(c *Config) { c.InsecureHTTP = false })
	h.base = strings.Replace(h.base, "http://", "https://", 1)
	h.http.Transport = insecureTransport()
	caCert := filepath.Join(h.cfg.DataDir, selfSignedCert)
	home := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": home, "EXEKRA_PASSWORD": adminPassword}
	cli := func(want int, args ...string) (stdout, stderr string) {
		t.Helper()
		code, stdout, stderr := runCLI(args, env)
		if code != want {
			t.Fatalf("exekra %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout, stderr
	}
	jsonOf := func(text string) map[string]any {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("-o json printed no JSON object: %v\n%s", err, text)
		}
		return v
	}

	// A new server's first steps through the client: activate, bootstrap
	// (which keeps the administrator's session like login).
	lic := filepath.Join(t.TempDir(), "dev.lic")
	writeFile(t, lic, h.issueLicense(licenseOpts{}))
	if code, out, stderr := runCLI([]string{"activate", "--server", h.base, "--ca-cert", caCert, "--license", lic}, env); code != 0 || !strings.Contains(out, "ACTIVE") {
		t.Fatalf("activate: %d %q %q", code, out, stderr)
	}
	if code, out, stderr := runCLI([]string{"bootstrap", "--server", h.base, "--ca-cert", caCert, "--email", adminEmail, "--name", "Admin"}, env); code != 0 || !strings.Contains(out, "first administrator") {
		t.Fatalf("bootstrap: %d %q %q", code, out, stderr)
	}
	if code, _, stderr := runCLI([]string{"bootstrap", "--server", h.base, "--ca-cert", caCert, "--email", adminEmail}, env); code != 1 || !strings.Contains(stderr, "CONFLICT") {
		t.Fatalf("a second bootstrap: %d %q", code, stderr)
	}
	h.admin = h.login(adminEmail, adminPassword)
	if err := os.RemoveAll(filepath.Join(home, "exekra")); err != nil {
		t.Fatal(err)
	}

	// Not logged in yet: a clear failure, exit 1.
	if _, stderr := cli(1, "workflows", "list"); !strings.Contains(stderr, "exekra login") {
		t.Fatalf("before login: %q", stderr)
	}
	// The self-signed certificate is refused unless trusted, with the way
	// to trust it named; once trusted for this server, a later login to it
	// trusts it again.
	if _, stderr := cli(1, "login", "--server", h.base, "--email", adminEmail); !strings.Contains(stderr, "pass --ca-cert") {
		t.Fatalf("untrusted login: %q", stderr)
	}
	if out, _ := cli(0, "login", "--server", h.base, "--email", adminEmail, "--ca-cert", caCert); !strings.Contains(out, "logged in") {
		t.Fatalf("login: %q", out)
	}
	if out, _ := cli(0, "login", "--server", h.base, "--email", adminEmail); !strings.Contains(out, "logged in") {
		t.Fatalf("a second login without --ca-cert: %q", out)
	}
	saved := filepath.Join(home, "exekra", "credentials.json")
	if fi, err := os.Stat(saved); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved login: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Dir(saved)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("config dir: %v %v", fi, err)
	}
	if me := jsonOf(first(cli(0, "whoami", "-o", "json"))); dig(me, "user.email") != adminEmail {
		t.Fatalf("whoami: %v", me)
	}

	// push: create, then the same file again changes nothing.
	dir := t.TempDir()
	hello := filepath.Join(dir, "hello.json")
	writeFile(t, hello, `{"name": "CLI hello", "description": "from a file", "graph": `+helloGraph+`}`)
	if out, _ := cli(0, "workflows", "push", hello, "--publish"); !strings.Contains(out, "version 1 saved and published") {
		t.Fatalf("first push: %q", out)
	}
	again := jsonOf(first(cli(0, "workflows", "push", hello, "--publish", "-o", "json")))
	if again["created"] != false || again["newDraft"] != false || again["published"] != false || dig(again, "version.status") != "PUBLISHED" {
		t.Fatalf("second push: %v", again)
	}
	fail := filepath.Join(dir, "fail.json")
	writeFile(t, fail, `{"name": "CLI fail", "graphJson": `+strconvQuote(failGraph)+`}`)
	cli(0, "workflows", "push", fail, "--publish")
	list := jsonOf(first(cli(0, "workflows", "list", "-o", "json")))
	if n := len(list["workflows"].([]any)); n != 2 || dig(list, "pagination.total") != float64(2) {
		t.Fatalf("workflows list -o json: %v", list)
	}
	if out, _ := cli(0, "workflows", "list"); !strings.Contains(out, "CLI hello") || !strings.Contains(out, "NAME") {
		t.Fatalf("workflows table: %q", out)
	}
	if out, _ := cli(0, "versions", "list", "CLI hello"); !strings.Contains(out, "PUBLISHED") {
		t.Fatalf("versions by workflow name: %q", out)
	}

	// A runner registered through the client runs what `exekra run` queues.
	reg := jsonOf(first(cli(0, "runners", "create", "--name", "cli-runner", "-o", "json")))
	h.startRefRunner(reg["machineKey"].(string), reg["machineSecret"].(string), false)
	out, stderr := cli(0, "run", "CLI hello", "--wait", "--input", `{"n": 1}`, "--priority", "high", "--poll-interval", "50ms")
	if !strings.Contains(out, "hello") || !strings.Contains(stderr, "COMPLETED") {
		t.Fatalf("run --wait: %q %q", out, stderr)
	}
	out, stderr = cli(1, "run", "CLI fail", "--wait", "--poll-interval", "50ms")
	if !strings.Contains(out, "about to fail") || !strings.Contains(stderr, "FAILED") || !strings.Contains(stderr, "boom") {
		t.Fatalf("run --wait of a failing workflow: %q %q", out, stderr)
	}
	id := strings.TrimSpace(first(cli(0, "run", "CLI hello")))
	ex := jsonOf(first(cli(0, "executions", "get", id, "-o", "json")))
	if dig(ex, "execution.id") != id || dig(ex, "execution.workflow.name") != "CLI hello" {
		t.Fatalf("executions get -o json: %v", ex)
	}
	h.waitExecution(id)
	execs := jsonOf(first(cli(0, "executions", "list", "--workflow", "CLI hello", "--status", "COMPLETED", "-o", "json")))
	if n := len(execs["executions"].([]any)); n != 2 {
		t.Fatalf("executions of CLI hello that COMPLETED: %d", n)
	}

	// Assets, runner labels and subscriptions are resources of the client
	// too; a secret asset's value never comes back.
	asset := jsonOf(first(cli(0, "assets", "create", "--name", "portal", "--type", "CREDENTIAL", "--username", "robot",
		"--data", `{"password":"cli-asset-pw"}`, "-o", "json")))
	if dig(asset, "asset.hasValue") != true || dig(asset, "asset.username") != "robot" {
		t.Fatalf("assets create: %v", asset)
	}
	if out, _ := cli(0, "assets", "list"); !strings.Contains(out, "portal") || strings.Contains(out, "cli-asset-pw") {
		t.Fatalf("assets list: %q", out)
	}
	relabelled := jsonOf(first(cli(0, "runners", "labels", reg["id"].(string), "--labels", "finance,eu", "-o", "json")))
	if labels, _ := dig(relabelled, "runner.labels").([]any); len(labels) != 2 {
		t.Fatalf("runners labels: %v", relabelled)
	}
	if out, _ := cli(0, "runners", "list", "--label", "finance"); !strings.Contains(out, "cli-runner") {
		t.Fatalf("runners list --label: %q", out)
	}
	sub := jsonOf(first(cli(0, "subscriptions", "create", "--url", "https://hooks.example.com/exekra", "--events", "execution.failed,runner.offline", "-o", "json")))
	if secret, _ := dig(sub, "subscription.secret").(string); !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("subscriptions create: %v", sub)
	}
	if out, _ := cli(0, "subscriptions", "list"); !strings.Contains(out, "hooks.example.com") || strings.Contains(out, "whsec_") {
		t.Fatalf("subscriptions list: %q", out)
	}

	// An API key made with the client works through EXEKRA_TOKEN and
	// --server, with its own (lower) role.
	created := jsonOf(first(cli(0, "api-keys", "create", "--name", "ci", "--role", "OPERATOR", "-o", "json")))
	key, _ := created["key"].(string)
	ci := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "EXEKRA_TOKEN": key}
	code, out, stderr := runCLI([]string{"workflows", "list", "--server", h.base, "--ca-cert", caCert}, ci)
	if code != 0 || !strings.Contains(out, "CLI fail") {
		t.Fatalf("EXEKRA_TOKEN with an API key: %d %q %q", code, out, stderr)
	}
	code, _, stderr = runCLI([]string{"workflows", "create", "--name", "nope", "--server", h.base, "--ca-cert", caCert}, ci)
	if code != 1 || !strings.Contains(stderr, "FORBIDDEN") {
		t.Fatalf("an OPERATOR key creating a workflow: %d %q", code, stderr)
	}
	keys := jsonOf(first(cli(0, "api-keys", "list", "-o", "json")))
	if k := keys["apiKeys"].([]any)[0].(map[string]any); k["lastUsedAt"] == nil || k["role"] != "OPERATOR" {
		t.Fatalf("api-keys list: %v", keys)
	}

	// Wrong command lines: one line, exit 2, nothing sent.
	for _, args := range [][]string{{"run"}, {"workflows", "get"}, {"workflows", "list", "extra"}, {"run", "x", "--priority", "URGENT"}, {"workflows", "list", "-o", "yaml"}} {
		code, _, stderr := runCLI(args, env)
		if code != 2 || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}

	// logout revokes the session and forgets it.
	token := loadToken(t, saved)
	cli(0, "logout")
	if _, err := os.Stat(saved); !os.IsNotExist(err) {
		t.Fatalf("the saved login survived logout: %v", err)
	}
	h.expectError(&client{token: token}, "GET", "/api/auth/me", nil, 401, "UNAUTHORIZED")
}

func first(a, _ string) string { return a }

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func loadToken(t *testing.T, path string) string {
	t.Helper()
	var s struct{ Token string }
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &s) != nil || s.Token == "" {
		t.Fatalf("saved login %s: %v", path, err)
	}
	return s.Token
}
