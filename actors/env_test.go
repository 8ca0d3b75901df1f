package actors

import (
	"crypto/ed25519"
	"crypto/rand"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// The actor tests' one environment: execEnv (a real store on a temp dir and
// the whole actor tree), testClock (a settable clock with fake timers),
// eventually and wantCode. Tests that drive one actor alone (triggers,
// dispatcher) use testClock with their own small harness.

// testDate is the clock's start where a test wants a fixed date.
var testDate = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// testClock is a settable clock. Its AfterFunc (Config.AfterFunc) arms
// fake timers that Advance fires when they fall due, so a test never waits
// for a real minute; a tree not given it arms real timers.
type testClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*testTimer
}

type testTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// AfterFunc arms a fake timer.
func (c *testClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &testTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// pending counts live fake timers.
func (c *testClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// Advance moves the clock and runs the fake timers that fall due.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*testTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// execEnv is a real store on a temp dir and the whole actor tree on a
// settable clock.
type execEnv struct {
	t     *testing.T
	dir   string
	store *storage.Store
	sys   *System
	clock *testClock
	pub   ed25519.PublicKey
	priv  ed25519.PrivateKey
	// tune adjusts the Config of every start.
	tune []func(*Config)
	// fakeTimers arms the tree's timers on the clock (Config.AfterFunc):
	// they fire only when the test advances it.
	fakeTimers bool
}

// envOption adjusts an environment before its first start.
type envOption func(*execEnv)

// withConfig adjusts the Config of every start.
func withConfig(f func(*Config)) envOption {
	return func(e *execEnv) { e.tune = append(e.tune, f) }
}

// withFakeTimers arms the tree's timers on the test clock.
func withFakeTimers(e *execEnv) { e.fakeTimers = true }

// newExecEnv starts the tree now with a license without limits.
func newExecEnv(t *testing.T) *execEnv {
	t.Helper()
	return newTestEnv(t, time.Now().UTC().Truncate(time.Millisecond), messages.LicenseLimits{}, 72*time.Hour)
}

// newTestEnv starts the tree at clock time now and activates a license
// with limits, valid for valid.
func newTestEnv(t *testing.T, now time.Time, limits messages.LicenseLimits, valid time.Duration, opts ...envOption) *execEnv {
	t.Helper()
	e := startTestEnv(t, now, opts...)
	if _, err := messages.Ask(e.sys, &messages.ActivateLicense{Text: e.license("a@example.com", valid, 0, limits)}); err != nil {
		t.Fatal(err)
	}
	return e
}

// startTestEnv starts the tree at clock time now without a license.
func startTestEnv(t *testing.T, now time.Time, opts ...envOption) *execEnv {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	e := &execEnv{t: t, dir: t.TempDir(), clock: &testClock{now: now}, pub: pub, priv: priv}
	for _, o := range opts {
		o(e)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// license signs a license for email from now, valid for valid, with grace
// days and limits.
func (e *execEnv) license(email string, valid time.Duration, grace int, limits messages.LicenseLimits) string {
	e.t.Helper()
	now := e.clock.Now()
	text, err := messages.SignLicense(messages.License{ID: messages.NewID(now), Email: email, Organization: "T",
		IssuedAt: now.Unix(), ExpiresAt: now.Add(valid).Unix(), GraceDays: grace, Limits: limits}, e.priv)
	if err != nil {
		e.t.Fatal(err)
	}
	return text
}

func (e *execEnv) start() {
	e.t.Helper()
	st, err := storage.Open(e.dir, storage.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := Config{LicenseKey: e.pub, Now: e.clock.Now, RunnerTTL: 2 * time.Minute,
		OfflineGrace: time.Minute, QueueTimeout: 30 * time.Minute, StaleCheckInterval: 10 * time.Millisecond}
	if e.fakeTimers {
		cfg.AfterFunc = e.clock.AfterFunc
	}
	for _, f := range e.tune {
		f(&cfg)
	}
	sys, err := Start(cfg, st)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store, e.sys = st, sys
}

func (e *execEnv) stop() {
	if e.sys != nil {
		e.sys.Stop()
		_ = e.store.Close()
		e.sys = nil
	}
}

func (e *execEnv) restart() { e.stop(); e.start() }

// ask asks the tree untyped (tests that check error answers).
func (e *execEnv) ask(cmd any) (any, error) { return e.sys.Ask(cmd) }

// workflow creates a workflow with a published version.
func (e *execEnv) workflow(name string) string {
	e.t.Helper()
	now := e.clock.Now()
	w := &messages.Workflow{ID: messages.NewID(now), Name: name, CreatedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now)}
	if err := e.store.CreateWorkflow(w, nil); err != nil {
		e.t.Fatal(err)
	}
	v := &messages.Version{ID: messages.NewID(now), WorkflowID: w.ID, Status: messages.VersionDraft,
		GraphJSON: `{"nodes":[{"id":"a","type":"start"}],"edges":[]}`, CreatedAt: messages.TimeOf(now)}
	if _, err := e.store.SaveDraft(v, nil); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.PublishLatest(w.ID, messages.TimeOf(now), nil); err != nil {
		e.t.Fatal(err)
	}
	return w.ID
}

func (e *execEnv) create(wf string, p messages.Priority) *messages.Execution {
	e.t.Helper()
	res, err := messages.Ask(e.sys, &messages.CreateExecution{WorkflowID: wf, Priority: p})
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(time.Millisecond) // distinct enqueue times
	return res.Execution
}

// claim claims work for runner straight from the dispatcher (nil: none).
func (e *execEnv) claim(runner string, wait time.Duration) *messages.Execution {
	e.t.Helper()
	res, err := messages.AskTimeout(e.sys, &messages.ClaimWork{RunnerID: runner, Wait: wait}, wait+5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	x, _ := res.(*messages.Execution)
	return x
}

func (e *execEnv) report(id, runner string, st messages.ExecutionStatus, logs string) (*messages.Execution, error) {
	var l *string
	if logs != "" {
		l = &logs
	}
	return messages.Ask(e.sys, &messages.ReportStatus{ExecutionID: id, RunnerID: runner, Status: st, Logs: l})
}

func (e *execEnv) get(id string) *messages.Execution {
	e.t.Helper()
	x, err := e.store.GetExecution(id)
	if err != nil || x == nil {
		e.t.Fatalf("get %s: %v %v", id, x, err)
	}
	return x
}

// eventually waits (bounded) for cond, which another actor makes true.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantCode(t *testing.T, what string, err error, code messages.Code) {
	t.Helper()
	if messages.ErrorCode(err) != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}
