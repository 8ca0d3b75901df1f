package refrunner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test credentials of the fake orchestrator.
const (
	testKey    = "FC-0123456789abcdef0123456789abcdef"
	testSecret = "s3cr3t-5ecret-0f-the-machine-do-not-log-me-0123456789abcdef012345"
)

// fakeOrchestrator implements the runner side of the API in memory.
type fakeOrchestrator struct {
	t   *testing.T
	srv *httptest.Server

	mu            sync.Mutex
	tokenTTL      time.Duration
	expirySkew    time.Duration // subtracted from the advertised expiresAt
	tokens        map[string]time.Time
	issued        []string
	authCount     int
	unauthorized  int
	down          bool // answer 503 to everything
	served503     int
	failStatus    int // answer 503 to this many status reports
	heartbeats    []heartbeatRequest
	polls         int
	queue         []Assignment
	handOver      map[string]map[string]AssetValue // assets answered beside an execution (top level)
	assigned      map[string]bool
	statuses      map[string]string
	reports       map[string][]statusReport
	stopRequested map[string]bool
}

// newFakeOrchestrator starts a fake on 127.0.0.1 that is closed with the test.
func newFakeOrchestrator(t *testing.T) *fakeOrchestrator {
	t.Helper()
	f := newFakeHandler(t)
	f.srv = httptest.NewServer(f.mux())
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeHandler returns a fake whose server the caller starts.
func newFakeHandler(t *testing.T) *fakeOrchestrator {
	return &fakeOrchestrator{
		t:             t,
		tokenTTL:      24 * time.Hour,
		tokens:        map[string]time.Time{},
		assigned:      map[string]bool{},
		statuses:      map[string]string{},
		reports:       map[string][]statusReport{},
		stopRequested: map[string]bool{},
	}
}

func (f *fakeOrchestrator) mux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/runners/authenticate", f.authenticate)
	mux.HandleFunc("POST /api/runners/heartbeat", f.authed(f.heartbeat))
	mux.HandleFunc("GET /api/runners/poll", f.authed(f.poll))
	mux.HandleFunc("POST /api/executions/{id}/status", f.authed(f.status))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down := f.down
		if down {
			f.served503++
		}
		f.mu.Unlock()
		if down {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "down", "code": "SYSTEM_NOT_READY"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeOrchestrator) authenticate(w http.ResponseWriter, r *http.Request) {
	var body struct{ MachineKey, MachineSecret string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, 400, map[string]string{"error": "bad json", "code": "VALIDATION_ERROR"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if body.MachineKey != testKey || body.MachineSecret != testSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid machine credentials", "code": "UNAUTHORIZED"})
		return
	}
	f.authCount++
	tok := fmt.Sprintf("runner-token-%d-never-log-me", f.authCount)
	exp := time.Now().Add(f.tokenTTL)
	f.tokens[tok] = exp
	f.issued = append(f.issued, tok)
	writeJSON(w, 200, map[string]any{
		"token":     tok,
		"expiresAt": exp.Add(-f.expirySkew).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"runner":    map[string]string{"id": "runner-1", "name": "test-runner", "type": "UNATTENDED"},
	})
}

func (f *fakeOrchestrator) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		exp, ok := f.tokens[tok]
		valid := ok && time.Now().Before(exp)
		if !valid {
			f.unauthorized++
		}
		f.mu.Unlock()
		if !valid {
			writeJSON(w, 401, map[string]string{"error": "invalid token", "code": "UNAUTHORIZED"})
			return
		}
		h(w, r)
	}
}

// stopIDsLocked lists the running executions asked to stop.
func (f *fakeOrchestrator) stopIDsLocked() []string {
	ids := []string{}
	for id := range f.stopRequested {
		if f.statuses[id] == StatusRunning {
			ids = append(ids, id)
		}
	}
	return ids
}

func (f *fakeOrchestrator) heartbeat(w http.ResponseWriter, r *http.Request) {
	var hb heartbeatRequest
	if err := json.NewDecoder(r.Body).Decode(&hb); err != nil {
		writeJSON(w, 400, map[string]string{"error": "bad json", "code": "VALIDATION_ERROR"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heartbeats = append(f.heartbeats, hb)
	writeJSON(w, 200, map[string]any{"status": "ONLINE", "ttlSeconds": 120, "stopExecutionIds": f.stopIDsLocked()})
}

func (f *fakeOrchestrator) poll(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	for _, ex := range f.queue {
		if !f.assigned[ex.ID] {
			f.assigned[ex.ID] = true
			f.statuses[ex.ID] = "ASSIGNED"
			ans := map[string]any{"hasWork": true, "execution": ex, "stopExecutionIds": f.stopIDsLocked()}
			if a, ok := f.handOver[ex.ID]; ok {
				ans["assets"] = a
			}
			writeJSON(w, 200, ans)
			return
		}
	}
	writeJSON(w, 200, map[string]any{"hasWork": false, "stopExecutionIds": f.stopIDsLocked()})
}

func (f *fakeOrchestrator) status(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var rep statusReport
	if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
		writeJSON(w, 400, map[string]string{"error": "bad json", "code": "VALIDATION_ERROR"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.statuses[id]
	if !ok {
		writeJSON(w, 404, map[string]string{"error": "no such execution", "code": "NOT_FOUND"})
		return
	}
	if f.failStatus > 0 && isTerminal(rep.Status) {
		f.failStatus--
		writeJSON(w, 503, map[string]string{"error": "busy", "code": "INTERNAL"})
		return
	}
	switch {
	case cur == "ASSIGNED" && (rep.Status == StatusRunning || isTerminal(rep.Status)),
		cur == StatusRunning && (rep.Status == StatusRunning || isTerminal(rep.Status)):
		f.statuses[id] = rep.Status
	case isTerminal(cur) && cur == rep.Status:
		// idempotent repeat
	default:
		writeJSON(w, 409, map[string]string{"error": cur + " -> " + rep.Status, "code": "INVALID_TRANSITION"})
		return
	}
	f.reports[id] = append(f.reports[id], rep)
	writeJSON(w, 200, map[string]any{"execution": map[string]string{"id": id, "status": f.statuses[id]}})
}

func isTerminal(s string) bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusStopped
}

// enqueue adds an execution of graph and returns its id.
func (f *fakeOrchestrator) enqueue(graph string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("exec-%d", len(f.queue)+1)
	raw, _ := json.Marshal(graph)
	f.queue = append(f.queue, Assignment{ID: id, WorkflowID: "wf-1", WorkflowName: "Invoices", VersionID: "v-1",
		GraphJSON: raw, Input: json.RawMessage(`{"customer":42}`)})
	return id
}

// requestStop marks id for stopping, as POST /api/executions/:id/stop does for a RUNNING one.
func (f *fakeOrchestrator) requestStop(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopRequested[id] = true
}

// with runs fn under the fake's lock.
func (f *fakeOrchestrator) with(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// status returns the recorded status of id.
func (f *fakeOrchestrator) statusOf(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statuses[id]
}

// reportsOf returns a copy of the reports received for id.
func (f *fakeOrchestrator) reportsOf(id string) []statusReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]statusReport(nil), f.reports[id]...)
}

// allLogs concatenates the logs of every report for id.
func (f *fakeOrchestrator) allLogs(id string) string {
	var b strings.Builder
	for _, rep := range f.reportsOf(id) {
		b.WriteString(rep.Logs)
	}
	return b.String()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig is a runner config with intervals short enough for tests.
func testConfig(url string, logs *syncBuffer) Config {
	return Config{
		URL:               url,
		MachineKey:        testKey,
		MachineSecret:     testSecret,
		HeartbeatInterval: 100 * time.Millisecond,
		StopCheckInterval: 50 * time.Millisecond,
		PollWait:          0,
		IdlePollDelay:     20 * time.Millisecond,
		BackoffMin:        10 * time.Millisecond,
		BackoffMax:        100 * time.Millisecond,
		RequestTimeout:    2 * time.Second,
		SampleInterval:    20 * time.Millisecond,
		ShutdownGrace:     2 * time.Second,
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// runnerHandle is a runner started by a test.
type runnerHandle struct {
	cancel context.CancelFunc
	done   chan error
}

// stop cancels the runner and returns what Run returned.
func (h runnerHandle) stop(t *testing.T) error {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("runner did not stop within 10s of cancellation")
		return nil
	}
}

// startRunner runs Run(cfg) in the background until the test ends.
func startRunner(t *testing.T, cfg Config) runnerHandle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := runnerHandle{cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- Run(ctx, cfg) }()
	t.Cleanup(func() { _ = h.stop(t) })
	return h
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTerminal waits for id to reach a terminal status and returns the final report.
func waitTerminal(t *testing.T, f *fakeOrchestrator, id string) statusReport {
	t.Helper()
	waitFor(t, 10*time.Second, "a terminal status for "+id, func() bool { return isTerminal(f.statusOf(id)) })
	reps := f.reportsOf(id)
	return reps[len(reps)-1]
}

// graphJSON builds graph text from nodes in order, chained by edges in order.
func graphJSON(t *testing.T, nodes ...map[string]any) string {
	t.Helper()
	var edges []map[string]string
	for i := 1; i < len(nodes); i++ {
		edges = append(edges, map[string]string{"source": nodes[i-1]["id"].(string), "target": nodes[i]["id"].(string)})
	}
	raw, err := json.Marshal(map[string]any{"nodes": nodes, "edges": edges})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// node is a graph node literal.
func node(id, typ string, params map[string]any) map[string]any {
	n := map[string]any{"id": id, "type": typ}
	if params != nil {
		n["params"] = params
	}
	return n
}

// freeAddr returns a 127.0.0.1 address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// discardLogger is a logger that drops everything.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
