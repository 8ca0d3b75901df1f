package messages

import (
	"encoding/json"
	"time"
)

// The commands and replies of runners (the OpenAPI document). Handlers send the commands
// to the runners supervisor through System.Ask; it forwards those about one
// runner to that runner's actor.

// RegisterRunner registers a machine. Reply: *RunnerCredentials. Errors:
// VALIDATION_ERROR, CONFLICT (name taken), LICENSE_LIMIT, LICENSE_EXPIRED.
type RegisterRunner struct {
	Name   string
	Type   RunnerType
	Labels []string
	Origin Origin
}

// RunnerCredentials answers RegisterRunner and RegenerateSecret: the only
// answers that ever show a machine secret.
type RunnerCredentials struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	MachineKey    string     `json:"machineKey"`
	MachineSecret string     `json:"machineSecret"`
	Type          RunnerType `json:"type"`
}

// RegenerateSecret gives a runner a new machine secret; the old secret and
// every token issued with it stop working at once. Reply: *RunnerCredentials.
type RegenerateSecret struct {
	ID     string
	Origin Origin
}

// DeleteRunner removes a runner; its ASSIGNED execution is re-queued and its
// RUNNING one failed (RunnerLost). Reply: *Ack. Errors: NOT_FOUND.
type DeleteRunner struct {
	ID     string
	Origin Origin
}

// Heartbeat marks a runner alive. Reply: *HeartbeatReply.
type Heartbeat struct {
	RunnerID  string
	IPAddress string
	Metrics   json.RawMessage // a JSON object, nil when none was sent
}

// HeartbeatReply is the unwrapped answer of POST /api/runners/heartbeat.
type HeartbeatReply struct {
	Status           RunnerStatus `json:"status"`
	TTLSeconds       int          `json:"ttlSeconds"`
	StopExecutionIDs []string     `json:"stopExecutionIds"`
}

// PollWork asks a runner's actor for work. Wait > 0 long-polls. Reply:
// *PollReply; when Waiter is set and the poll waits, the reply says Parked
// at once and the answer goes to Waiter instead (the HTTP layer parks the
// poll without a goroutine, docs/performance.md "Parked long polls").
type PollWork struct {
	RunnerID string
	Wait     time.Duration
	Waiter   PollWaiter
}

// PollWaiter takes the answer of a parked poll. PollAnswered is called at
// most once per poll, from the runner's actor, and must not block; the
// reply may be shared with other waiters and must not be mutated.
type PollWaiter interface {
	PollAnswered(reply *PollReply)
}

// PollReply is the runner actor's answer to a poll: the execution the runner
// should run (nil when none) and the executions it should stop. Parked: the
// poll waits and its answer will go to its PollWork's Waiter (nothing else
// is set).
type PollReply struct {
	Execution        *Execution
	StopExecutionIDs []string
	Parked           bool
}

// RunnerProcess is one published workflow an attended runner may start
// (GET /api/runners/processes).
type RunnerProcess struct {
	WorkflowID    string `json:"workflowId"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	VersionID     string `json:"versionId"`
	VersionNumber int    `json:"versionNumber"`
	PublishedAt   Time   `json:"publishedAt"`
}

// RunnerFilter selects runners for a list (zero fields are no filter).
type RunnerFilter struct {
	Status RunnerStatus
	Type   RunnerType
	// Labels: the runner has every one of them.
	Labels []string
}

// ValidRunnerType reports whether t is ATTENDED or UNATTENDED.
func ValidRunnerType(t RunnerType) bool { return t == RunnerAttended || t == RunnerUnattended }

// ValidRunnerStatus reports whether s is ONLINE, BUSY or OFFLINE.
func ValidRunnerStatus(s RunnerStatus) bool {
	return s == RunnerOnline || s == RunnerBusy || s == RunnerOffline
}
