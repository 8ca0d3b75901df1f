package actors

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// QueueWaitBounds are the upper bounds (seconds) of the queue-wait
// histogram: from enqueued to assigned to a runner.
var QueueWaitBounds = [...]float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600}

// RunDurationBounds are the upper bounds (seconds) of the run-duration
// histogram: from started to finished.
var RunDurationBounds = [...]float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400}

// Outcomes are the terminal statuses, in the order of
// ExecutionFigures.Finished.
var Outcomes = [...]messages.ExecutionStatus{messages.ExecCompleted, messages.ExecFailed, messages.ExecStopped}

// ExecutionFigures are the execution outcomes since start, observed by the
// execution actors when a transition is durable (executionActor.commit).
// Readers load them at any time (GET /metrics).
type ExecutionFigures struct {
	// QueueWait observes QUEUED → ASSIGNED: the wait since the execution
	// was (last) enqueued.
	QueueWait AtomicHistogram
	// RunDuration observes a finish after a start: COMPLETED, FAILED or
	// STOPPED with a startedAt.
	RunDuration AtomicHistogram
	// Finished counts the executions that reached each of Outcomes.
	Finished [len(Outcomes)]atomic.Uint64
}

// AtomicHistogram is a histogram of durations over 15 fixed bounds
// (seconds) with atomics (no lock, no allocation): counts[i] counts the
// observations above bounds[i-1] and at most bounds[i]; the last count is
// above every bound.
type AtomicHistogram struct {
	counts   [16]atomic.Uint64
	sumNanos atomic.Int64
}

// observe adds one duration (negative ones count as 0) to h over bounds.
func (h *AtomicHistogram) observe(bounds *[15]float64, d time.Duration) {
	if d < 0 {
		d = 0
	}
	secs := d.Seconds()
	i := 0
	for i < len(bounds) && secs > bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	if h.sumNanos.Add(int64(d)) < 0 {
		h.sumNanos.Store(math.MaxInt64) // saturate rather than wrap
	}
}

// Snapshot copies the counts (len(bounds)+1 of them) and the sum in seconds.
func (h *AtomicHistogram) Snapshot() (counts []uint64, sumSeconds float64) {
	counts = make([]uint64, len(h.counts))
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
	}
	return counts, float64(h.sumNanos.Load()) / 1e9
}

// ExecutionFigures exposes the execution outcomes since start.
func (s *System) ExecutionFigures() *ExecutionFigures { return &s.execFigures }

// observeTransition records what a durable transition from prev to next
// tells: a queue wait when it assigns, an outcome (and a run duration when
// it had started) when it finishes. Atomics only: it runs on every commit.
func (f *ExecutionFigures) observeTransition(prev, next *messages.Execution) {
	if prev.Status == messages.ExecQueued && next.Status == messages.ExecAssigned {
		from := prev.EnqueuedAt
		if from == 0 {
			from = prev.CreatedAt
		}
		f.QueueWait.observe(&QueueWaitBounds, time.Duration(next.AssignedAt-from)*time.Millisecond)
		return
	}
	if prev.Status.Terminal() || !next.Status.Terminal() {
		return
	}
	for i, o := range Outcomes {
		if next.Status == o {
			f.Finished[i].Add(1)
		}
	}
	if next.StartedAt != 0 && next.CompletedAt != 0 {
		f.RunDuration.observe(&RunDurationBounds, time.Duration(next.CompletedAt-next.StartedAt)*time.Millisecond)
	}
}
