package refrunner

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// logLine is the shape of every execution log line.
var logLine = regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] `)

func TestHappyPathWithMetrics(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
		}
	}))
	defer target.Close()
	f := newFakeOrchestrator(t)
	logs := &syncBuffer{}
	startRunner(t, testConfig(f.srv.URL, logs))
	id := f.enqueue(graphJSON(t,
		node("s", "start", nil),
		node("hello", "log", map[string]any{"message": "hello from the graph"}),
		node("wait", "delay", map[string]any{"ms": 150}),
		node("call", "http", map[string]any{"method": "GET", "url": target.URL + "/ok"}),
		node("call201", "http", map[string]any{"method": "post", "url": target.URL + "/ok", "expectStatus": "200"}),
		node("e", "end", nil),
	))

	final := waitTerminal(t, f, id)
	if final.Status != StatusCompleted || final.Error != "" {
		t.Fatalf("final report = %+v, want COMPLETED without error", final)
	}
	reps := f.reportsOf(id)
	if reps[0].Status != StatusRunning {
		t.Errorf("first report is %s, want RUNNING", reps[0].Status)
	}
	if len(reps) < 3 {
		t.Errorf("got %d reports, want RUNNING, at least one progress report during the delay, then COMPLETED", len(reps))
	}
	all := f.allLogs(id)
	for _, line := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if !logLine.MatchString(line) {
			t.Errorf("log line %q lacks the [RFC 3339 ms] prefix", line)
		}
	}
	wantOrder := []string{"] hello from the graph\n", "Waiting 150 ms", "HTTP GET " + target.URL + "/ok -> 200 OK", "HTTP POST", "Execution completed"}
	pos := 0
	for _, w := range wantOrder {
		i := strings.Index(all[pos:], w)
		if i < 0 {
			t.Fatalf("logs lack %q after offset %d:\n%s", w, pos, all)
		}
		pos += i
	}
	if final.Metrics == nil {
		t.Fatal("final report carries no metrics")
	}
	if runtime.GOOS == "linux" && (final.Metrics.MemPeakMB <= 0 || final.Metrics.MemAvgMB <= 0 || final.Metrics.MemPeakMB < final.Metrics.MemAvgMB) {
		t.Errorf("memory metrics look wrong: %+v", *final.Metrics)
	}
	if final.Metrics.CPUPeak < final.Metrics.CPUAvg || final.Metrics.CPUPeak > 100 {
		t.Errorf("cpu metrics look wrong: %+v", *final.Metrics)
	}
	var hb heartbeatRequest
	f.with(func() { hb = f.heartbeats[0] })
	if runtime.GOOS == "linux" && (hb.Metrics.MemTotalMB <= 0 || hb.Metrics.MemUsedMB <= 0 || hb.Metrics.DiskTotalMB <= 0 ||
		hb.Metrics.MemUsage <= 0 || hb.Metrics.MemUsage > 100) {
		t.Errorf("heartbeat metrics look wrong: %+v", hb.Metrics)
	}
	if ip := net.ParseIP(hb.IPAddress); hb.IPAddress != "" && (ip == nil || ip.IsLoopback()) {
		t.Errorf("heartbeat ipAddress = %q, want a non-loopback address or empty", hb.IPAddress)
	}
	assertNoSecretsLogged(t, f, logs)
}

// assertNoSecretsLogged fails when the runner's log holds the machine secret or a token.
func assertNoSecretsLogged(t *testing.T, f *fakeOrchestrator, logs *syncBuffer) {
	t.Helper()
	text := logs.String()
	if text == "" {
		t.Fatal("the runner logged nothing at debug level")
	}
	if strings.Contains(text, testSecret) {
		t.Error("the runner logged its machine secret")
	}
	var issued []string
	f.with(func() { issued = append(issued, f.issued...) })
	for _, tok := range issued {
		if strings.Contains(text, tok) {
			t.Errorf("the runner logged a token")
		}
	}
}

func TestFailNode(t *testing.T) {
	f := newFakeOrchestrator(t)
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t,
		node("s", "start", nil),
		node("boom", "fail", map[string]any{"message": "invoice 17 is malformed"}),
		node("after", "log", map[string]any{"message": "must not run"}),
	))
	final := waitTerminal(t, f, id)
	if final.Status != StatusFailed || final.Error != "invoice 17 is malformed" {
		t.Fatalf("final report = %+v, want FAILED with the node's message", final)
	}
	if final.Metrics == nil {
		t.Error("a FAILED report should carry metrics too")
	}
	if all := f.allLogs(id); strings.Contains(all, "must not run") || !strings.Contains(all, "Execution failed: invoice 17 is malformed") {
		t.Errorf("logs:\n%s", all)
	}
}

func TestInvalidGraphsFailBeforeRunningAnything(t *testing.T) {
	f := newFakeOrchestrator(t)
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	cases := []struct {
		name, graph, wantErr string
	}{
		{"unknown type", graphJSON(t, node("a", "log", map[string]any{"message": "ran"}), node("b", "teleport", nil)), `unknown node type "teleport"`},
		{"cycle", `{"nodes":[{"id":"a","type":"log","params":{"message":"ran"}},{"id":"b","type":"end"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"a"}]}`, "cycle"},
		{"bad delay", graphJSON(t, node("a", "log", map[string]any{"message": "ran"}), node("d", "delay", map[string]any{"ms": "soon"})), "ms"},
		{"not json", `{"nodes":`, "graphJson"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := f.enqueue(tc.graph)
			final := waitTerminal(t, f, id)
			if final.Status != StatusFailed || !strings.Contains(final.Error, tc.wantErr) {
				t.Fatalf("final report = %+v, want FAILED mentioning %q", final, tc.wantErr)
			}
			if strings.Contains(f.allLogs(id), "] ran\n") {
				t.Error("a node ran although the graph is invalid")
			}
		})
	}
}

func TestHTTPNodeUnexpectedStatusFails(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer target.Close()
	f := newFakeOrchestrator(t)
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t, node("call", "http", map[string]any{"url": target.URL})))
	final := waitTerminal(t, f, id)
	if final.Status != StatusFailed || !strings.Contains(final.Error, "answered 418, expected a 2xx status") {
		t.Fatalf("final report = %+v", final)
	}
	id = f.enqueue(graphJSON(t, node("call", "http", map[string]any{"url": target.URL, "expectStatus": 418})))
	if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
		t.Fatalf("expectStatus 418 against a 418: final report = %+v", final)
	}
}

func TestShellRefusedWithoutAllowShell(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	f := newFakeOrchestrator(t)
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t,
		node("before", "log", map[string]any{"message": "ran"}),
		node("sh", "shell", map[string]any{"command": "touch " + marker}),
	))
	final := waitTerminal(t, f, id)
	if final.Status != StatusFailed || !strings.Contains(final.Error, "shell nodes are disabled") {
		t.Fatalf("final report = %+v, want FAILED saying shell is disabled", final)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the shell command ran (stat: %v)", err)
	}
	if strings.Contains(f.allLogs(id), "] ran\n") {
		t.Error("a node ran although the graph holds a refused shell node")
	}
}

func TestShellAllowed(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	t.Setenv("EXEKRA_MACHINE_SECRET", testSecret)
	f := newFakeOrchestrator(t)
	cfg := testConfig(f.srv.URL, &syncBuffer{})
	cfg.AllowShell = true
	startRunner(t, cfg)

	id := f.enqueue(graphJSON(t, node("sh", "shell", map[string]any{"command": "echo hi; echo \"secret=$EXEKRA_MACHINE_SECRET exec=$EXEKRA_EXECUTION_ID\""})))
	final := waitTerminal(t, f, id)
	if final.Status != StatusCompleted {
		t.Fatalf("final report = %+v, want COMPLETED", final)
	}
	all := f.allLogs(id)
	if !strings.Contains(all, "] hi\n") {
		t.Errorf("logs lack the command's output:\n%s", all)
	}
	if strings.Contains(all, testSecret) || !strings.Contains(all, "secret= exec="+id) {
		t.Errorf("shell environment is wrong (EXEKRA_ variables must be scrubbed, execution facts added):\n%s", all)
	}

	id = f.enqueue(graphJSON(t, node("sh", "shell", map[string]any{"command": "echo oops >&2; exit 3"})))
	final = waitTerminal(t, f, id)
	if final.Status != StatusFailed || !strings.Contains(final.Error, "exited with status 3") || !strings.Contains(f.allLogs(id), "] oops\n") {
		t.Fatalf("failing command: final report = %+v, logs:\n%s", final, f.allLogs(id))
	}
}

func TestStopDuringShellKillsTheCommand(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	f := newFakeOrchestrator(t)
	cfg := testConfig(f.srv.URL, &syncBuffer{})
	cfg.AllowShell = true
	startRunner(t, cfg)
	id := f.enqueue(graphJSON(t, node("sh", "shell", map[string]any{"command": "sleep 30; echo late"})))
	waitFor(t, 5*time.Second, "RUNNING", func() bool { return f.statusOf(id) == StatusRunning })
	f.requestStop(id)
	start := time.Now()
	if final := waitTerminal(t, f, id); final.Status != StatusStopped {
		t.Fatalf("final report = %+v, want STOPPED", final)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping a shell node took %v", d)
	}
}

func TestStopRequestDuringDelay(t *testing.T) {
	f := newFakeOrchestrator(t)
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t,
		node("s", "start", nil),
		node("long", "delay", map[string]any{"ms": 60000}),
		node("after", "log", map[string]any{"message": "must not run"}),
	))
	waitFor(t, 5*time.Second, "RUNNING", func() bool { return f.statusOf(id) == StatusRunning })
	f.requestStop(id)
	final := waitTerminal(t, f, id)
	if final.Status != StatusStopped || final.Error != "" {
		t.Fatalf("final report = %+v, want STOPPED", final)
	}
	if all := f.allLogs(id); strings.Contains(all, "must not run") || !strings.Contains(all, "stopped on request") {
		t.Errorf("logs:\n%s", all)
	}
	// The runner goes back to work afterwards.
	id2 := f.enqueue(graphJSON(t, node("s", "start", nil)))
	if final := waitTerminal(t, f, id2); final.Status != StatusCompleted {
		t.Fatalf("next execution: %+v", final)
	}
}

func TestReauthenticatesOn401(t *testing.T) {
	f := newFakeOrchestrator(t)
	logs := &syncBuffer{}
	startRunner(t, testConfig(f.srv.URL, logs))
	waitFor(t, 5*time.Second, "first heartbeat", func() bool {
		var n int
		f.with(func() { n = len(f.heartbeats) })
		return n > 0
	})
	f.with(func() { clear(f.tokens) }) // revoke every token
	id := f.enqueue(graphJSON(t, node("hello", "log", map[string]any{"message": "after re-auth"})))
	if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
		t.Fatalf("final report = %+v", final)
	}
	f.with(func() {
		if f.authCount < 2 || f.unauthorized == 0 {
			t.Errorf("authCount = %d, unauthorized = %d; want a 401 followed by re-authentication", f.authCount, f.unauthorized)
		}
	})
	assertNoSecretsLogged(t, f, logs)
}

func TestRenewsTokenBeforeExpiry(t *testing.T) {
	f := newFakeOrchestrator(t)
	f.tokenTTL = 400 * time.Millisecond
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	waitFor(t, 5*time.Second, "several authentications", func() bool {
		var n int
		f.with(func() { n = f.authCount })
		return n >= 3
	})
	id := f.enqueue(graphJSON(t, node("s", "start", nil)))
	if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
		t.Fatalf("final report = %+v", final)
	}
}

func TestBacksOffWhileServerFailsThenRecovers(t *testing.T) {
	f := newFakeOrchestrator(t)
	f.down = true
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	time.Sleep(700 * time.Millisecond)
	var failures int
	f.with(func() { failures = f.served503; f.down = false })
	// Backoff 10ms doubling to 100ms: about ten attempts in 700ms; a tight loop would make thousands.
	if failures == 0 || failures > 40 {
		t.Errorf("%d requests while the server answered 503 for 700ms; want a handful", failures)
	}
	id := f.enqueue(graphJSON(t, node("s", "start", nil)))
	if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
		t.Fatalf("final report = %+v", final)
	}
}

func TestUnreachableServerThenUp(t *testing.T) {
	addr := freeAddr(t)
	f := newFakeHandler(t)
	logs := &syncBuffer{}
	startRunner(t, testConfig("http://"+addr, logs))
	waitFor(t, 10*time.Second, "a few refused connections", func() bool { return strings.Count(logs.String(), "retrying") >= 3 })
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	f.srv = httptest.NewUnstartedServer(f.mux())
	f.srv.Listener.Close()
	f.srv.Listener = l
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	id := f.enqueue(graphJSON(t, node("hello", "log", map[string]any{"message": "back online"})))
	if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
		t.Fatalf("final report = %+v", final)
	}
}

func TestFinalReportRetriedUntilDelivered(t *testing.T) {
	f := newFakeOrchestrator(t)
	f.failStatus = 3
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t, node("hello", "log", map[string]any{"message": "persist me"})))
	final := waitTerminal(t, f, id)
	if final.Status != StatusCompleted || !strings.Contains(f.allLogs(id), "persist me") {
		t.Fatalf("final report = %+v", final)
	}
}

func TestShutdownMidRunReportsFailed(t *testing.T) {
	f := newFakeOrchestrator(t)
	h := startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t, node("long", "delay", map[string]any{"ms": 60000})))
	waitFor(t, 5*time.Second, "RUNNING", func() bool { return f.statusOf(id) == StatusRunning })
	if err := h.stop(t); err != nil {
		t.Fatalf("Run returned %v after cancellation, want nil", err)
	}
	reps := f.reportsOf(id)
	final := reps[len(reps)-1]
	if final.Status != StatusFailed || !strings.Contains(final.Error, "shut down") {
		t.Fatalf("final report = %+v, want FAILED because the runner shut down", final)
	}
}

func TestRejectedCredentialsEndRun(t *testing.T) {
	f := newFakeOrchestrator(t)
	cfg := testConfig(f.srv.URL, &syncBuffer{})
	cfg.MachineSecret = "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Run(ctx, cfg); !errors.Is(err, ErrCredentialsRejected) {
		t.Fatalf("Run = %v, want ErrCredentialsRejected", err)
	}
}

func TestExpiryInThePastByOurClockDoesNotLoop(t *testing.T) {
	f := newFakeOrchestrator(t)
	f.expirySkew = 48 * time.Hour // the server's clock is two days behind ours
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t, node("hello", "log", map[string]any{"message": "skewed"})))
	if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
		t.Fatalf("final report = %+v", final)
	}
	// A few more calls after it: none of them authenticates again.
	var polls int
	f.with(func() { polls = f.polls })
	waitFor(t, 10*time.Second, "more polls", func() bool {
		var n int
		f.with(func() { n = f.polls })
		return n >= polls+5
	})
	f.with(func() {
		if f.authCount != 1 {
			t.Errorf("authenticated %d times; a past expiresAt must not trigger re-authentication on every call", f.authCount)
		}
	})
}
