package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// The exekra binary as a process, for the tests that start, stop, kill
// and restart the real server (binary, shutdown and fault tests).

// faultsBinary is the exekra binary, built once per test run (shared with
// binary_test.go).
func faultsBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	return testBinary(t)
}

// serverProc is one exekra serve process on a data dir.
type serverProc struct {
	t      *testing.T
	bin    string
	dir    string
	pubKey string
	priv   ed25519.PrivateKey
	base   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
	client *http.Client
	token  string
	args   []string // more serve flags
}

// newServerProc prepares a data dir and license keys (nothing runs yet).
func newServerProc(t *testing.T) *serverProc {
	t.Helper()
	pubKey := filepath.Join(t.TempDir(), "license.pub")
	priv := licenseKeyFile(t, pubKey)
	p := &serverProc{
		t: t, bin: faultsBinary(t), dir: t.TempDir(), pubKey: pubKey, priv: priv,
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	t.Cleanup(p.kill)
	return p
}

// launch starts the process; it does not wait for it to serve.
func (p *serverProc) launch() {
	p.t.Helper()
	port := freePort(p.t)
	p.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	p.cmd = exec.Command(p.bin, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", p.dir,
		"--insecure-http", "--rate-limit", "0", "--license-public-key", p.pubKey, "--log-level", "warn")
	p.cmd.Args = append(p.cmd.Args, p.args...)
	p.stderr = &syncBuffer{}
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, io.Discard
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait() }(p.cmd, p.exited)
}

// start launches the process and waits until it serves.
func (p *serverProc) start() {
	p.t.Helper()
	p.launch()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			p.exited <- err
			p.t.Fatalf("server exited at start: %v\n%s", err, p.stderr.String())
		default:
		}
		if resp, err := p.client.Get(p.base + "/api/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	p.t.Fatalf("server never became healthy\n%s", p.stderr.String())
}

// waitExit waits for the process to exit on its own and returns its error.
func (p *serverProc) waitExit(d time.Duration) error {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(d):
		p.kill()
		p.t.Fatalf("server did not exit within %v\n%s", d, p.stderr.String())
		return nil
	}
}

// kill sends SIGKILL and reaps the process (idempotent).
func (p *serverProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(10 * time.Second):
	}
}

// terminate sends SIGTERM and waits for a clean exit.
func (p *serverProc) terminate() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.waitExit(20 * time.Second); err != nil {
		p.t.Fatalf("graceful stop: %v\n%s", err, p.stderr.String())
	}
}

// call sends a JSON request with the admin token; it returns the status and
// decoded body, or an error when the exchange did not complete.
func (p *serverProc) call(method, path string, body any, headers ...string) (int, map[string]any, error) {
	return p.callAs(p.token, method, path, body, headers...)
}

// callAs is call with another token ("" for none).
func (p *serverProc) callAs(token, method, path string, body any, headers ...string) (int, map[string]any, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, nil
}

// must is call that fails the test unless the status is want.
func (p *serverProc) must(method, path string, body any, want int) map[string]any {
	p.t.Helper()
	status, out, err := p.call(method, path, body)
	if err != nil || status != want {
		p.t.Fatalf("%s %s: %d %v %v, want %d", method, path, status, out, err, want)
	}
	return out
}

// setup activates a license and bootstraps the admin (keeping its token).
func (p *serverProc) setup() {
	p.t.Helper()
	now := time.Now()
	text, err := messages.SignLicense(messages.License{
		ID: messages.NewID(now), Email: adminEmail, Organization: "Faults Org", IssuedAt: now.Unix(),
		ExpiresAt: now.Add(30 * 24 * time.Hour).Unix(),
	}, p.priv)
	if err != nil {
		p.t.Fatal(err)
	}
	p.must("POST", "/api/license/activate", map[string]any{"license": text}, 200)
	body, _ := json.Marshal(map[string]any{"email": adminEmail, "password": adminPassword, "name": "Admin"})
	resp, err := p.client.Post(p.base+"/api/auth/bootstrap", "application/json", bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "token" {
			p.token = c.Value
		}
	}
	if resp.StatusCode != 201 || p.token == "" {
		p.t.Fatalf("bootstrap: %d", resp.StatusCode)
	}
}

func dig2(m map[string]any, path string) string {
	v, _ := dig(m, path).(string)
	return v
}

// servesState waits until the launched server answers /api/status; it
// fails the test when the state is not want, and returns false when the
// server refused to start (with a message naming the database file).
func (p *serverProc) servesState(t *testing.T, want string) bool {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			p.exited <- err
			if !strings.Contains(p.stderr.String(), filepath.Join(p.dir, "exekra.db")) {
				t.Fatalf("exited (%v) without naming the database file:\n%s", err, p.stderr.String())
			}
			t.Logf("refused to start: %s", lastLine(p.stderr.String()))
			return false
		default:
		}
		if _, out, err := p.call("GET", "/api/status", nil); err == nil {
			if out["state"] != want {
				t.Fatalf("state %v, want %s (a silently reset database?)", out["state"], want)
			}
			return true
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("server neither served nor exited\n%s", p.stderr.String())
	return false
}

// login logs a user in on the process and returns the token.
func (p *serverProc) login(email, password string) string {
	p.t.Helper()
	body, _ := json.Marshal(map[string]any{"email": email, "password": password})
	resp, err := p.client.Post(p.base+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "token" && resp.StatusCode == 200 {
			return c.Value
		}
	}
	p.t.Fatalf("login %s: %d", email, resp.StatusCode)
	return ""
}

// crash kills the process with SIGKILL right after the last answer and
// starts it again on the same data dir.
func (p *serverProc) crash() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	_ = p.waitExit(10 * time.Second)
	p.start()
}

func nonEmptyLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func lastLine(s string) string {
	l := nonEmptyLines(s)
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}
