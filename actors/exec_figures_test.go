package actors

import (
	"testing"

	"github.com/exekra/orchestrator/messages"
)

func TestExecutionFiguresObserveTransitions(t *testing.T) {
	var f ExecutionFigures
	const s = messages.Time(1000) // one second in Time's milliseconds
	queued := &messages.Execution{Status: messages.ExecQueued, CreatedAt: 100 * s, EnqueuedAt: 103 * s}
	assigned := &messages.Execution{Status: messages.ExecAssigned, CreatedAt: 100 * s, EnqueuedAt: 103 * s, AssignedAt: 110 * s}
	f.observeTransition(queued, assigned) // waited 7 s: the 10 s bucket
	// An execution enqueued before EnqueuedAt existed waits from its creation.
	f.observeTransition(&messages.Execution{Status: messages.ExecQueued, CreatedAt: 100 * s},
		&messages.Execution{Status: messages.ExecAssigned, AssignedAt: 100*s + 50})
	running := &messages.Execution{Status: messages.ExecRunning, StartedAt: 111 * s}
	f.observeTransition(assigned, running) // neither assigned nor finished
	f.observeTransition(running, &messages.Execution{Status: messages.ExecCompleted, StartedAt: 111 * s, CompletedAt: 151 * s})
	f.observeTransition(running, &messages.Execution{Status: messages.ExecFailed, StartedAt: 111 * s, CompletedAt: 112 * s})
	// Stopped while queued: an outcome, no run.
	f.observeTransition(queued, &messages.Execution{Status: messages.ExecStopped, CompletedAt: 120 * s})

	waits, waitSum := f.QueueWait.Snapshot()
	if waits[0] != 1 || waits[5] != 1 || waitSum != 7.05 {
		t.Errorf("queue waits %v sum %v", waits, waitSum)
	}
	runs, runSum := f.RunDuration.Snapshot()
	if runs[0] != 1 || runs[3] != 0 || runs[4] != 1 || runSum != 41 {
		t.Errorf("run durations %v sum %v", runs, runSum)
	}
	for i, want := range []uint64{1, 1, 1} {
		if got := f.Finished[i].Load(); got != want {
			t.Errorf("finished %s = %d, want %d", Outcomes[i], got, want)
		}
	}
	// A record already final (a repeated report) counts nothing more.
	f.observeTransition(&messages.Execution{Status: messages.ExecCompleted}, &messages.Execution{Status: messages.ExecCompleted})
	if f.Finished[0].Load() != 1 {
		t.Error("a final record counted twice")
	}
}
