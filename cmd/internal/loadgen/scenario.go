package loadgen

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// env is what a scenario works with.
type env struct {
	cfg   config
	t     *target
	rec   *Recorder
	res   *Result
	logf  func(string, ...any)
	runID string
}

// scenario describes one load pattern.
type scenario struct {
	// baselineMethod and baselineBody mirror the scenario's main request.
	baselineMethod string
	baselineBody   []byte
	// workers is the number of concurrent request loops of the load phase.
	workers func(cfg config) int
	// runners is the number of simulated runners (0 = none).
	runners func(cfg config) int
	run     func(e *env) error
	// serveFlags are extra flags of the self-managed server.
	serveFlags []string
}

func fixedConcurrency(cfg config) int { return cfg.concurrency }
func noRunners(config) int            { return 0 }

// runnersOr returns --runners when set, else def.
func runnersOr(cfg config, def int) int {
	if cfg.runners > 0 {
		return cfg.runners
	}
	return def
}

// scenarios maps names to their definitions.
var scenarios = map[string]scenario{
	"baseline": {baselineMethod: "GET", workers: fixedConcurrency, runners: noRunners},
	"poll": {baselineMethod: "POST", workers: fixedConcurrency,
		runners: func(c config) int { return runnersOr(c, c.concurrency) }, run: runPoll},
	"heartbeat": {baselineMethod: "POST", baselineBody: heartbeatBody, workers: fixedConcurrency,
		runners: func(c config) int { return runnersOr(c, c.concurrency) }, run: runHeartbeat},
	"create": {baselineMethod: "POST", baselineBody: []byte(`{"workflowId":"0123456789abcdef0123456789abcdef","priority":"NORMAL"}`),
		workers: fixedConcurrency, runners: noRunners, run: runCreate},
	"webhook": {baselineMethod: "POST", baselineBody: []byte(`{"sender":12,"n":3456}`),
		workers: fixedConcurrency, runners: noRunners, run: runWebhook},
	"lifecycle": {baselineMethod: "POST",
		workers: func(c config) int { return runnersOr(c, 16) },
		runners: func(c config) int { return runnersOr(c, 16) }, run: runLifecycle},
	"backlog": {baselineMethod: "POST", workers: func(config) int { return 1 },
		runners: func(c config) int { return c.runners + 1 }, run: runBacklog},
	"scale": {baselineMethod: "POST",
		workers: func(c config) int { return runnersOr(c, c.scaleRunners) },
		runners: func(c config) int { return runnersOr(c, c.scaleRunners) }, run: runScale},
	"events": {baselineMethod: "GET", workers: fixedConcurrency, runners: noRunners, run: runEvents},
	"outbox": {baselineMethod: "POST", baselineBody: []byte(`{"workflowId":"0123456789abcdef0123456789abcdef","priority":"NORMAL"}`),
		workers: fixedConcurrency, runners: noRunners, run: runOutbox, serveFlags: []string{"--outbound-allow-loopback"}},
}

// baselineCap keeps the baseline's connection count sane for huge runner
// counts, whose real requests are mostly parked long polls anyway.
const baselineCap = 1024

// targetName describes where the load goes.
func targetName(cfg config) string {
	if cfg.url != "" {
		return cfg.url
	}
	return "self-managed " + cfg.bin
}

// runScenario runs the baseline and then the scenario against a fresh
// self-managed server (or the --url one), and returns the checked result.
func runScenario(cfg config, name string, logf func(string, ...any)) Result {
	sc := scenarios[name]
	res := Result{Scenario: name, Target: targetName(cfg), Concurrency: sc.workers(cfg), Runners: sc.runners(cfg)}
	if name == "baseline" {
		res.Target = "in-process fasthttp"
	}
	bDuration := cfg.duration
	if name == "lifecycle" || name == "scale" {
		bDuration = min(bDuration, 10*time.Second)
	}
	// The baseline is always time-bound: a few thousand requests (--requests)
	// are too few to measure a ceiling.
	bShape := loadShape{Workers: min(res.Concurrency, baselineCap), Duration: bDuration}
	if name == "baseline" {
		bShape.Requests = cfg.requests // the baseline scenario itself honours --requests
	}
	logf("%s: baseline, %d workers for %s", name, bShape.Workers, bShape.Duration)
	b, err := runBaseline(bShape, sc.baselineMethod, sc.baselineBody, cfg.timeout)
	if err != nil {
		res.Error = err.Error()
		res.finish()
		return res
	}
	res.Baseline = b
	if name == "baseline" {
		res.Concurrency = b.Concurrency
		res.DurationS = b.DurationS
		res.Summary = Summary{Requests: b.Requests, RPS: b.RPS, P50ms: b.P50ms, P99ms: b.P99ms, MaxMs: b.MaxMs, Errors: map[string]int64{}}
		if b.Errors > 0 {
			res.Errors["baseline"] = b.Errors
		}
		res.check("baseline answered every request", b.Errors == 0 && b.Requests > 0, "%d requests, %d errors", b.Requests, b.Errors)
		res.finish()
		return res
	}

	t, closeTarget, err := openTarget(cfg, max(res.Concurrency, res.Runners)+64, logf, sc.serveFlags...)
	if err != nil {
		res.Error = err.Error()
		res.finish()
		return res
	}
	e := &env{cfg: cfg, t: t, rec: NewRecorder(), res: &res, logf: logf, runID: randomHex(4)}
	logf("%s: running against %s", name, res.Target)
	if err := sc.run(e); err != nil {
		res.Error = err.Error()
	} else {
		res.check("no request answered an error or failed", len(res.Errors) == 0, "%s", formatErrors(res.Errors))
	}
	if t.managed {
		// The server's peak resident memory over the whole run (setup,
		// load and checks), read before it stops.
		if peak, err := peakRSSMiB(t.pid); err == nil {
			if res.Extra == nil {
				res.Extra = map[string]float64{}
			}
			res.Extra["server peak RSS MiB"] = peak
			if cpu, err := cpuSeconds(t.pid); err == nil {
				// The whole run's server CPU (setup included): with the
				// machine shared, rates move with the load but this does not.
				res.Extra["server CPU s"] = cpu
			}
			if name == "scale" {
				res.check("server peak resident memory under 512 MiB", peak < 512, "%.0f MiB with %d runners", peak, res.Runners)
			}
		}
	}
	if err := closeTarget(); err != nil {
		res.check("server stops cleanly on SIGTERM", false, "%v", err)
	} else if t.managed {
		res.check("server stops cleanly on SIGTERM", true, "")
	}
	// A second baseline after the run: on a shared machine the ceiling moves,
	// and the ratio uses the higher of the two so that a dip in one of them
	// cannot flatter the scenario.
	if res.Error == "" {
		logf("%s: baseline again", name)
		if after, err := runBaseline(bShape, sc.baselineMethod, sc.baselineBody, cfg.timeout); err == nil {
			res.Baseline = combineBaselines(res.Baseline, after)
		}
	}
	res.finish()
	return res
}

// combineBaselines keeps the faster of two baseline runs and remembers both
// rates.
func combineBaselines(a, b BaselineResult) BaselineResult {
	runs := []float64{a.RPS, b.RPS}
	best := a
	if b.RPS > a.RPS {
		best = b
	}
	best.RPSRuns = runs
	return best
}

// openTarget starts a managed server (or connects to --url) and returns it
// with an admin session, and a function that stops whatever it started.
func openTarget(cfg config, maxConns int, logf func(string, ...any), serveFlags ...string) (*target, func() error, error) {
	if cfg.url != "" {
		addr, useTLS, err := parseTarget(cfg.url)
		if err != nil {
			return nil, nil, err
		}
		t := &target{client: NewClient(addr, useTLS, maxConns, cfg.timeout)}
		closeFn := func() error { t.client.Close(); return nil }
		if err := t.waitHealthy(10*time.Second, nil); err != nil {
			return nil, nil, err
		}
		if cfg.token != "" {
			t.adminToken = cfg.token
		} else if err := t.login(cfg.email, cfg.password); err != nil {
			return nil, nil, err
		}
		return t, closeFn, nil
	}
	m, license, err := startManagedServer(cfg.bin, serveFlags...)
	if err != nil {
		return nil, nil, err
	}
	t := &target{client: NewClient(m.addr, false, maxConns, cfg.timeout), managed: true, pid: m.cmd.Process.Pid, server: m}
	closeFn := func() error { t.client.Close(); return m.Close() }
	fail := func(err error) (*target, func() error, error) {
		err = fmt.Errorf("%w; server log: %s", err, m.logTail(5))
		_ = closeFn()
		return nil, nil, err
	}
	if err := t.waitHealthy(30*time.Second, m.alive); err != nil {
		return fail(err)
	}
	if err := t.activateAndBootstrap(license, loadEmail, loadPassword); err != nil {
		return fail(err)
	}
	logf("managed server on %s (data in %s)", m.addr, m.dir)
	return t, closeFn, nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// prefix names objects this run creates, so repeated runs never collide.
func (e *env) prefix(kind string) string { return "load-" + kind + "-" + e.runID }

// loadShape is the shape of the scenario's main load phase.
func (e *env) loadShape(workers int) loadShape {
	d := e.cfg.duration
	if e.cfg.requests > 0 && !e.cfg.durationSet {
		d = 10 * time.Minute // --requests alone: the count ends the run, this is a backstop
	}
	return loadShape{Workers: workers, Duration: d, Requests: e.cfg.requests}
}

// summarize stores the load phase's figures in the result.
func (e *env) summarize(rec *Recorder, elapsed time.Duration) {
	e.res.Summary = rec.Summarize(elapsed)
	e.res.DurationS = elapsed.Seconds()
}

// extra records a derived figure.
func (e *env) extra(name string, v float64) {
	if e.res.Extra == nil {
		e.res.Extra = map[string]float64{}
	}
	e.res.Extra[name] = v
}

// setupRunners registers n runners and sends each a first heartbeat so the
// server sees them ONLINE.
func (e *env) setupRunners(n int, kind string) ([]runnerCred, error) {
	e.logf("%s: registering %d runners", kind, n)
	creds, err := e.t.registerRunners(n, e.prefix(kind), 16, e.logf)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var firstErr error
	runLoad(loadShape{Workers: 16, Duration: 10 * time.Minute, Requests: int64(n)}, func(_ int, seq int64) {
		if _, err := e.t.heartbeat(nil, creds[seq]); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	})
	if firstErr != nil {
		return nil, fmt.Errorf("first heartbeat: %w", firstErr)
	}
	return creds, nil
}

// executionStatuses are the stats counters and the list filter values.
var executionStatuses = []string{"QUEUED", "ASSIGNED", "RUNNING", "COMPLETED", "FAILED", "STOPPED"}

// checkStatsAgree compares GET /api/executions/stats with the list totals.
func (e *env) checkStatsAgree() {
	st, err := e.t.stats()
	if err != nil {
		e.res.check("stats agree with the execution list", false, "%v", err)
		return
	}
	var mismatches []string
	var sum int64
	for _, s := range executionStatuses {
		n, err := e.t.listTotal("/api/executions?status=" + s)
		if err != nil {
			e.res.check("stats agree with the execution list", false, "%v", err)
			return
		}
		key := strings.ToLower(s)
		sum += st[key]
		if n != st[key] {
			mismatches = append(mismatches, fmt.Sprintf("%s: stats %d, list %d", key, st[key], n))
		}
	}
	all, err := e.t.listTotal("/api/executions")
	if err != nil {
		e.res.check("stats agree with the execution list", false, "%v", err)
		return
	}
	if all != st["total"] {
		mismatches = append(mismatches, fmt.Sprintf("total: stats %d, list %d", st["total"], all))
	}
	if sum != st["total"] {
		mismatches = append(mismatches, fmt.Sprintf("total %d != sum of statuses %d", st["total"], sum))
	}
	e.res.check("stats agree with the execution list", len(mismatches) == 0, "%s",
		ifEmpty(strings.Join(mismatches, "; "), fmt.Sprintf("total %d", st["total"])))
}

func ifEmpty(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
