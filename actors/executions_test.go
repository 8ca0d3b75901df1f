package actors

import (
	"container/list"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

func TestQueueOrderAndClaims(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("order")
	low := e.create(wf, messages.PriorityLow)
	n1 := e.create(wf, messages.PriorityNormal)
	h1 := e.create(wf, messages.PriorityHigh)
	n2 := e.create(wf, "")
	h2 := e.create(wf, messages.PriorityHigh)
	if n2.Priority != messages.PriorityNormal || n2.Status != messages.ExecQueued || n2.VersionID == "" {
		t.Fatalf("created: %+v", n2)
	}
	// Counted before the creator is answered: no waiting needed.
	if g := &e.sys.gauges; g.QueueDepth[0].Load() != 2 || g.QueueDepth[1].Load() != 2 || g.QueueDepth[2].Load() != 1 {
		t.Fatalf("queue depth %d %d %d", g.QueueDepth[0].Load(), g.QueueDepth[1].Load(), g.QueueDepth[2].Load())
	}
	for i, want := range []string{h1.ID, h2.ID, n1.ID, n2.ID, low.ID} {
		got := e.claim(fmt.Sprintf("r%d", i), 0)
		if got == nil || got.ID != want || got.Status != messages.ExecAssigned || *got.RunnerID != fmt.Sprintf("r%d", i) {
			t.Fatalf("claim %d: got %+v want %s", i, got, want)
		}
	}
	if got := e.claim("rx", 0); got != nil {
		t.Fatalf("empty queue gave %s", got.ID)
	}
	if e.get(low.ID).Status != messages.ExecAssigned {
		t.Fatal("assignment not durable")
	}
	if _, err := e.sys.Ask(&messages.CreateExecution{WorkflowID: "nope"}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("unknown workflow: %v", err)
	}
	if _, err := e.sys.Ask(&messages.CreateExecution{WorkflowID: wf, Priority: "URGENT"}); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("bad priority: %v", err)
	}
}

func TestExecutionStateMachine(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("sm")
	x := e.create(wf, messages.PriorityNormal)
	if _, err := e.report(x.ID, "r1", messages.ExecRunning, ""); messages.ErrorCode(err) != messages.CodeForbidden {
		t.Fatalf("report on a queued execution: %v", err)
	}
	if got := e.claim("r1", 0); got == nil || got.ID != x.ID {
		t.Fatal("claim")
	}
	_, err := e.report(x.ID, "r2", messages.ExecRunning, "")
	wantCode(t, "another runner", err, messages.CodeForbidden)
	_, err = e.report(x.ID, "r1", messages.ExecAssigned, "")
	wantCode(t, "report ASSIGNED", err, messages.CodeValidation)
	_, err = e.report(x.ID, "r1", messages.ExecQueued, "")
	wantCode(t, "report QUEUED", err, messages.CodeValidation)
	_, err = e.report(x.ID, "r1", messages.ExecCompleted, "")
	wantCode(t, "ASSIGNED → COMPLETED", err, messages.CodeInvalidTransition)
	e.clock.Advance(time.Second)
	run, err := e.report(x.ID, "r1", messages.ExecRunning, "one\n")
	if err != nil || run.StartedAt.IsZero() || run.Status != messages.ExecRunning {
		t.Fatalf("running: %+v %v", run, err)
	}
	cpu := 12.5
	if _, err := e.sys.Ask(&messages.ReportStatus{ExecutionID: x.ID, RunnerID: "r1", Status: messages.ExecRunning,
		Metrics: &messages.ExecutionMetrics{CPUAvg: &cpu}}); err != nil {
		t.Fatal(err)
	}
	done, err := e.report(x.ID, "r1", messages.ExecCompleted, "two\n")
	if err != nil || done.CompletedAt.IsZero() || done.StartedAt != run.StartedAt || done.Metrics == nil || *done.Metrics.CPUAvg != 12.5 {
		t.Fatalf("completed: %+v %v", done, err)
	}
	stored := e.get(x.ID)
	if *stored.Logs != "one\ntwo\n" || stored.Status != messages.ExecCompleted {
		t.Fatalf("stored: %+v", stored)
	}
	if again, err := e.report(x.ID, "r1", messages.ExecCompleted, ""); err != nil || again.Status != messages.ExecCompleted {
		t.Fatalf("idempotent repeat: %v", err)
	}
	_, err = e.report(x.ID, "r1", messages.ExecFailed, "")
	wantCode(t, "terminal is final", err, messages.CodeInvalidTransition)
	_, err = e.sys.Ask(&messages.StopExecution{ID: x.ID})
	wantCode(t, "stop finished", err, messages.CodeInvalidTransition)
	_, err = e.sys.Ask(&messages.StopExecution{ID: "missing"})
	wantCode(t, "stop missing", err, messages.CodeNotFound)
	eventually(t, "passivation", func() bool { return e.sys.gauges.ActiveExecutions.Load() == 0 })
	// Once passivated, answers come from storage.
	if again, err := e.report(x.ID, "r1", messages.ExecCompleted, ""); err != nil || again.Status != messages.ExecCompleted {
		t.Fatalf("repeat after passivation: %v", err)
	}
	_, err = e.report(x.ID, "r2", messages.ExecCompleted, "")
	wantCode(t, "other runner after passivation", err, messages.CodeForbidden)
	st, _ := e.store.ExecutionStats()
	if st.Total != 1 || st.Completed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStopExecution(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("stop")
	queued := e.create(wf, messages.PriorityNormal)
	res, err := e.sys.Ask(&messages.StopExecution{ID: queued.ID})
	if err != nil || res.(*messages.Execution).Status != messages.ExecStopped {
		t.Fatalf("stop queued: %v %v", res, err)
	}
	if got := e.claim("r1", 0); got != nil {
		t.Fatal("a stopped execution was handed out")
	}
	assigned := e.create(wf, messages.PriorityNormal)
	e.claim("r1", 0)
	res, err = e.sys.Ask(&messages.StopExecution{ID: assigned.ID})
	if err != nil || res.(*messages.Execution).Status != messages.ExecStopped {
		t.Fatalf("stop assigned: %v %v", res, err)
	}
	running := e.create(wf, messages.PriorityNormal)
	e.claim("r2", 0)
	if _, err := e.report(running.ID, "r2", messages.ExecRunning, ""); err != nil {
		t.Fatal(err)
	}
	res, err = e.sys.Ask(&messages.StopExecution{ID: running.ID})
	if x := res.(*messages.Execution); err != nil || x.Status != messages.ExecRunning || !x.StopRequested {
		t.Fatalf("stop running: %v %v", res, err)
	}
	if !e.get(running.ID).StopRequested {
		t.Fatal("stopRequested not durable")
	}
	if x, err := e.report(running.ID, "r2", messages.ExecStopped, ""); err != nil || x.Status != messages.ExecStopped {
		t.Fatalf("runner reports STOPPED: %v", err)
	}
	st, _ := e.store.ExecutionStats()
	if st.Stopped != 3 || st.Total != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRunnerLost(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("lost")
	x := e.create(wf, messages.PriorityNormal)
	e.claim("r1", 0)
	res, err := e.sys.Ask(&messages.RunnerLost{ExecutionID: x.ID, RunnerID: "r1", Reason: "runner offline"})
	if y := res.(*messages.Execution); err != nil || y.Status != messages.ExecQueued || y.Attempt != 2 || y.RunnerID != nil || *y.Error != "runner offline" {
		t.Fatalf("first loss: %+v %v", res, err)
	}
	got := e.claim("r2", 0)
	if got == nil || got.ID != x.ID {
		t.Fatal("re-queued execution not handed out again")
	}
	res, _ = e.sys.Ask(&messages.RunnerLost{ExecutionID: x.ID, RunnerID: "r2", Reason: "runner offline"})
	if y := res.(*messages.Execution); y.Status != messages.ExecFailed {
		t.Fatalf("second loss: %+v", y)
	}
	r := e.create(wf, messages.PriorityNormal)
	e.claim("r3", 0)
	e.report(r.ID, "r3", messages.ExecRunning, "")
	res, _ = e.sys.Ask(&messages.RunnerLost{ExecutionID: r.ID, RunnerID: "r3", Reason: "runner deleted"})
	if y := res.(*messages.Execution); y.Status != messages.ExecFailed || *y.Error != "runner deleted" {
		t.Fatalf("running loss: %+v", y)
	}
	audit, total, _ := e.store.ListAudit(messages.Page{Page: 1, Limit: 50})
	stale := 0
	for _, a := range audit {
		if a.Action == messages.AuditExecutionStale {
			stale++
		}
	}
	if stale != 3 {
		t.Fatalf("stale audit entries %d of %d", stale, total)
	}
}

func TestLongPollClaims(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("poll")
	got := make(chan *messages.Execution, 2)
	go func() { got <- e.claim("r1", 3*time.Second) }()
	eventually(t, "parked claim", func() bool { return e.sys.gauges.WaitingClaims.Load() == 1 })
	x := e.create(wf, messages.PriorityNormal)
	if y := <-got; y == nil || y.ID != x.ID {
		t.Fatalf("parked claim got %+v", y)
	}
	// A newer claim from the same runner answers the older one NoWork.
	go func() { got <- e.claim("r2", 3*time.Second) }()
	eventually(t, "parked claim", func() bool { return e.sys.gauges.WaitingClaims.Load() == 1 })
	go func() { got <- e.claim("r2", 3*time.Second) }()
	if y := <-got; y != nil {
		t.Fatal("older claim should get no work")
	}
	eventually(t, "parked claim", func() bool { return e.sys.gauges.WaitingClaims.Load() == 1 })
	e.sys.Tell(&messages.CancelClaim{RunnerID: "r2"})
	if y := <-got; y != nil {
		t.Fatal("cancelled claim should get no work")
	}
	// Wait elapses.
	start := time.Now()
	if y := e.claim("r3", 100*time.Millisecond); y != nil || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("expired claim: %v after %v", y, time.Since(start))
	}
	// The gauge is published right after the answer leaves.
	eventually(t, "waiting claims gauge back to 0", func() bool { return e.sys.gauges.WaitingClaims.Load() == 0 })
}

func TestQueueTimeout(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("timeout")
	old := e.create(wf, messages.PriorityNormal)
	e.clock.Advance(20 * time.Minute)
	young := e.create(wf, messages.PriorityNormal)
	e.clock.Advance(11 * time.Minute)
	eventually(t, "queue timeout", func() bool { return e.get(old.ID).Status == messages.ExecFailed })
	if msg := *e.get(old.ID).Error; msg != "no runner available within 30m" {
		t.Fatalf("error %q", msg)
	}
	// Two more stale checks pass (a signal, not a sleep): the young one
	// stays queued.
	checks := e.sys.staleChecks.Load()
	eventually(t, "two more stale checks", func() bool { return e.sys.staleChecks.Load() >= checks+2 })
	if e.get(young.ID).Status != messages.ExecQueued {
		t.Fatal("young execution expired")
	}
	if got := e.claim("r1", 0); got == nil || got.ID != young.ID {
		t.Fatal("the expired execution left the queue")
	}
}

func TestExecutionsSurviveRestart(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("restart")
	a := e.create(wf, messages.PriorityLow)
	b := e.create(wf, messages.PriorityHigh)
	c := e.create(wf, messages.PriorityNormal)
	d := e.create(wf, messages.PriorityHigh)
	if got := e.claim("r1", 0); got.ID != b.ID {
		t.Fatal("first claim")
	}
	e.stop()
	e.start()
	// Only the execution in flight has an actor; the queued ones are
	// queue entries rebuilt from the queue index.
	if n := e.sys.gauges.ActiveExecutions.Load(); n != 1 {
		t.Fatalf("live actors after restart %d, want 1 (the ASSIGNED one)", n)
	}
	if g := &e.sys.gauges; g.QueueDepth[0].Load() != 1 || g.QueueDepth[1].Load() != 1 || g.QueueDepth[2].Load() != 1 {
		t.Fatalf("queue depth after restart %d %d %d", g.QueueDepth[0].Load(), g.QueueDepth[1].Load(), g.QueueDepth[2].Load())
	}
	for _, want := range []string{d.ID, c.ID, a.ID} {
		if got := e.claim("r2"+want, 0); got == nil || got.ID != want {
			t.Fatalf("order after restart: got %v want %s", got, want)
		}
	}
	if x, err := e.report(b.ID, "r1", messages.ExecRunning, ""); err != nil || x.Status != messages.ExecRunning {
		t.Fatalf("assigned survives restart: %v", err)
	}
}

func TestDedupeAndLicense(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("dedupe")
	r1, err := e.sys.Ask(&messages.CreateExecution{WorkflowID: wf, DedupeKey: "k"})
	if err != nil || r1.(*messages.ExecutionCreated).Duplicate {
		t.Fatal(err)
	}
	r2, err := e.sys.Ask(&messages.CreateExecution{WorkflowID: wf, DedupeKey: "k"})
	if err != nil || !r2.(*messages.ExecutionCreated).Duplicate || r2.(*messages.ExecutionCreated).Execution.ID != r1.(*messages.ExecutionCreated).Execution.ID {
		t.Fatalf("duplicate: %v", err)
	}
	e.clock.Advance(80 * time.Hour) // past expiry, no grace
	_, err = e.sys.Ask(&messages.CreateExecution{WorkflowID: wf})
	wantCode(t, "expired license", err, messages.CodeLicenseExpired)
}

func TestConcurrentCreateAndStop(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("busy")
	var wg sync.WaitGroup
	ids := make(chan string, 1000)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				res, err := e.sys.Ask(&messages.CreateExecution{WorkflowID: wf, DedupeKey: fmt.Sprintf("k%d", i%20+w*100)})
				if err != nil {
					t.Error(err)
					return
				}
				x := res.(*messages.ExecutionCreated).Execution
				ids <- x.ID
				if i%3 == 0 {
					if _, err := e.sys.Ask(&messages.StopExecution{ID: x.ID}); err != nil && messages.ErrorCode(err) != messages.CodeInvalidTransition {
						t.Error(err)
					}
				}
				if i%4 == 0 {
					e.sys.AskTimeout(&messages.ClaimWork{RunnerID: fmt.Sprintf("w%d", w)}, 5*time.Second)
				}
			}
		}(w)
	}
	wg.Wait()
	close(ids)
	unique := map[string]bool{}
	for id := range ids {
		unique[id] = true
	}
	if len(unique) != 16*20 {
		t.Fatalf("unique executions %d, want %d (dedupe keys)", len(unique), 16*20)
	}
	st, _ := e.store.ExecutionStats()
	if st.Total != len(unique) || st.Queued+st.Assigned+st.Stopped != st.Total {
		t.Fatalf("stats %+v", st)
	}
	for status, want := range map[messages.ExecutionStatus]int{messages.ExecQueued: st.Queued, messages.ExecAssigned: st.Assigned, messages.ExecStopped: st.Stopped} {
		_, total, err := e.store.ListExecutions(messages.ExecutionFilter{Status: status}, messages.Page{Page: 1, Limit: 200})
		if err != nil || total != want {
			t.Fatalf("%s: list total %d, stats %d", status, total, want)
		}
		_, total, _ = e.store.ListExecutions(messages.ExecutionFilter{Status: status, WorkflowID: wf, From: 1}, messages.Page{Page: 1, Limit: 200})
		if total != want {
			t.Fatalf("%s (scanned): list total %d, stats %d", status, total, want)
		}
	}
	// Every queued one is handed out exactly once.
	seen := map[string]bool{}
	for i := 0; ; i++ {
		x := e.claim(fmt.Sprintf("drain%d", i), 0)
		if x == nil {
			break
		}
		if seen[x.ID] {
			t.Fatalf("%s handed out twice", x.ID)
		}
		seen[x.ID] = true
	}
	if len(seen) != st.Queued {
		t.Fatalf("drained %d, queued %d", len(seen), st.Queued)
	}
	if n := e.queueDepth(); n != 0 {
		t.Fatalf("queue depth gauge %d after draining", n)
	}
}

// TestUnassignAfterLostClaimAnswer: when the dispatcher never got the answer
// of an assignment (its request timed out) it takes the assignment back; the
// execution returns to the queue without counting an attempt, and only an
// execution still ASSIGNED to that runner moves.
func TestUnassignAfterLostClaimAnswer(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("unassign")
	x := e.create(wf, messages.PriorityNormal)
	if got := e.claim("r1", 0); got == nil || got.ID != x.ID {
		t.Fatalf("claim: %+v", got)
	}
	execs := e.sys.pids[childExecutions]
	e.sys.actors.Root.Send(execs, &unassignExecution{ID: x.ID, RunnerID: "someone-else"})
	// A RunnerLost naming another runner changes nothing and is handled
	// after the unassign: once it is answered, x must still be ASSIGNED.
	if _, err := e.sys.Ask(&messages.RunnerLost{ExecutionID: x.ID, RunnerID: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	if y := e.get(x.ID); y.Status != messages.ExecAssigned || y.RunnerID == nil || *y.RunnerID != "r1" {
		t.Fatalf("another runner's unassign moved it: %+v", y)
	}
	e.sys.actors.Root.Send(execs, &unassignExecution{ID: x.ID, RunnerID: "r1"})
	eventually(t, "back in the queue", func() bool { return e.get(x.ID).Status == messages.ExecQueued })
	if y := e.get(x.ID); y.Attempt != 1 || y.RunnerID != nil {
		t.Fatalf("after unassign: %+v", y)
	}
	// Stored QUEUED a moment before the dispatcher hears of it: a claim
	// that waits is served once it does.
	if got := e.claim("r2", 5*time.Second); got == nil || got.ID != x.ID || got.Status != messages.ExecAssigned {
		t.Fatalf("not handed out again: %+v", got)
	}
	// A started execution is never taken back.
	e.report(x.ID, "r2", messages.ExecRunning, "")
	e.sys.actors.Root.Send(execs, &unassignExecution{ID: x.ID, RunnerID: "r2"})
	// A progress report through the same mailbox is handled after it.
	if _, err := e.report(x.ID, "r2", messages.ExecRunning, "progress"); err != nil {
		t.Fatal(err)
	}
	if y := e.get(x.ID); y.Status != messages.ExecRunning {
		t.Fatalf("a running execution moved: %+v", y)
	}
}

// TestExecutionActorRestartReloads: a supervised restart of an execution
// actor starts a fresh instance, which finds its execution by its own name
// in storage and goes on with the state machine (the first instance got its
// state from the supervisor at spawn, which a restart does not repeat).
func TestExecutionActorRestartReloads(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("restart-actor")
	x := e.create(wf, messages.PriorityNormal)
	if got := e.claim("r1", 0); got == nil || got.ID != x.ID {
		t.Fatalf("claim: %v", got)
	}
	// ASSIGNED: its actor is live (the assignment activated it).
	execs := e.sys.pids[childExecutions]
	pid := actor.NewPID(execs.Address, execs.Id+"/"+x.ID)
	proc, ok := e.sys.actors.ProcessRegistry.Get(pid)
	if !ok {
		t.Fatalf("no live actor for %s", x.ID)
	}
	proc.SendSystemMessage(pid, &actor.Restart{})
	// The restarted actor answers from the stored state: a report works.
	got, err := e.report(x.ID, "r1", messages.ExecRunning, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != messages.ExecRunning || got.ID != x.ID {
		t.Fatalf("after a restart: %+v", got)
	}
	if e.get(x.ID).Status != messages.ExecRunning {
		t.Fatal("the report was not stored")
	}
}

// A claim that leaves the parked line before its deadline (served, or
// replaced by the runner's next claim) stops its expiry timer: with
// thousands of runners long-polling, dead timers would otherwise pile up in
// the runtime until their deadlines.
func TestUnparkStopsTheClaimExpiry(t *testing.T) {
	d := &dispatcherActor{parked: list.New(), byRun: map[string]*workClaim{}}
	c := &workClaim{runnerID: "r1"}
	c.elem = d.parked.PushBack(c)
	d.byRun[c.runnerID] = c
	timer := time.AfterFunc(time.Hour, func() {})
	c.stop = timer.Stop
	d.unpark(c)
	if timer.Stop() {
		t.Fatal("unpark left the claim's expiry timer armed")
	}
	if d.parked.Len() != 0 || d.byRun["r1"] != nil {
		t.Fatal("unpark left the claim parked")
	}
}

// TestCreateLingerFollowsTheLastCommit: the next batch waits for the
// answered callers about as long as the last batch took to become durable,
// never less than createLingerMin nor more than createLingerMax.
func TestCreateLingerFollowsTheLastCommit(t *testing.T) {
	for _, c := range []struct{ flight, want time.Duration }{
		{0, createLingerMin},
		{300 * time.Microsecond, createLingerMin},
		{3 * time.Millisecond, 3 * time.Millisecond},
		{time.Second, createLingerMax},
	} {
		a := &executionsActor{flight: c.flight}
		if got := a.lingerFor(); got != c.want {
			t.Errorf("flight %v: linger %v, want %v", c.flight, got, c.want)
		}
	}
}
