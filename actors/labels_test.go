package actors

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// Many labelled runners claim at once while labelled executions are
// created: every execution goes to exactly one runner, that runner has all
// its labels, and none is missed while a matching runner polls.
func TestLabelledRunnersRaceForTheQueue(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("labelled")
	runnerLabels := [][]string{nil, {"win"}, {"gpu", "win"}, {"linux"}, {"eu", "linux"}, {"eu", "gpu", "linux", "win"}}
	execLabels := [][]string{nil, {"win"}, {"gpu"}, {"linux"}, {"eu", "linux"}, {"eu", "win"}}
	const perRunnerSet, execs = 4, 300

	var mu sync.Mutex
	took := map[string][]string{} // execution id → runners that got it
	var done atomic.Bool
	var wg sync.WaitGroup
	for i, labels := range runnerLabels {
		for j := 0; j < perRunnerSet; j++ {
			id := fmt.Sprintf("r%d-%d", i, j)
			wg.Add(1)
			go func(id string, labels []string) {
				defer wg.Done()
				for !done.Load() {
					res, err := e.sys.AskTimeout(&messages.ClaimWork{RunnerID: id, Wait: 200 * time.Millisecond, Labels: labels}, 5*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					if x, ok := res.(*messages.Execution); ok {
						if !messages.HasAllLabels(x.RunnerLabels, labels) {
							t.Errorf("%s %v got %s needing %v", id, labels, x.ID, x.RunnerLabels)
						}
						mu.Lock()
						took[x.ID] = append(took[x.ID], id)
						mu.Unlock()
					}
				}
			}(id, labels)
		}
	}
	created := make(chan string, execs)
	var cw sync.WaitGroup
	for w := 0; w < 4; w++ {
		cw.Add(1)
		go func(w int) {
			defer cw.Done()
			for i := w; i < execs; i += 4 {
				res, err := e.sys.Ask(&messages.CreateExecution{WorkflowID: wf, Priority: messages.PriorityNormal,
					RunnerLabels: append([]string{}, execLabels[i%len(execLabels)]...)})
				if err != nil {
					t.Error(err)
					return
				}
				created <- res.(*messages.ExecutionCreated).Execution.ID
			}
		}(w)
	}
	cw.Wait()
	close(created)
	eventually(t, "every execution assigned", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(took) == execs
	})
	done.Store(true)
	wg.Wait()
	for id := range created {
		if got := took[id]; len(got) != 1 {
			t.Fatalf("%s went to %v", id, got)
		}
		if x := e.get(id); x.Status != messages.ExecAssigned || x.RunnerID == nil || *x.RunnerID != took[id][0] {
			t.Fatalf("%s: %+v", id, x)
		}
	}
}

// A labelled backlog keeps its labels across a restart (the queue index
// carries them), and the waiting position counts what the same runners
// serve first.
func TestLabelledQueueSurvivesRestart(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("restart")
	create := func(p messages.Priority, labels ...string) string {
		res, err := e.sys.Ask(&messages.CreateExecution{WorkflowID: wf, Priority: p, RunnerLabels: append([]string{}, labels...)})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Millisecond)
		return res.(*messages.ExecutionCreated).Execution.ID
	}
	a := create(messages.PriorityNormal, "gpu")
	b := create(messages.PriorityHigh)
	c := create(messages.PriorityNormal, "gpu", "eu")
	e.restart()
	pos := func(id string) int {
		w, err := e.sys.Waiting(e.get(id))
		if err != nil || w == nil {
			t.Fatalf("waiting of %s: %+v %v", id, w, err)
		}
		return w.Position
	}
	// a: behind b (HIGH, no labels: every runner takes it); c: behind b and a.
	if pa, pb, pc := pos(a), pos(b), pos(c); pa != 2 || pb != 1 || pc != 3 {
		t.Fatalf("positions a=%d b=%d c=%d", pa, pb, pc)
	}
	claim := func(runner string, labels ...string) string {
		res, err := e.sys.Ask(&messages.ClaimWork{RunnerID: runner, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		if x, ok := res.(*messages.Execution); ok {
			return x.ID
		}
		return ""
	}
	if got := claim("plain"); got != b {
		t.Fatalf("plain got %q, want %s", got, b)
	}
	if got := claim("plain2"); got != "" {
		t.Fatalf("plain2 got %q", got)
	}
	if got := claim("eu", "eu"); got != "" {
		t.Fatalf("eu alone got %q", got)
	}
	if got := claim("both", "eu", "gpu"); got != a {
		t.Fatalf("eu+gpu got %q, want %s (older)", got, a)
	}
	if got := claim("both2", "eu", "gpu", "win"); got != c {
		t.Fatalf("eu+gpu+win got %q, want %s", got, c)
	}
}

// The reason of a waiting object, one case per sentence, in its order.
func TestWaitingReason(t *testing.T) {
	cases := []struct {
		lic    messages.LicenseState
		labels []string
		counts messages.RunnerCounts
		want   string
	}{
		{messages.LicenseExpired, []string{"gpu"}, messages.RunnerCounts{Online: 1}, "The license has expired: renew it so that runners take work again."},
		{messages.LicenseActive, []string{"eu", "gpu"}, messages.RunnerCounts{}, "No runner has the labels [eu, gpu]."},
		{messages.LicenseActive, nil, messages.RunnerCounts{}, "No unattended runner is registered."},
		{messages.LicenseActive, []string{"gpu"}, messages.RunnerCounts{Offline: 2}, "All matching runners with labels [gpu] are offline (2 offline)."},
		{messages.LicenseActive, []string{"gpu"}, messages.RunnerCounts{Busy: 1, Offline: 1}, "All matching runners with labels [gpu] are busy (1 busy, 1 offline)."},
		{messages.LicenseActive, nil, messages.RunnerCounts{Online: 1, Busy: 3}, "Position 4 in the queue: 3 execution(s) ahead of it go to the same runners first."},
	}
	for _, c := range cases {
		w := &messages.Waiting{Position: 4, Ahead: 3, MatchingRunners: c.counts}
		if got := waitingReason(c.lic, c.labels, w); got != c.want {
			t.Errorf("%s %v %+v: %q, want %q", c.lic, c.labels, c.counts, got, c.want)
		}
	}
}
