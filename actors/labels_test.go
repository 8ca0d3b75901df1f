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
