package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// rtEnv is the actor tests' environment (execEnv) with a fixed date and a
// license for three runners.
type rtEnv = execEnv

func newRTEnv(t *testing.T) *rtEnv {
	t.Helper()
	return newTestEnv(t, testDate, messages.LicenseLimits{Runners: 3}, 365*24*time.Hour)
}

func (e *rtEnv) register(name string, typ messages.RunnerType) *messages.RunnerCredentials {
	e.t.Helper()
	res, err := messages.Ask(e.sys, &messages.RegisterRunner{Name: name, Type: typ})
	if err != nil {
		e.t.Fatalf("register %s: %v", name, err)
	}
	return res
}

func TestRunnerRegisterCredentialsAndLimits(t *testing.T) {
	e := newRTEnv(t)
	c := e.register("alpha", "")
	if c.Type != messages.RunnerUnattended || len(c.MachineKey) != 35 || c.MachineKey[:3] != "FC-" || len(c.MachineSecret) != 64 {
		t.Fatalf("credentials: %+v", c)
	}
	if e.sys.Census().Runners.Load() != 1 {
		t.Fatalf("census %d", e.sys.Census().Runners.Load())
	}
	if _, err := e.sys.Ask(&messages.RegisterRunner{Name: "ALPHA"}); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("duplicate: %v", err)
	}
	if r := e.sys.Runner(c.ID); r == nil || r.Status != messages.RunnerOffline || r.SecretHash != "" {
		t.Fatalf("never beat: %+v", r)
	}
	id, epoch, err := e.sys.RunnerByCredentials(c.MachineKey, c.MachineSecret)
	if err != nil || id != c.ID || epoch != 1 {
		t.Fatalf("credentials: %s %d %v", id, epoch, err)
	}
	if _, _, err := e.sys.RunnerByCredentials(c.MachineKey, "x"+c.MachineSecret[1:]); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := e.sys.RunnerSession(c.ID, "t", 1); err != nil {
		t.Fatal(err)
	}
	res, err := e.sys.Ask(&messages.RegenerateSecret{ID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	c2 := res.(*messages.RunnerCredentials)
	if c2.MachineSecret == c.MachineSecret || c2.MachineKey != c.MachineKey {
		t.Fatalf("regenerated: %+v", c2)
	}
	if err := e.sys.RunnerSession(c.ID, "t", 1); err == nil {
		t.Fatal("old epoch still accepted")
	}
	if _, _, err := e.sys.RunnerByCredentials(c.MachineKey, c.MachineSecret); err == nil {
		t.Fatal("old secret still accepted")
	}
	e.register("beta", messages.RunnerAttended)
	e.register("gamma", messages.RunnerUnattended)
	if _, err := e.sys.Ask(&messages.RegisterRunner{Name: "delta"}); messages.ErrorCode(err) != messages.CodeLicenseLimit {
		t.Fatalf("over the limit: %v", err)
	}
	// Across a restart: the new secret works, the old epoch does not.
	e.restart()
	if err := e.sys.RunnerSession(c.ID, "t", 1); err == nil {
		t.Fatal("old epoch accepted after restart")
	}
	if err := e.sys.RunnerSession(c.ID, "t", 2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.sys.RunnerByCredentials(c.MachineKey, c2.MachineSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Ask(&messages.DeleteRunner{ID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.sys.RunnerSession(c.ID, "t", 2); err == nil {
		t.Fatal("deleted runner accepted")
	}
	if _, _, err := e.sys.RunnerByCredentials(c.MachineKey, c2.MachineSecret); err == nil {
		t.Fatal("deleted runner's secret accepted")
	}
	if _, err := e.sys.Ask(&messages.DeleteRunner{ID: c.ID}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("second delete: %v", err)
	}
	eventually(e.t, "census after delete", func() bool { return e.sys.Census().Runners.Load() == 2 })
	e.restart()
	if e.sys.Census().Runners.Load() != 2 || e.sys.Runner(c.ID) != nil {
		t.Fatalf("after restart: census %d", e.sys.Census().Runners.Load())
	}
}

func TestRunnerHeartbeatTTLAndRehydration(t *testing.T) {
	e := newRTEnv(t)
	c := e.register("alpha", "")
	res, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID, IPAddress: "10.1.2.3", Metrics: []byte(`{"cpu":12}`)})
	if err != nil {
		t.Fatal(err)
	}
	hb := res.(*messages.HeartbeatReply)
	if hb.Status != messages.RunnerOnline || hb.TTLSeconds != 120 || hb.StopExecutionIDs == nil {
		t.Fatalf("heartbeat: %+v", hb)
	}
	if g := e.sys.Gauges(); g.RunnersOnline.Load() != 1 || g.RunnersOffline.Load() != 0 {
		t.Fatalf("gauges %d %d", g.RunnersOnline.Load(), g.RunnersOffline.Load())
	}
	if !e.sys.RunnerIdle(c.ID) {
		t.Fatal("an online runner with an empty queue is idle")
	}
	// The status change was durable before the answer.
	stored, _ := e.store.GetRunner(c.ID)
	if stored.Status != messages.RunnerOnline || stored.IPAddress != "10.1.2.3" {
		t.Fatalf("stored: %+v", stored)
	}
	// A later beat is flushed within 10 s, not at once.
	e.clock.Advance(5 * time.Second)
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID, Metrics: []byte(`{"cpu":50}`)}); err != nil {
		t.Fatal(err)
	}
	if r := e.sys.Runner(c.ID); string(r.Metrics) != `{"cpu":50}` || r.IPAddress != "10.1.2.3" {
		t.Fatalf("live view: %+v", r)
	}
	e.clock.Advance(6 * time.Second)
	eventually(e.t, "heartbeat flush", func() bool {
		s, _ := e.store.GetRunner(c.ID)
		return string(s.Metrics) == `{"cpu":50}`
	})
	// No beat for the TTL: OFFLINE through the normal write path.
	e.clock.Advance(2 * time.Minute)
	eventually(e.t, "offline", func() bool { return e.sys.Runner(c.ID).Status == messages.RunnerOffline })
	stored, _ = e.store.GetRunner(c.ID)
	if stored.Status != messages.RunnerOffline || stored.OfflineSince.IsZero() {
		t.Fatalf("stored after TTL: %+v", stored)
	}
	// Beat again, then restart after the TTL passed while down: OFFLINE.
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e.clock.Advance(3 * time.Minute)
	e.start()
	if r := e.sys.Runner(c.ID); r == nil || r.Status != messages.RunnerOffline {
		t.Fatalf("after restart: %+v", r)
	}
	stored, _ = e.store.GetRunner(c.ID)
	if stored.Status != messages.RunnerOffline {
		t.Fatalf("stored after restart: %+v", stored)
	}
	// Restart within the TTL keeps it ONLINE.
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if r := e.sys.Runner(c.ID); r.Status != messages.RunnerOnline {
		t.Fatalf("restart within TTL: %+v", r)
	}
	if g := e.sys.Gauges(); g.RunnersOnline.Load() != 1 || g.RunnersOffline.Load() != 0 {
		t.Fatalf("gauges after restart %d %d", g.RunnersOnline.Load(), g.RunnersOffline.Load())
	}
}

func TestRunnerNotificationsAndGrace(t *testing.T) {
	e := newRTEnv(t)
	c := e.register("alpha", messages.RunnerAttended)
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	execID := e.storedExecution(c.ID, messages.ExecRunning)
	if _, err := e.sys.Ask(&messages.ExecutionAssigned{RunnerID: c.ID, ExecutionID: execID, Status: messages.ExecRunning}); err != nil {
		t.Fatal(err)
	}
	r := e.sys.Runner(c.ID)
	if r.Status != messages.RunnerBusy || r.CurrentExecutionID == nil || *r.CurrentExecutionID != execID {
		t.Fatalf("assigned: %+v", r)
	}
	if _, err := e.sys.Ask(&messages.StopRequested{RunnerID: c.ID, ExecutionID: execID}); err != nil {
		t.Fatal(err)
	}
	res, _ := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID})
	if ids := res.(*messages.HeartbeatReply).StopExecutionIDs; len(ids) != 1 || ids[0] != execID {
		t.Fatalf("stop ids %v", ids)
	}
	res, _ = e.sys.Ask(&messages.PollWork{RunnerID: c.ID})
	if p := res.(*messages.PollReply); p.Execution != nil || len(p.StopExecutionIDs) != 1 {
		t.Fatalf("poll %+v", p)
	}
	if e.sys.RunnerIdle(c.ID) {
		t.Fatal("a runner with a stop request is not idle")
	}
	// Restart keeps the current execution; the TTL then the grace pass.
	e.restart()
	if r := e.sys.Runner(c.ID); r.CurrentExecutionID == nil || r.Status != messages.RunnerBusy {
		t.Fatalf("after restart: %+v", r)
	}
	e.clock.Advance(2 * time.Minute)
	eventually(e.t, "offline", func() bool { return e.sys.Runner(c.ID).Status == messages.RunnerOffline })
	entry := e.sys.runnerEntryOf(c.ID)
	// A few supervisor ticks pass (a signal, not a sleep): nothing may
	// happen before the grace.
	ticks := e.sys.runnerTicks.Load()
	eventually(e.t, "three more ticks", func() bool { return e.sys.runnerTicks.Load() >= ticks+3 })
	if entry.lostSent.Load() || e.sys.Runner(c.ID).CurrentExecutionID == nil {
		t.Fatal("RunnerLost before the grace")
	}
	e.clock.Advance(time.Minute)
	// RunnerLost goes out; the executions side answers (an unknown
	// execution here), which releases the runner.
	eventually(e.t, "RunnerLost and release", func() bool { return e.sys.Runner(c.ID).CurrentExecutionID == nil })
	if _, err := e.sys.Ask(&messages.ExecutionReleased{RunnerID: c.ID, ExecutionID: execID, Status: messages.ExecFailed}); err != nil {
		t.Fatal(err)
	}
	res, _ = e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID})
	if hb := res.(*messages.HeartbeatReply); hb.Status != messages.RunnerOnline || len(hb.StopExecutionIDs) != 0 {
		t.Fatalf("after release: %+v", hb)
	}
}

func TestRunnerLongPollJoinAndRelease(t *testing.T) {
	e := newRTEnv(t)
	c := e.register("alpha", "")
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		res any
		err error
	}
	first, second := make(chan answer, 1), make(chan answer, 1)
	go func() {
		res, err := e.sys.AskTimeout(&messages.PollWork{RunnerID: c.ID, Wait: 30 * time.Second}, 40*time.Second)
		first <- answer{res, err}
	}()
	eventually(e.t, "claim parked", func() bool { return e.sys.Gauges().WaitingClaims.Load() == 1 })
	// A poll without wait while a claim is parked answers at once.
	res, err := e.sys.Ask(&messages.PollWork{RunnerID: c.ID})
	if err != nil || res.(*messages.PollReply).Execution != nil {
		t.Fatalf("short poll: %v %v", res, err)
	}
	// A second long poll joins the claim in flight.
	// Enqueued here, then a heartbeat through the same mailbox as a
	// barrier: the poll has joined before ReleasePolls (sent to the runner
	// actor directly) can overtake it.
	f2 := e.sys.actors.Root.RequestFuture(e.sys.pids[childRunners], &messages.PollWork{RunnerID: c.ID, Wait: 30 * time.Second}, 40*time.Second)
	go func() {
		res, err := f2.Result()
		second <- answer{res, err}
	}()
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if n := e.sys.Gauges().WaitingClaims.Load(); n != 1 {
		t.Fatalf("claims parked: %d, want 1 (joined)", n)
	}
	// A second claim would also leave one parked (it replaces the first),
	// but would answer the first poll: joining leaves it waiting.
	select {
	case a := <-first:
		t.Fatalf("first poll answered before the release: %+v", a)
	default:
	}
	start := time.Now()
	e.sys.ReleasePolls()
	for _, ch := range []chan answer{first, second} {
		select {
		case a := <-ch:
			if a.err != nil || a.res.(*messages.PollReply).Execution != nil {
				t.Fatalf("released poll: %+v", a)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("poll not released")
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("release took too long")
	}
	eventually(e.t, "claim cancelled", func() bool { return e.sys.Gauges().WaitingClaims.Load() == 0 })
}

func TestRunnerParkedPollsWake(t *testing.T) {
	e := newRTEnv(t)
	c := e.register("desk", messages.RunnerAttended)
	poll := func(wait time.Duration) chan *messages.PollReply {
		ch := make(chan *messages.PollReply, 1)
		// Enqueued before poll returns: a later Ask (heartbeat, stop) goes
		// through the same supervisor mailbox behind it.
		f := e.sys.actors.Root.RequestFuture(e.sys.pids[childRunners], &messages.PollWork{RunnerID: c.ID, Wait: wait}, wait+10*time.Second)
		go func() {
			res, err := f.Result()
			if err != nil {
				t.Error(err)
				ch <- nil
				return
			}
			ch <- res.(*messages.PollReply)
		}()
		return ch
	}
	waitFor := func(ch chan *messages.PollReply, what string) *messages.PollReply {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: poll not answered", what)
		}
		return nil
	}
	// OFFLINE: a long poll waits; the first heartbeat (behind it in the
	// supervisor's mailbox) wakes it.
	ch := poll(30 * time.Second)
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if r := waitFor(ch, "offline then heartbeat"); r == nil || r.Execution != nil {
		t.Fatalf("woken poll: %+v", r)
	}
	// ATTENDED and RUNNING: a long poll waits for the stop request.
	execID := e.storedExecution(c.ID, messages.ExecRunning)
	if _, err := e.sys.Ask(&messages.ExecutionAssigned{RunnerID: c.ID, ExecutionID: execID, Status: messages.ExecRunning}); err != nil {
		t.Fatal(err)
	}
	ch = poll(30 * time.Second)
	// A heartbeat's round trip through the same mailboxes: the poll has
	// been handled (and parked) when it returns.
	if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		t.Fatalf("answered before anything happened: %+v", r)
	default:
	}
	if _, err := e.sys.Ask(&messages.StopRequested{RunnerID: c.ID, ExecutionID: execID}); err != nil {
		t.Fatal(err)
	}
	if r := waitFor(ch, "stop request"); len(r.StopExecutionIDs) != 1 || r.StopExecutionIDs[0] != execID {
		t.Fatalf("stop poll: %+v", r)
	}
	// With a stop pending, a long poll answers at once; a short wait expires.
	if r := waitFor(poll(30*time.Second), "pending stop"); len(r.StopExecutionIDs) != 1 {
		t.Fatalf("pending stop: %+v", r)
	}
	if _, err := e.sys.Ask(&messages.ExecutionReleased{RunnerID: c.ID, ExecutionID: execID, Status: messages.ExecStopped}); err != nil {
		t.Fatal(err)
	}
	if r := waitFor(poll(time.Second), "wait expiry"); r.Execution != nil || len(r.StopExecutionIDs) != 0 {
		t.Fatalf("expired poll: %+v", r)
	}
}

// storedExecution writes a real execution of a fresh published workflow,
// with status and runner, straight to storage (as if an earlier run of the
// server had made it).
func (e *rtEnv) storedExecution(runnerID string, status messages.ExecutionStatus) string {
	e.t.Helper()
	now := e.clock.Now()
	wf := &messages.Workflow{ID: messages.NewID(now), Name: "wf", CreatedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now)}
	if err := e.store.CreateWorkflow(wf, nil); err != nil {
		e.t.Fatal(err)
	}
	graph := `{"nodes":[{"id":"s","type":"start"}],"edges":[]}`
	if _, err := e.store.SaveDraft(&messages.Version{ID: messages.NewID(now), WorkflowID: wf.ID, GraphJSON: graph, CreatedAt: messages.TimeOf(now)}, nil); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.PublishLatest(wf.ID, messages.TimeOf(now), nil); err != nil {
		e.t.Fatal(err)
	}
	ex, _, err := e.store.CreateExecution(&messages.Execution{ID: messages.NewID(now), WorkflowID: wf.ID, Status: messages.ExecQueued,
		Priority: messages.PriorityNormal, Attempt: 1, CreatedAt: messages.TimeOf(now), EnqueuedAt: messages.TimeOf(now)}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	next := *ex
	next.Status, next.RunnerID = status, &runnerID
	if err := e.store.SaveExecution(&next, messages.ExecQueued, "", messages.Effects{}); err != nil {
		e.t.Fatal(err)
	}
	return ex.ID
}

// TestListRunnersFromRegistry: filtered lists come from the live registry,
// newest first, paged, with deleted runners gone.
func TestListRunnersFromRegistry(t *testing.T) {
	e := newRTEnv(t)
	a := e.register("a", messages.RunnerUnattended)
	e.clock.Advance(time.Millisecond)
	b := e.register("b", messages.RunnerAttended)
	e.clock.Advance(time.Millisecond)
	c := e.register("c", messages.RunnerUnattended)
	for _, id := range []string{a.ID, c.ID} {
		if _, err := e.sys.Ask(&messages.Heartbeat{RunnerID: id}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []*messages.Runner) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	page := messages.Page{Page: 1, Limit: 50}
	if got, total := e.sys.ListRunners(messages.RunnerFilter{Status: messages.RunnerOnline}, page); total != 2 || !slices.Equal(ids(got), []string{c.ID, a.ID}) {
		t.Fatalf("online: %v %d", ids(got), total)
	}
	if got, total := e.sys.ListRunners(messages.RunnerFilter{Status: messages.RunnerOffline}, page); total != 1 || got[0].ID != b.ID {
		t.Fatalf("offline: %v %d", ids(got), total)
	}
	if got, total := e.sys.ListRunners(messages.RunnerFilter{Type: messages.RunnerUnattended}, messages.Page{Page: 2, Limit: 1}); total != 2 || !slices.Equal(ids(got), []string{a.ID}) {
		t.Fatalf("page 2: %v %d", ids(got), total)
	}
	if got, total := e.sys.ListRunners(messages.RunnerFilter{Type: messages.RunnerUnattended}, messages.Page{Page: 3, Limit: 1}); total != 2 || len(got) != 0 {
		t.Fatalf("past the end: %v %d", ids(got), total)
	}
	if _, err := e.sys.Ask(&messages.DeleteRunner{ID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if got, total := e.sys.ListRunners(messages.RunnerFilter{Status: messages.RunnerOnline}, page); total != 1 || got[0].ID != a.ID {
		t.Fatalf("after delete: %v %d", ids(got), total)
	}
}

// BenchmarkListRunnersFiltered pages a filtered list over 10,000 runners
// from the registry (what GET /api/runners?status= costs).
func BenchmarkListRunnersFiltered(b *testing.B) {
	view := &runnersView{}
	now := time.Now()
	var entries []*runnerEntry
	for i := 0; i < 10000; i++ {
		e := &runnerEntry{id: messages.NewID(now.Add(time.Duration(i) * time.Millisecond))}
		st := messages.RunnerOnline
		if i%3 == 0 {
			st = messages.RunnerOffline
		}
		e.view.Store(&messages.Runner{ID: e.id, Status: st, Type: messages.RunnerUnattended})
		entries = append(entries, e)
	}
	view.addAll(entries)
	s := &System{}
	s.runnerReg.Store(view)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, total := s.ListRunners(messages.RunnerFilter{Status: messages.RunnerOnline}, messages.Page{Page: 1, Limit: 50}); total != 6666 {
			b.Fatalf("total %d", total)
		}
	}
}

// Polls answered before their wait ends, and a claim answered before its
// bound, stop their timers (see TestUnparkStopsTheClaimExpiry).
func TestAnsweredPollsStopTheirTimers(t *testing.T) {
	a := &runnerActor{}
	wt := time.AfterFunc(time.Hour, func() {})
	a.waiters = []*pollWaiter{{id: 1, stop: wt.Stop}, {id: 2}}
	a.answerWaiters(nil, nil)
	if wt.Stop() {
		t.Fatal("an answered poll left its wait timer armed")
	}
	if len(a.waiters) != 0 {
		t.Fatal("answered polls are still waiting")
	}
}

// The registry keeps its entries in id order whatever order they are added
// in (a clock stepping back makes an older-looking id), and a reader keeps
// the slice it loaded.
func TestRunnersViewOrder(t *testing.T) {
	v := &runnersView{}
	base := time.Now()
	var want []string
	v.addAll(nil)
	for _, d := range []int{5, 1, 9, 3, 7} {
		id := messages.NewID(base.Add(time.Duration(d) * time.Second))
		want = append(want, id)
		v.add(&runnerEntry{id: id})
	}
	before := v.ordered()
	v.addAll([]*runnerEntry{{id: messages.NewID(base)}})
	slices.Sort(want)
	var got []string
	for _, e := range before {
		got = append(got, e.id)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if len(v.ordered()) != 6 || v.ordered()[0].id >= v.ordered()[1].id {
		t.Fatal("the inserted entry is not first")
	}
}

// Lists read the order while registrations append to it in place: each
// reader sees a consistent prefix (run under -race).
func TestRunnersViewConcurrentAppendAndList(t *testing.T) {
	v := &runnersView{}
	v.addAll(nil)
	s := &System{}
	s.runnerReg.Store(v)
	done := make(chan struct{})
	go func() {
		defer close(done)
		base := time.Now()
		for i := range 2000 {
			e := &runnerEntry{id: messages.NewID(base.Add(time.Duration(i) * time.Millisecond))}
			e.view.Store(&messages.Runner{ID: e.id, Status: messages.RunnerOffline})
			v.add(e)
		}
	}()
	for {
		select {
		case <-done:
			if _, total := s.ListRunners(messages.RunnerFilter{}, messages.Page{Page: 1, Limit: 10}); total != 2000 {
				t.Fatalf("total %d", total)
			}
			return
		default:
			rs, total := s.ListRunners(messages.RunnerFilter{}, messages.Page{Page: 1, Limit: 10})
			for i := 1; i < len(rs); i++ {
				if rs[i-1].ID <= rs[i].ID {
					t.Fatalf("not newest first at %d of %d", i, total)
				}
			}
		}
	}
}
