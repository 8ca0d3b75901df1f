package httpd

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// The request decoders are fuzzed through the real handler chain
// (Server.Handler: outer middleware, router, gate, authentication, role
// guard, handler): whatever the body, the answer is never a panic and never
// a 5xx. The core behind it is a fake that authenticates every token as an
// ADMIN (or a runner) and refuses every command with NOT_FOUND, so the fuzz
// exercises decoding and validation, not the actors.

// fuzzCore is the httpd tests' one fake Core: it lets every caller in and
// owns nothing; its state is OPERATIONAL unless set.
type fuzzCore struct {
	Core  // a method added to Core later panics here (reported as a 5xx)
	now   time.Time
	state messages.SystemState
	asks  atomic.Int64 // commands received (a handler ran)
}

func (f *fuzzCore) Ask(cmd any) (any, error) {
	f.asks.Add(1)
	if _, ok := cmd.(*messages.BeginLogin); ok {
		return &messages.Ack{}, nil // no throttle: the login decoder is what is fuzzed
	}
	return nil, messages.Errorf(messages.CodeNotFound, "fuzz: no such object (%T)", cmd)
}
func (f *fuzzCore) AskTimeout(cmd any, _ time.Duration) (any, error)       { return f.Ask(cmd) }
func (f *fuzzCore) Tell(messages.Notice)                                   {}
func (f *fuzzCore) Now() time.Time                                         { return f.now }
func (f *fuzzCore) LicenseState() messages.LicenseState                    { return messages.LicenseActive }
func (f *fuzzCore) CheckCanCreate() error                                  { return nil }
func (f *fuzzCore) User(id string) *messages.User                          { return fuzzUser(id) }
func (f *fuzzCore) RunnerSession(string, string, int64) error              { return nil }
func (f *fuzzCore) TokenRevoked(string) bool                               { return false }
func (f *fuzzCore) RunnerIdle(string) bool                                 { return false }
func (f *fuzzCore) UnsubscribeEvents(uint64)                               {}
func (f *fuzzCore) Waiting(*messages.Execution) (*messages.Waiting, error) { return nil, nil }

// SubscribeEvents opens a stream that ends at once.
func (f *fuzzCore) SubscribeEvents(messages.SubscribeEvents) (*messages.EventSubscription, error) {
	ch := make(chan []messages.StreamEvent)
	close(ch)
	return &messages.EventSubscription{Events: ch, Reason: func() string { return "fuzz" }}, nil
}
func (f *fuzzCore) RunnerByCredentials(string, string) (string, int64, error) {
	return "", 0, messages.Errorf(messages.CodeUnauthorized, "fuzz: no such machine")
}
func (f *fuzzCore) Runner(id string) *messages.Runner {
	return &messages.Runner{ID: id, Name: "fuzz", Type: messages.RunnerAttended, Status: messages.RunnerOnline}
}
func (f *fuzzCore) ListRunners(messages.RunnerFilter, messages.Page) ([]*messages.Runner, int) {
	return nil, 0
}
func (f *fuzzCore) APIKeySession(string, string) (*messages.User, *messages.APIKey, error) {
	return nil, nil, messages.Errorf(messages.CodeUnauthorized, "fuzz: no such key")
}
func (f *fuzzCore) APIKeys(string) []*messages.APIKey { return nil }
func (f *fuzzCore) Session(userID, _ string, _ int64) (*messages.User, error) {
	return fuzzUser(userID), nil
}
func (f *fuzzCore) AuditEntry(o messages.Origin, action, targetType, targetID, details string) *messages.AuditEntry {
	return &messages.AuditEntry{ID: messages.NewID(f.now), Action: action, TargetType: targetType, TargetID: targetID, Details: details}
}

func (f *fuzzCore) State() messages.SystemState {
	if f.state == "" {
		return messages.StateOperational
	}
	return f.state
}
func (f *fuzzCore) LicenseStatus() messages.LicenseStatus {
	return messages.LicenseStatus{Activated: true, Status: messages.LicenseActive, ExpiresAt: 1_900_000_000_000, GraceEndsAt: 1_900_604_800_000}
}

// newTestServer is a server with cfg (a discarding logger and a JWT secret
// unless set) on core and an empty store.
func newTestServer(cfg Config, core *fuzzCore) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JWTSecret == nil {
		cfg.JWTSecret = []byte("test-secret-0123456789abcdef01234")
	}
	if core.now.IsZero() {
		core.now = time.Now()
	}
	return New(cfg, core, fuzzStore{})
}

// serveOnce runs one request through the whole handler; headers are
// name, value pairs.
func serveOnce(t *testing.T, s *Server, method, path string, headers ...string) *fasthttp.Response {
	t.Helper()
	var ctx fasthttp.RequestCtx
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}, nil)
	s.Handler()(&ctx)
	resp := &fasthttp.Response{}
	ctx.Response.CopyTo(resp)
	return resp
}

func fuzzUser(id string) *messages.User {
	return &messages.User{ID: id, Email: "fuzz@example.com", Name: "Fuzz", Role: messages.RoleAdmin}
}

// fuzzStore is an empty Store.
type fuzzStore struct {
	Store // a method added to Store later panics here (reported as a 5xx)
}

func (fuzzStore) Ping() error                                            { return nil }
func (fuzzStore) UserByEmail(string) (*messages.User, error)             { return nil, nil }
func (fuzzStore) ListUsers(messages.Page) ([]*messages.User, int, error) { return nil, 0, nil }
func (fuzzStore) ListAudit(messages.Page) ([]*messages.AuditEntry, int, error) {
	return nil, 0, nil
}
func (fuzzStore) WriteBackup(io.Writer) (int64, error) { return 0, nil }
func (fuzzStore) ListWorkflows(messages.Page) ([]*messages.Workflow, int, error) {
	return nil, 0, nil
}
func (fuzzStore) WorkflowDetail(string) (*messages.WorkflowDetail, error) { return nil, nil }
func (fuzzStore) ListVersions(string) ([]*messages.Version, error)        { return nil, nil }
func (fuzzStore) LatestVersion(string) (*messages.Version, error) {
	return nil, messages.Errorf(messages.CodeNotFound, "fuzz: no version")
}
func (fuzzStore) GetTrigger(string) (*messages.Trigger, error) { return nil, nil }
func (fuzzStore) ListTriggers(messages.TriggerFilter, messages.Page) ([]*messages.Trigger, int, error) {
	return nil, 0, nil
}
func (fuzzStore) GetExecution(string) (*messages.Execution, error) { return nil, nil }
func (fuzzStore) ExecutionLogs(string) (*string, error)            { return nil, nil }
func (fuzzStore) ListExecutions(messages.ExecutionFilter, messages.Page) ([]*messages.Execution, int, error) {
	return nil, 0, nil
}
func (fuzzStore) ExecutionStats() (messages.ExecutionStats, error) {
	return messages.ExecutionStats{}, nil
}
func (fuzzStore) ProcessPerformance(messages.Time, messages.Time) ([]messages.WorkflowPerformance, error) {
	return nil, nil
}
func (fuzzStore) ListRunners(messages.RunnerFilter, messages.Page) ([]*messages.Runner, int, error) {
	return nil, 0, nil
}
func (fuzzStore) RunnerProcesses() ([]messages.RunnerProcess, error) { return nil, nil }
func (fuzzStore) VersionGraph(string) (string, error)                { return "", nil }
func (fuzzStore) GetVersion(string) (*messages.Version, error)       { return nil, nil }
func (fuzzStore) GetAsset(string) (*messages.Asset, error)           { return nil, nil }
func (fuzzStore) GetSubscription(string) (*messages.Subscription, error) {
	return nil, nil
}
func (fuzzStore) ListSubscriptions(messages.Page) ([]*messages.Subscription, int, error) {
	return nil, 0, nil
}
func (fuzzStore) ListDeliveries(string, messages.Page) ([]*messages.Delivery, int, error) {
	return nil, 0, nil
}
func (fuzzStore) ListAssets(messages.Page) ([]*messages.Asset, int, error) {
	return nil, 0, nil
}

// fuzzTarget is a server, tokens for both kinds of caller, and the routes
// that take a body, in a stable order.
type fuzzTarget struct {
	srv         *Server
	userToken   string
	runnerToken string
	routes      []Route
	logs        *bytes.Buffer
	mu          sync.Mutex
}

func newFuzzTarget(t testing.TB) *fuzzTarget {
	t.Helper()
	ft := &fuzzTarget{logs: &bytes.Buffer{}}
	ft.srv = newTestServer(Config{
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{ft}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		JWTSecret: []byte("fuzz-secret-0123456789abcdef0123"),
		Version:   "fuzz",
	}, &fuzzCore{})
	var err error
	if ft.userToken, _, err = ft.srv.tokens.issue(kindUser, "user-1", 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ft.runnerToken, _, err = ft.srv.tokens.issue(kindRunner, "runner-1", 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, rt := range ft.srv.Routes() {
		switch rt.Method {
		case "POST", "PUT", "PATCH":
			if rt.Path == "/api/license/activate" {
				continue // public and license-verified: FuzzParseLicense covers it
			}
			ft.routes = append(ft.routes, rt)
		}
	}
	sort.Slice(ft.routes, func(i, j int) bool {
		return ft.routes[i].Method+ft.routes[i].Path < ft.routes[j].Method+ft.routes[j].Path
	})
	return ft
}

type lockedWriter struct{ ft *fuzzTarget }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.ft.mu.Lock()
	defer w.ft.mu.Unlock()
	return w.ft.logs.Write(p)
}

// fillPath replaces each {param} of a route path with id.
func fillPath(path, id string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			b.WriteString(path)
			return b.String()
		}
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			b.WriteString(path)
			return b.String()
		}
		b.WriteString(path[:i])
		b.WriteString(id)
		path = path[i+j+1:]
	}
}

// serve sends one request through the whole handler and returns the answer.
func (ft *fuzzTarget) serve(rt Route, id string, body []byte, header string) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(rt.Method)
	req.SetRequestURI(fillPath(rt.Path, id))
	req.Header.SetContentType("application/json")
	switch rt.Access {
	case Runner, RunnerOrCredentials:
		req.Header.Set("Authorization", "Bearer "+ft.runnerToken)
	case AnyUser, Roles:
		req.Header.Set("Authorization", "Bearer "+ft.userToken)
	}
	if header != "" {
		req.Header.Set("Idempotency-Key", header)
		req.Header.Set("X-Exekra-Signature", header)
	}
	req.SetBody(body)
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4321}, nil)
	ft.srv.Handler()(&ctx)
	resp := &fasthttp.Response{}
	ctx.Response.CopyTo(resp)
	return resp
}

// bodySeeds are shapes every body decoder meets in the wild.
var bodySeeds = []string{
	``, `{}`, `null`, `[]`, `"x"`, `1`, `{"a":1}{"b":2}`, `{"email":null}`, "\xff\xfe{}",
	`{"email":"a@b.co","password":"password-123","name":"A","role":"DEVELOPER"}`,
	`{"email":"a@b.co","password":"short"}`, `{"role":"ROOT","email":"a@b.co","password":"password-123"}`,
	`{"name":"wf","description":"d"}`, `{"name":""}`, `{"name":123}`,
	`{"graphJson":"{\"nodes\":[{\"id\":\"a\",\"type\":\"start\"}],\"edges\":[]}","metadata":"m"}`,
	`{"graphJson":"{\"nodes\":[{\"id\":\"a\"}],\"edges\":[{\"source\":\"a\",\"target\":\"b\"}]}"}`,
	`{"graphJson":{"nodes":[],"edges":[]}}`, `{"graphJson":"not json"}`,
	`{"workflowId":"w1","priority":"HIGH","input":{"k":[1,2,3]}}`, `{"workflowId":"w1","priority":"URGENT"}`,
	`{"workflowId":"w1","dedupeKey":"k","input":"str"}`,
	`{"workflowId":"w1","type":"SCHEDULE","config":"{\"cron\":\"*/5 * * * *\",\"timezone\":\"Europe/Paris\"}","enabled":true}`,
	`{"workflowId":"w1","type":"SCHEDULE","config":{"cron":"@every 1s"}}`,
	`{"workflowId":"w1","type":"SCHEDULE","config":"{\"cron\":\"61 * * * *\",\"timezone\":\"Mars/Olympus\"}"}`,
	`{"workflowId":"w1","type":"WEBHOOK","config":"{\"secret\":\"s\",\"rateLimit\":-1}","enabled":false}`,
	`{"workflowId":"w1","type":"WEBHOOK","config":"{","priority":"LOW"}`,
	`{"config":"{\"cron\":\"@hourly\"}","enabled":true}`,
	`{"status":"ONLINE","metrics":{"cpu":1.5,"memoryMB":12},"currentExecutionId":null}`,
	`{"machineKey":"k","machineSecret":"s","metrics":{"cpu":"high"}}`,
	`{"status":"COMPLETED","logs":"done","metrics":{"cpuAvg":1e308},"error":null}`,
	`{"status":"QUEUED"}`, `{"name":"r1","type":"ATTENDED","hostname":"h"}`, `{"name":"r1","type":"ROBOT"}`,
	`{"currentPassword":"x","newPassword":"password-456"}`, `{"disabled":true,"role":"OPERATOR","name":"n"}`,
	`{"license":"x.y.z"}`, `{"a":` + strings.Repeat(`[`, 5000) + `}`, `{"input":1e999}`,
	`{"workflowId":"` + strings.Repeat("w", 4096) + `"}`, `{"email":"\u0000@b.co","password":"\ud800\udc00xxxxxx"}`,
}

// FuzzRequestBodies sends arbitrary bodies (and an arbitrary id in the path
// and in the Idempotency-Key and signature headers) to every route that
// takes a body.
func FuzzRequestBodies(f *testing.F) {
	ft := newFuzzTarget(f)
	if len(ft.routes) == 0 {
		f.Skip("no route takes a body")
	}
	for i, s := range bodySeeds {
		f.Add(uint8(i), "id-1", []byte(s), "")
		f.Add(uint8(i+7), "x", []byte(s), "sha256=00")
	}
	f.Add(uint8(0), "../../etc/passwd", []byte(`{}`), "")
	f.Add(uint8(1), "%00", []byte(`{}`), "\x00")
	f.Fuzz(func(t *testing.T, which uint8, id string, body []byte, header string) {
		if len(body) > MaxBodySize+1024 {
			return
		}
		id = pathSafe(id)
		rt := ft.routes[int(which)%len(ft.routes)]
		// A request that hangs is a failure too: crash the worker so the
		// fuzzer keeps the input.
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("%s %s (id %q) body %.200q: no answer in 10 s", rt.Method, rt.Path, id, body))
		})
		resp := ft.serve(rt, id, body, headerSafe(header))
		watchdog.Stop()
		if code := resp.StatusCode(); code >= 500 || code < 200 {
			ft.mu.Lock()
			logs := ft.logs.String()
			ft.mu.Unlock()
			t.Fatalf("%s %s (id %q) body %q: status %d %s\nlogs:\n%s", rt.Method, rt.Path, id, body, code, resp.Body(), logs)
		}
		if ct := string(resp.Header.ContentType()); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s body %q: content type %q", rt.Method, rt.Path, body, ct)
		}
		if b := resp.Body(); bytes.Contains(b, []byte("goroutine ")) || bytes.Contains(b, []byte(".go:")) {
			t.Fatalf("%s %s: answer leaks internals: %s", rt.Method, rt.Path, b)
		}
	})
}

// pathSafe keeps a fuzzed id to one non-empty path segment.
func pathSafe(id string) string {
	id = strings.Map(func(r rune) rune {
		if r == '/' || r == '?' || r == '#' || r < 0x21 || r == 0x7f || r > 0x7e {
			return -1
		}
		return r
	}, id)
	if id == "" || id == "." || id == ".." {
		return "id"
	}
	return id
}

// headerSafe keeps a fuzzed header value to printable ASCII.
func headerSafe(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, v)
}

// TestFuzzTargetCoversBodyRoutes checks the fuzz reaches every route that
// takes a body, so a new endpoint is fuzzed without editing this file.
func TestFuzzTargetCoversBodyRoutes(t *testing.T) {
	ft := newFuzzTarget(t)
	seen := map[string]bool{}
	for _, rt := range ft.routes {
		seen[rt.Method+" "+rt.Path] = true
		resp := ft.serve(rt, "id-1", []byte(`{}`), "")
		if resp.StatusCode() >= 500 {
			t.Errorf("%s %s with {}: %d %s", rt.Method, rt.Path, resp.StatusCode(), resp.Body())
		}
	}
	for _, want := range []string{"POST /api/auth/register", "POST /api/auth/login", "PATCH /api/users/{id}"} {
		if !seen[want] {
			t.Errorf("fuzz does not reach %s (routes: %v)", want, fmt.Sprint(seen))
		}
	}
}

// querySeeds are query strings list and read endpoints meet.
var querySeeds = []string{
	"", "page=1&limit=50", "page=0", "page=-1", "limit=0", "limit=201", "limit=abc", "page=99999999999999999999",
	"page=1e3", "limit=1.5", "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00.000Z", "from=yesterday",
	"to=2026-13-45T99:99:99Z", "from=2026-01-01", "status=QUEUED", "status=queued", "status=BOGUS", "type=WEBHOOK",
	"type=ROBOT", "workflowId=" + strings.Repeat("w", 2000), "runnerId=%00", "wait=0", "wait=61", "wait=-1",
	"wait=1e9", "page=1&page=2", "limit=%FF", "%zz=1", "status=ONLINE&type=ATTENDED",
}

// FuzzQueryStrings sends arbitrary query strings (and path ids) to every
// GET route: never a panic, never a 5xx, never a hang.
func FuzzQueryStrings(f *testing.F) {
	ft := newFuzzTarget(f)
	var gets []Route
	for _, rt := range ft.srv.Routes() {
		if rt.Method == "GET" && rt.Path != "/api/system/backup" && rt.Path != "/metrics" {
			gets = append(gets, rt)
		}
	}
	sort.Slice(gets, func(i, j int) bool { return gets[i].Path < gets[j].Path })
	for i, q := range querySeeds {
		f.Add(uint8(i), "id-1", q)
	}
	f.Fuzz(func(t *testing.T, which uint8, id, query string) {
		rt := gets[int(which)%len(gets)]
		id = pathSafe(id)
		query = strings.Map(func(r rune) rune {
			if r < 0x21 || r > 0x7e || r == '#' {
				return -1
			}
			return r
		}, query)
		var ctx fasthttp.RequestCtx
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		req.Header.SetMethod("GET")
		req.SetRequestURI(fillPath(rt.Path, id) + "?" + query)
		switch rt.Access {
		case Runner, RunnerOrCredentials:
			req.Header.Set("Authorization", "Bearer "+ft.runnerToken)
		case AnyUser, Roles:
			req.Header.Set("Authorization", "Bearer "+ft.userToken)
		}
		ctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4321}, nil)
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("GET %s?%s: no answer in 10 s", rt.Path, query))
		})
		ft.srv.Handler()(&ctx)
		watchdog.Stop()
		if code := ctx.Response.StatusCode(); code >= 500 || code < 200 {
			ft.mu.Lock()
			logs := ft.logs.String()
			ft.mu.Unlock()
			t.Fatalf("GET %s?%s: status %d %s\nlogs:\n%s", fillPath(rt.Path, id), query, code, ctx.Response.Body(), logs)
		}
	})
}
