package messages

import (
	"encoding/json"
	"time"
)

// The commands and notifications of executions, the queue and the runner
// protocol. They are the contract between the execution actors, the
// dispatcher, the runner actors and the trigger actors; handlers send the
// commands through System.Ask.

// CreateExecution queues a run of the workflow's published version.
// Reply: *ExecutionCreated. Errors: NOT_FOUND (workflow), NO_PUBLISHED_VERSION,
// LICENSE_EXPIRED.
type CreateExecution struct {
	WorkflowID  string
	Priority    Priority
	Input       json.RawMessage // nil when none
	TriggeredBy *string         // user id, nil for triggers
	TriggerID   *string         // trigger id, nil for users
	// DedupeKey (Idempotency-Key header or dedupeKey field): a key seen in
	// the last 24 h for the same workflow returns the first execution.
	DedupeKey string
	// RunnerLabels overrides the workflow's runnerLabels when not nil (an
	// empty list: any runner).
	RunnerLabels []string
	Origin       Origin
}

// ExecutionCreated answers CreateExecution. Duplicate is true when an
// earlier execution with the same dedupe key was returned (HTTP 200, not 201).
type ExecutionCreated struct {
	Execution *Execution
	Duplicate bool
}

// DedupeWindow is how long an idempotency key is remembered.
const DedupeWindow = 24 * time.Hour

// StopExecution stops an execution: QUEUED or ASSIGNED → STOPPED at once,
// RUNNING → stopRequested. Reply: *Execution. Finished → INVALID_TRANSITION.
type StopExecution struct {
	ID     string
	Origin Origin
}

// ReportStatus is a runner's status report on an execution assigned to it.
// Reply: *Execution. Another runner → FORBIDDEN; QUEUED/ASSIGNED reported →
// VALIDATION_ERROR; illegal transition → INVALID_TRANSITION; the terminal
// status already recorded → the execution (idempotent).
type ReportStatus struct {
	ExecutionID string
	RunnerID    string
	Status      ExecutionStatus
	Logs        *string
	Metrics     *ExecutionMetrics
	Error       *string
	Origin      Origin
}

// StartAttended creates an execution that starts RUNNING on an attended
// runner, bypassing the queue. Reply: *Execution.
type StartAttended struct {
	RunnerID   string
	WorkflowID string
	Input      json.RawMessage
	Origin     Origin
}

// ClaimWork asks the dispatcher for the head of the queue on behalf of an
// idle runner. With Wait > 0 the dispatcher holds the claim until work
// arrives or Wait passes. Reply: *Execution (now ASSIGNED to the runner,
// durable) or *NoWork. A new claim from the same runner replaces an older
// one (which is answered *NoWork).
type ClaimWork struct {
	RunnerID string
	Wait     time.Duration
	// Labels: the runner's labels (sorted); it takes only executions whose
	// runnerLabels it has all of.
	Labels []string
}

// RelabelClaim tells the dispatcher that a runner's labels changed: its
// parked claim, if any, is matched again with the new ones.
type RelabelClaim struct {
	RunnerID string
	Labels   []string
}

// CancelClaim withdraws a runner's pending claim (its poll ended).
type CancelClaim struct {
	RunnerID string
}

// NoWork answers a claim or poll with nothing to do.
type NoWork struct{}

// RunnerLost tells an execution that its runner is gone (OFFLINE past the
// grace period, or deleted): ASSIGNED goes back to QUEUED once (attempt 2)
// and FAILED the second time; RUNNING goes FAILED. Reason becomes the error.
// Reply (when requested): *Execution.
type RunnerLost struct {
	ExecutionID string
	RunnerID    string
	Reason      string
	// Answer, when set, is what the sender gets instead of the execution,
	// once the change has been applied by every owner it touches (the
	// queue, when the execution goes back to it).
	Answer any
}

// ExecutionAssigned notifies a runner actor that an execution is now its
// work (attended starts; dispatcher assignments answer the claim instead).
type ExecutionAssigned struct {
	RunnerID    string
	ExecutionID string
	Status      ExecutionStatus
	// Answer, when set, is what the runner's owner answers the sender once
	// it has applied the change (instead of an Ack): an answer relayed
	// through it leaves only when the runner already reads the change.
	Answer any
}

// ExecutionReleased notifies a runner actor that an execution is no longer
// its work: it finished (Status terminal) or was taken back (Status QUEUED).
type ExecutionReleased struct {
	RunnerID    string
	ExecutionID string
	Status      ExecutionStatus
	// Answer, when set, is what the runner's owner answers the sender once
	// it has applied the change (instead of an Ack): an answer relayed
	// through it leaves only when the runner already reads the change.
	Answer any
}

// StopRequested notifies a runner actor that a RUNNING execution of its own
// should stop; it is delivered in the next heartbeat and poll answers.
type StopRequested struct {
	RunnerID    string
	ExecutionID string
	// Terminal: the execution is already STOPPED (it was ASSIGNED): the
	// runner is released and hears of it once in stopExecutionIds.
	Terminal bool
	// Answer: as in ExecutionReleased.
	Answer any
}

// ExecutionStats are the counters of GET /api/executions/stats.
type ExecutionStats struct {
	Total     int `json:"total"`
	Queued    int `json:"queued"`
	Assigned  int `json:"assigned"`
	Running   int `json:"running"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Stopped   int `json:"stopped"`
}

// ExecutionFilter selects executions for a list (zero fields are no filter).
type ExecutionFilter struct {
	WorkflowID string
	RunnerID   string
	Status     ExecutionStatus
	// TriggerID keeps the executions a trigger created (no index: records
	// are decoded along the narrowest index of the other fields).
	TriggerID string
	From, To  Time // createdAt range, inclusive
}

// CreateOutcome is the outcome of one execution in a batched create: the
// stored execution (an earlier one when Duplicate), or Err (a *Error such as
// NOT_FOUND or NO_PUBLISHED_VERSION) when that one was refused.
type CreateOutcome struct {
	Execution *Execution
	Duplicate bool
	Err       error
}

// PreparedCreation is the creation of one execution prepared by the store
// as it arrives (bound to its workflow's published version, encoded), so
// that the batch it joins commits sooner; the store checks it again inside
// the batch's transaction.
type PreparedCreation interface {
	// PreparedExecution is the execution as it would be stored (nil when
	// its workflow refused it as prepared).
	PreparedExecution() *Execution
}
