package actors

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// onlineRunner registers an unattended runner and heartbeats it ONLINE.
func (e *execEnv) onlineRunner(name string) string {
	e.t.Helper()
	res, err := messages.Ask(e.sys, &messages.RegisterRunner{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	id := res.ID
	if _, err := messages.Ask(e.sys, &messages.Heartbeat{RunnerID: id}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// poll polls as runner (no wait) and returns the execution handed out.
func (e *execEnv) poll(runner string) *messages.Execution {
	e.t.Helper()
	res, err := messages.Ask(e.sys, &messages.PollWork{RunnerID: runner})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Execution
}

func (e *execEnv) heartbeat(runner string) *messages.HeartbeatReply {
	e.t.Helper()
	res, err := messages.Ask(e.sys, &messages.Heartbeat{RunnerID: runner})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *execEnv) queueDepth() int64 {
	g := &e.sys.gauges
	return g.QueueDepth[0].Load() + g.QueueDepth[1].Load() + g.QueueDepth[2].Load()
}

// A backlog costs queue entries, not actors: queued executions have no
// actor; the assignment activates one, and it passivates when it ends.
func TestQueuedExecutionsHaveNoActor(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("virtual")
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, e.create(wf, messages.PriorityNormal).ID)
	}
	if n := e.sys.gauges.ActiveExecutions.Load(); n != 0 {
		t.Fatalf("%d live actors for a queued backlog", n)
	}
	if d := e.queueDepth(); d != 50 {
		t.Fatalf("queue depth %d", d)
	}
	x := e.claim("r1", 0)
	if x == nil || x.ID != ids[0] || x.Status != messages.ExecAssigned {
		t.Fatalf("claim: %+v", x)
	}
	if n := e.sys.gauges.ActiveExecutions.Load(); n != 1 {
		t.Fatalf("%d live actors after one assignment", n)
	}
	if _, err := e.report(x.ID, "r1", messages.ExecRunning, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.report(x.ID, "r1", messages.ExecCompleted, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "passivation", func() bool { return e.sys.gauges.ActiveExecutions.Load() == 0 })
	// A stop reaches a queued execution (activated for it) and takes it
	// out of the queue.
	res, err := e.sys.Ask(&messages.StopExecution{ID: ids[1]})
	if err != nil || res.(*messages.Execution).Status != messages.ExecStopped {
		t.Fatalf("stop queued: %v %v", res, err)
	}
	eventually(t, "dequeued", func() bool { return e.queueDepth() == 48 })
	eventually(t, "passivation", func() bool { return e.sys.gauges.ActiveExecutions.Load() == 0 })
	// A finished execution answers from storage, and leaves no actor.
	_, err = e.sys.Ask(&messages.StopExecution{ID: ids[1]})
	wantCode(t, "stop stopped", err, messages.CodeInvalidTransition)
	_, err = e.sys.Ask(&messages.StopExecution{ID: "no-such"})
	wantCode(t, "stop unknown", err, messages.CodeNotFound)
	eventually(t, "passivation", func() bool { return e.sys.gauges.ActiveExecutions.Load() == 0 })
}

// Commands racing an execution's passivation are each answered once, and
// correctly: a command that reaches the registry while the actor stops is
// buffered and replayed to a fresh activation.
func TestCommandsRacePassivation(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("races")
	const n = 60
	for i := 0; i < n; i++ {
		x := e.create(wf, messages.PriorityNormal)
		// A command that leaves it idle (it is not that runner's): the
		// actor activates, answers, asks to passivate; the stop right
		// behind it meets the actor live, stopping or gone.
		res, err := e.sys.Ask(&messages.RunnerLost{ExecutionID: x.ID, RunnerID: "nobody"})
		if err != nil || res.(*messages.Execution).Status != messages.ExecQueued {
			t.Fatalf("runner lost on a queued execution: %v %v", res, err)
		}
		res, err = e.sys.Ask(&messages.StopExecution{ID: x.ID})
		if err != nil || res.(*messages.Execution).Status != messages.ExecStopped {
			t.Fatalf("stop %d: %v %v", i, res, err)
		}
	}
	// Now from many goroutines at once: claims, stops, reports and
	// requeues on the same executions. Each assignment goes to one
	// runner only, and every call is answered.
	var xs []string
	for i := 0; i < n; i++ {
		xs = append(xs, e.create(wf, messages.PriorityNormal).ID)
	}
	var mu sync.Mutex
	assigned := map[string]string{} // id and attempt → runner
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			runner := fmt.Sprintf("r%d", w)
			for i := 0; ; i++ {
				res, err := e.sys.AskTimeout(&messages.ClaimWork{RunnerID: runner}, 5*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				x, ok := res.(*messages.Execution)
				if !ok {
					if e.queueDepth() == 0 {
						return
					}
					continue
				}
				key := fmt.Sprint(x.ID, "/", x.Attempt)
				mu.Lock()
				if prev, dup := assigned[key]; dup {
					t.Errorf("%s assigned to %s and %s", key, prev, runner)
				}
				assigned[key] = runner
				mu.Unlock()
				switch i % 3 {
				case 0: // lost before it starts: back to the queue once
					if _, err := e.sys.Ask(&messages.RunnerLost{ExecutionID: x.ID, RunnerID: runner}); err != nil {
						t.Error(err)
					}
				case 1:
					_, err := e.sys.Ask(&messages.ReportStatus{ExecutionID: x.ID, RunnerID: runner, Status: messages.ExecRunning})
					if err == nil {
						_, err = e.sys.Ask(&messages.ReportStatus{ExecutionID: x.ID, RunnerID: runner, Status: messages.ExecCompleted})
					}
					if err != nil && messages.ErrorCode(err) != messages.CodeInvalidTransition { // stopped meanwhile
						t.Error(err)
					}
				default:
					if _, err := e.sys.Ask(&messages.StopExecution{ID: x.ID}); err != nil && messages.ErrorCode(err) != messages.CodeInvalidTransition {
						t.Error(err)
					}
				}
			}
		}(w)
	}
	for i, id := range xs {
		if i%2 == 1 {
			continue
		}
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			_, err := e.sys.Ask(&messages.StopExecution{ID: id})
			if err != nil && messages.ErrorCode(err) != messages.CodeInvalidTransition {
				t.Error(err)
			}
		}(id)
	}
	wg.Wait()
	// Every execution ends where its last command left it, with no actor
	// left behind and the queue matching storage.
	eventually(t, "all passivated", func() bool {
		active := 0
		for _, id := range xs {
			if x := e.get(id); !x.Status.Terminal() && x.Status != messages.ExecQueued {
				active++
			}
		}
		return e.sys.gauges.ActiveExecutions.Load() == int64(active)
	})
	queued := 0
	for _, id := range xs {
		if e.get(id).Status == messages.ExecQueued {
			queued++
		}
	}
	eventually(t, "queue depth matches storage", func() bool { return e.queueDepth() == int64(queued) })
	t.Logf("commands buffered during passivation: %d", e.sys.buffered.Load())
}

// A 2xx means every owner it touches already shows it (read-your-writes).
func TestReadYourWrites(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("ryw")
	r := e.onlineRunner("alpha")

	// A report that ends the execution: the runner reads ONLINE at once.
	x := e.create(wf, messages.PriorityNormal)
	if got := e.poll(r); got == nil || got.ID != x.ID {
		t.Fatalf("poll: %+v", got)
	}
	if st := e.sys.Runner(r).Status; st != messages.RunnerBusy {
		t.Fatalf("runner %s after assignment", st)
	}
	if _, err := e.report(x.ID, r, messages.ExecRunning, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.report(x.ID, r, messages.ExecCompleted, ""); err != nil {
		t.Fatal(err)
	}
	if run := e.sys.Runner(r); run.Status != messages.RunnerOnline || run.CurrentExecutionID != nil {
		t.Fatalf("runner after COMPLETED was answered: %s %v", run.Status, run.CurrentExecutionID)
	}

	// Stopping a RUNNING execution: its id is in the next heartbeat.
	x = e.create(wf, messages.PriorityNormal)
	if got := e.poll(r); got == nil || got.ID != x.ID {
		t.Fatalf("poll: %+v", got)
	}
	if _, err := e.report(x.ID, r, messages.ExecRunning, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Ask(&messages.StopExecution{ID: x.ID}); err != nil {
		t.Fatal(err)
	}
	if hb := e.heartbeat(r); !slices.Equal(hb.StopExecutionIDs, []string{x.ID}) {
		t.Fatalf("stop ids after stopping RUNNING: %v", hb.StopExecutionIDs)
	}
	if _, err := e.report(x.ID, r, messages.ExecStopped, ""); err != nil {
		t.Fatal(err)
	}
	if hb := e.heartbeat(r); len(hb.StopExecutionIDs) != 0 || hb.Status != messages.RunnerOnline {
		t.Fatalf("after STOPPED: %+v", hb)
	}

	// Stopping an ASSIGNED execution: STOPPED at once, the runner is
	// released and hears of it once in stopExecutionIds.
	x = e.create(wf, messages.PriorityNormal)
	if got := e.poll(r); got == nil || got.ID != x.ID {
		t.Fatalf("poll: %+v", got)
	}
	res, err := e.sys.Ask(&messages.StopExecution{ID: x.ID})
	if err != nil || res.(*messages.Execution).Status != messages.ExecStopped {
		t.Fatalf("stop assigned: %v %v", res, err)
	}
	if run := e.sys.Runner(r); run.Status != messages.RunnerOnline {
		t.Fatalf("runner after its ASSIGNED execution stopped: %s", run.Status)
	}
	if hb := e.heartbeat(r); !slices.Equal(hb.StopExecutionIDs, []string{x.ID}) {
		t.Fatalf("stop ids after stopping ASSIGNED: %v", hb.StopExecutionIDs)
	}
	if hb := e.heartbeat(r); len(hb.StopExecutionIDs) != 0 {
		t.Fatalf("a stopped ASSIGNED execution is announced once, got again %v", hb.StopExecutionIDs)
	}
	if _, err := e.report(x.ID, r, messages.ExecRunning, ""); messages.ErrorCode(err) != messages.CodeInvalidTransition {
		t.Fatalf("RUNNING after the stop: %v", err)
	}

	// Deleting a runner: its ASSIGNED execution is QUEUED (and counted in
	// the queue) when the delete is answered.
	x = e.create(wf, messages.PriorityNormal)
	if got := e.poll(r); got == nil || got.ID != x.ID {
		t.Fatalf("poll: %+v", got)
	}
	if d := e.queueDepth(); d != 0 {
		t.Fatalf("queue depth %d", d)
	}
	if _, err := e.sys.Ask(&messages.DeleteRunner{ID: r}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(x.ID); got.Status != messages.ExecQueued || got.Attempt != 2 {
		t.Fatalf("after the delete was answered: %s attempt %d", got.Status, got.Attempt)
	}
	if d := e.queueDepth(); d != 1 {
		t.Fatalf("queue depth after the delete was answered: %d", d)
	}
}

// Never two executions for one runner: an assignment that reaches a runner
// that already holds work is handed back to the queue.
func TestNeverTwoExecutionsForOneRunner(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("two")
	r := e.onlineRunner("alpha")
	// A long poll parks a claim in the dispatcher.
	done := make(chan *messages.PollReply, 1)
	go func() {
		res, err := e.sys.AskTimeout(&messages.PollWork{RunnerID: r, Wait: 20 * time.Second}, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		p, _ := res.(*messages.PollReply)
		done <- p
	}()
	eventually(t, "claim parked", func() bool { return e.sys.gauges.WaitingClaims.Load() == 1 })
	// Meanwhile the runner gets work another way (an attended-style
	// assignment of a stored execution).
	first := e.create(wf, messages.PriorityNormal)
	// That create was served to the parked claim: the runner holds it.
	p := <-done
	if p == nil || p.Execution == nil || p.Execution.ID != first.ID {
		t.Fatalf("parked poll: %+v", p)
	}
	// A second execution assigned to the same runner behind its back (a
	// claim answered after the runner got work can only come from a race)
	// reaches the runner as a claim answer.
	second := e.create(wf, messages.PriorityNormal)
	x := e.claim(r, 0)
	if x == nil || x.ID != second.ID {
		t.Fatalf("claim: %+v", x)
	}
	e.sys.actors.Root.Send(e.sys.runnerEntryOf(r).pid, x)
	eventually(t, "second handed back to the queue", func() bool {
		got := e.get(second.ID)
		return got.Status == messages.ExecQueued && got.Attempt == 2
	})
	run := e.sys.Runner(r)
	if run.CurrentExecutionID == nil || *run.CurrentExecutionID != first.ID {
		t.Fatalf("runner's current execution %v, want %s", run.CurrentExecutionID, first.ID)
	}
	if x := e.get(first.ID); x.Status != messages.ExecAssigned || *x.RunnerID != r {
		t.Fatalf("first: %+v", x)
	}
}
