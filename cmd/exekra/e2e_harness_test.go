package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// The end-to-end harness: it starts the real server (Main.Run) on
// 127.0.0.1:0 with --insecure-http on a temp data dir, and drives it over
// HTTP like any client. Feature suites live in e2e_<feature>_test.go.

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-1"
)

// skewClock is a real clock that tests can move forward.
type skewClock struct{ offset atomic.Int64 }

func (c *skewClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *skewClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// clearOfMidnight moves the server clock past the next UTC midnight when
// that is less than margin away, so what a test creates next shares one
// UTC day (analytics answer whole days at the edges).
func (h *harness) clearOfMidnight(margin time.Duration) {
	now := h.clock.Now().UTC()
	if left := now.Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(now); left < margin {
		h.clock.Advance(left + time.Second)
	}
}

// harness is one running server and its test clients.
type harness struct {
	t      testing.TB
	m      *Main
	cfg    Config
	base   string
	keyDir string
	priv   ed25519.PrivateKey
	clock  *skewClock
	admin  *client
	http   *http.Client
	logs   *syncBuffer
}

// client is a caller with an optional token (user or runner).
type client struct {
	token string
	user  map[string]any
}

// anon is the caller without credentials.
var anon = &client{}

// harnessOption changes the server config before start.
type harnessOption func(*Config)

// withRateLimit sets --rate-limit (the harness default is 0, off).
func withRateLimit(n int) harnessOption { return func(c *Config) { c.RateLimit = n } }

// newHarness starts an activated and bootstrapped server.
func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	h := newUnactivatedHarness(t, opts...)
	h.activate(h.issueLicense(licenseOpts{}))
	h.admin = h.bootstrap(adminEmail, adminPassword)
	return h
}

// licenseKeyFile makes a license signing key pair, writes its public key
// (PEM) to path and returns the private key.
func licenseKeyFile(t testing.TB, path string) ed25519.PrivateKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, pubPEM, err := messages.MarshalKeyPairPEM(pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv
}

// newUnactivatedHarness starts a server with no license.
func newUnactivatedHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	keyDir := t.TempDir()
	priv := licenseKeyFile(t, filepath.Join(keyDir, "license.pub"))
	cfg := NewMain().Config
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.InsecureHTTP = true
	cfg.LicensePublicKey = filepath.Join(keyDir, "license.pub")
	cfg.RateLimit = 0
	cfg.LogLevel = "warn"
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{
		t: t, cfg: cfg, keyDir: keyDir, priv: priv, clock: &skewClock{},
		http: &http.Client{Timeout: 90 * time.Second}, logs: &syncBuffer{},
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

// start runs a Main on h.cfg.
func (h *harness) start() {
	h.t.Helper()
	m := NewMain()
	m.Config = h.cfg
	m.Now = h.clock.Now
	m.Stdout, m.Stderr = io.Discard, h.logs
	if err := m.Run(context.Background()); err != nil {
		h.t.Fatalf("start server: %v", err)
	}
	h.m = m
	h.base = "http://" + m.Addr().String()
}

// stop closes the server (idempotent).
func (h *harness) stop() {
	if h.m != nil {
		if err := h.m.Close(); err != nil {
			h.t.Errorf("close server: %v", err)
		}
		h.m = nil
	}
}

// restart closes the server and starts a new one on the same data dir (the
// port changes; clients keep their tokens).
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.cfg.Addr = "127.0.0.1:0"
	h.start()
}

// licenseOpts shape an issued license.
type licenseOpts struct {
	email                     string
	expires                   time.Time
	graceDays                 int
	runners, users, workflows int
}

// issueLicense signs a license with the harness's key.
func (h *harness) issueLicense(o licenseOpts) string {
	h.t.Helper()
	now := h.clock.Now()
	if o.email == "" {
		o.email = adminEmail
	}
	if o.expires.IsZero() {
		o.expires = now.Add(30 * 24 * time.Hour)
	}
	text, err := messages.SignLicense(messages.License{
		ID: messages.NewID(now), Email: o.email, Organization: "Test Org", IssuedAt: now.Unix(),
		ExpiresAt: o.expires.Unix(), GraceDays: o.graceDays,
		Limits: messages.LicenseLimits{Runners: o.runners, Users: o.users, Workflows: o.workflows},
	}, h.priv)
	if err != nil {
		h.t.Fatal(err)
	}
	return text
}

// activate posts a license and expects 200.
func (h *harness) activate(text string) {
	h.t.Helper()
	h.expect(anon, "POST", "/api/license/activate", map[string]any{"license": text}, 200)
}

// bootstrap creates the first admin and returns their client.
func (h *harness) bootstrap(email, password string) *client {
	h.t.Helper()
	resp := h.request(anon, "POST", "/api/auth/bootstrap", map[string]any{"email": email, "password": password, "name": "Admin"})
	if resp.status != 201 {
		h.t.Fatalf("bootstrap: %d %s", resp.status, resp.body)
	}
	return &client{token: resp.cookie("token"), user: resp.json["user"].(map[string]any)}
}

// login logs a user in and returns their client (fails the test on non-200).
func (h *harness) login(email, password string) *client {
	h.t.Helper()
	resp := h.request(anon, "POST", "/api/auth/login", map[string]any{"email": email, "password": password})
	if resp.status != 200 {
		h.t.Fatalf("login %s: %d %s", email, resp.status, resp.body)
	}
	return &client{token: resp.cookie("token"), user: resp.json["user"].(map[string]any)}
}

var userSeq atomic.Int64

// userWithRole registers a new user with role (via the admin) and logs in.
func (h *harness) userWithRole(role string) *client {
	h.t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", strings.ToLower(role), userSeq.Add(1))
	h.expect(h.admin, "POST", "/api/auth/register", map[string]any{
		"email": email, "password": "password-123", "name": role + " user", "role": role}, 201)
	return h.login(email, "password-123")
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *response) cookie(name string) string {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// str reads a string field by dotted path ("execution.status").
func (r *response) str(path string) string {
	v, _ := dig(r.json, path).(string)
	return v
}

// num reads a number field by dotted path.
func (r *response) num(path string) float64 {
	v, _ := dig(r.json, path).(float64)
	return v
}

func dig(m map[string]any, path string) any {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[part]
	}
	return cur
}

// request sends body (nil; string or []byte sent raw; anything else as
// JSON) with the client's token as Bearer.
func (h *harness) request(c *client, method, path string, body any, headers ...string) *response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c != nil && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A live event stream does not end: the head is the answer.
		return &response{status: resp.StatusCode, header: resp.Header}
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: data}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(data, &out.json)
	}
	return out
}

// expect sends a request and fails the test unless the status is want.
func (h *harness) expect(c *client, method, path string, body any, want int, headers ...string) *response {
	h.t.Helper()
	r := h.request(c, method, path, body, headers...)
	if r.status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// expectError checks an error answer's status and code.
func (h *harness) expectError(c *client, method, path string, body any, status int, code string, headers ...string) *response {
	h.t.Helper()
	r := h.request(c, method, path, body, headers...)
	if r.status != status || r.str("code") != code || r.str("error") == "" {
		h.t.Fatalf("%s %s: got %d %s, want %d %s", method, path, r.status, r.body, status, code)
	}
	return r
}

// syncBuffer is a goroutine-safe log sink tests can search.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// do is request returning the status and decoded JSON body.
func (h *harness) do(c *client, method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	r := h.request(c, method, path, body)
	return r.status, r.json
}

// insecureTransport trusts any certificate (the self-signed one).
func insecureTransport() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test against our own self-signed cert
}
