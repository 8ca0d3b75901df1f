package messages

import (
	"encoding/json"
	"math"
)

// Role is a user's role (docs/api.md, "Conventions").
type Role string

// The user roles.
const (
	RoleAdmin     Role = "ADMIN"
	RoleDeveloper Role = "DEVELOPER"
	RoleOperator  Role = "OPERATOR"
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r Role) bool { return r == RoleAdmin || r == RoleDeveloper || r == RoleOperator }

// User is a person who uses the API. PasswordHash never leaves the server:
// it is excluded from JSON, and storage keeps it in the record it encodes
// itself (see storage's user codec).
type User struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Role         Role   `json:"role"`
	Disabled     bool   `json:"disabled"`
	CreatedAt    Time   `json:"createdAt"`
	UpdatedAt    Time   `json:"updatedAt"`
	LastLoginAt  Time   `json:"lastLoginAt"`
	PasswordHash string `json:"-"`
	// SessionEpoch is carried in every token issued to the user; a token
	// whose epoch is older is revoked (password change), except the one
	// token named by EpochSurvivor, the one that made the change.
	SessionEpoch  int64  `json:"-"`
	EpochSurvivor string `json:"-"`
}

// AuditEntry is one line of the append-only audit log (docs/api.md, "Conventions").
type AuditEntry struct {
	ID         string `json:"id"`
	Action     string `json:"action"`
	ActorType  string `json:"actorType"` // user, runner, system, anonymous
	ActorID    string `json:"actorId"`
	TargetType string `json:"targetType,omitempty"`
	TargetID   string `json:"targetId,omitempty"`
	IP         string `json:"ip"`
	Details    string `json:"details,omitempty"`
	CreatedAt  Time   `json:"createdAt"`
}

// Audit actions, append-only.
const (
	AuditLoginSucceeded   = "auth.login.succeeded"
	AuditLoginFailed      = "auth.login.failed"
	AuditLogout           = "auth.logout"
	AuditPasswordChanged  = "auth.password.changed"
	AuditBootstrap        = "auth.bootstrap"
	AuditUserCreated      = "user.created"
	AuditUserUpdated      = "user.updated"
	AuditLicenseActivated = "license.activated"
	AuditLicenseReplaced  = "license.replaced"
	AuditLicenseValidated = "license.validated"
	AuditRunnerRegistered = "runner.registered"
	AuditRunnerDeleted    = "runner.deleted"
	AuditRunnerSecret     = "runner.secret.regenerated"
	AuditRunnerLabels     = "runner.labels.changed"
	AuditWorkflowCreated  = "workflow.created"
	AuditWorkflowUpdated  = "workflow.updated"
	AuditWorkflowDeleted  = "workflow.deleted"
	AuditPublished        = "workflow.published"
	AuditTriggerCreated   = "trigger.created"
	AuditTriggerUpdated   = "trigger.updated"
	AuditTriggerDeleted   = "trigger.deleted"
	AuditTriggerFired     = "trigger.fired"
	AuditExecutionStale   = "execution.stale"
	AuditExecutionStopped = "execution.stopped"
	AuditBackupDownloaded = "system.backup.downloaded"
)

// Actor types of audit entries.
const (
	ActorUser      = "user"
	ActorRunner    = "runner"
	ActorSystem    = "system"
	ActorAnonymous = "anonymous"
)

// Workflow is an automation with its versions (docs/graph.md).
type Workflow struct {
	ID                  string     `json:"id"`
	Name                string     `json:"name"`
	Description         string     `json:"description"`
	CreatedBy           string     `json:"createdBy"`
	CreatedAt           Time       `json:"createdAt"`
	UpdatedAt           Time       `json:"updatedAt"`
	PublishedVersionID  NullString `json:"publishedVersionId"`
	LatestVersionNumber int        `json:"latestVersionNumber"`
	// RunnerLabels: the labels a runner needs to take this workflow's
	// executions (sorted; always an array on reads).
	RunnerLabels []string `json:"runnerLabels"`
}

// NullString is a value that is absent until something sets it (a
// workflow's published version, a runner's address before its first
// heartbeat): JSON null while empty, like every other "none" in the API
// (runnerId, publishedAt, lastHeartbeatAt). Reading null leaves it empty,
// so stored records of either form decode alike.
type NullString string

// MarshalJSON implements json.Marshaler.
func (id NullString) MarshalJSON() ([]byte, error) {
	if id == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(id))
}

// VersionStatus is the lifecycle of a workflow version.
type VersionStatus string

// The version statuses.
const (
	VersionDraft      VersionStatus = "DRAFT"
	VersionPublished  VersionStatus = "PUBLISHED"
	VersionSuperseded VersionStatus = "SUPERSEDED"
)

// Version is one saved graph of a workflow.
type Version struct {
	ID          string        `json:"id"`
	WorkflowID  string        `json:"workflowId"`
	Number      int           `json:"number"`
	Status      VersionStatus `json:"status"`
	GraphJSON   string        `json:"graphJson"`
	Metadata    string        `json:"metadata"`
	CreatedBy   string        `json:"createdBy"`
	CreatedAt   Time          `json:"createdAt"`
	PublishedAt Time          `json:"publishedAt"`
	// AssetNames are the assets the version's node params reference (as
	// written), recorded when it is published (docs/api.md, "Assets").
	AssetNames []string `json:"assetNames,omitempty"`
}

// ExecutionStatus is the state of an execution (docs/api.md, "Conventions").
type ExecutionStatus string

// The execution states.
const (
	ExecQueued    ExecutionStatus = "QUEUED"
	ExecAssigned  ExecutionStatus = "ASSIGNED"
	ExecRunning   ExecutionStatus = "RUNNING"
	ExecCompleted ExecutionStatus = "COMPLETED"
	ExecFailed    ExecutionStatus = "FAILED"
	ExecStopped   ExecutionStatus = "STOPPED"
)

// Terminal reports whether s is final.
func (s ExecutionStatus) Terminal() bool {
	return s == ExecCompleted || s == ExecFailed || s == ExecStopped
}

// Valid reports whether s is one of the six states.
func (s ExecutionStatus) Valid() bool {
	switch s {
	case ExecQueued, ExecAssigned, ExecRunning, ExecCompleted, ExecFailed, ExecStopped:
		return true
	}
	return false
}

// CanTransition reports whether the state machine of docs/api.md, "Conventions" allows from → to.
// A RUNNING → RUNNING report is a progress report and is allowed.
func CanTransition(from, to ExecutionStatus) bool {
	switch from {
	case ExecQueued:
		return to == ExecAssigned || to == ExecFailed || to == ExecStopped
	case ExecAssigned:
		return to == ExecRunning || to == ExecQueued || to == ExecFailed || to == ExecStopped
	case ExecRunning:
		return to == ExecRunning || to == ExecCompleted || to == ExecFailed || to == ExecStopped
	}
	return false
}

// Priority orders the queue: HIGH before NORMAL before LOW.
type Priority string

// The priorities.
const (
	PriorityLow    Priority = "LOW"
	PriorityNormal Priority = "NORMAL"
	PriorityHigh   Priority = "HIGH"
)

// Rank is the queue rank of p: 0 for HIGH, 1 for NORMAL, 2 for LOW, -1 if invalid.
func (p Priority) Rank() int {
	switch p {
	case PriorityHigh:
		return 0
	case PriorityNormal:
		return 1
	case PriorityLow:
		return 2
	}
	return -1
}

// ExecutionMetrics are the resource figures a runner reports for a run.
type ExecutionMetrics struct {
	CPUAvg    *float64 `json:"cpuAvg,omitempty"`
	CPUPeak   *float64 `json:"cpuPeak,omitempty"`
	MemAvgMB  *float64 `json:"memAvgMB,omitempty"`
	MemPeakMB *float64 `json:"memPeakMB,omitempty"`
}

// MaxMetric bounds every reported metric (a CPU percentage or megabytes):
// far above any real machine, and small enough that sums over any number
// of executions stay finite in the analytics.
const MaxMetric = 1e9

// Validate refuses metrics that are not finite numbers in [0, MaxMetric]:
// an Inf or NaN cannot be written as JSON, and two huge values summed to
// +Inf broke every later analytics answer.
func (m *ExecutionMetrics) Validate() error {
	for _, f := range []struct {
		name string
		v    *float64
	}{{"cpuAvg", m.CPUAvg}, {"cpuPeak", m.CPUPeak}, {"memAvgMB", m.MemAvgMB}, {"memPeakMB", m.MemPeakMB}} {
		if f.v != nil && !(*f.v >= 0 && *f.v <= MaxMetric) {
			return Invalid("metrics.%s must be a number from 0 to %g", f.name, float64(MaxMetric))
		}
	}
	return nil
}

// WorkflowRef is the embedded {id, name} of an execution's workflow.
type WorkflowRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Execution is one run of a workflow version (docs/api.md, "Conventions").
type Execution struct {
	ID            string            `json:"id"`
	WorkflowID    string            `json:"workflowId"`
	Workflow      WorkflowRef       `json:"workflow"`
	VersionID     string            `json:"versionId"`
	RunnerID      *string           `json:"runnerId"`
	TriggeredBy   *string           `json:"triggeredBy"`
	TriggerID     *string           `json:"triggerId"`
	Status        ExecutionStatus   `json:"status"`
	Priority      Priority          `json:"priority"`
	Input         json.RawMessage   `json:"input"`
	Logs          *string           `json:"logs"`
	Metrics       *ExecutionMetrics `json:"metrics"`
	Error         *string           `json:"error"`
	Attempt       int               `json:"attempt"`
	StopRequested bool              `json:"stopRequested"`
	DedupeKey     string            `json:"dedupeKey,omitempty"`
	EnqueuedAt    Time              `json:"enqueuedAt"`
	AssignedAt    Time              `json:"assignedAt"`
	StartedAt     Time              `json:"startedAt"`
	CompletedAt   Time              `json:"completedAt"`
	CreatedAt     Time              `json:"createdAt"`
	UpdatedAt     Time              `json:"updatedAt"`
	// RunnerLabels: the labels a runner needs to take it (sorted).
	RunnerLabels []string `json:"runnerLabels"`
	// Waiting: why a QUEUED execution has not started (GET of one
	// execution only; never stored).
	Waiting *Waiting `json:"waiting,omitempty"`
}

// RunnerType is ATTENDED or UNATTENDED (the OpenAPI document).
type RunnerType string

// The runner types.
const (
	RunnerAttended   RunnerType = "ATTENDED"
	RunnerUnattended RunnerType = "UNATTENDED"
)

// RunnerStatus is a runner's liveness.
type RunnerStatus string

// The runner statuses.
const (
	RunnerOnline  RunnerStatus = "ONLINE"
	RunnerBusy    RunnerStatus = "BUSY"
	RunnerOffline RunnerStatus = "OFFLINE"
)

// Runner is a registered machine. SecretHash and SecretEpoch never leave the
// server (excluded from JSON; storage encodes them itself).
type Runner struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	MachineKey         string          `json:"machineKey"`
	Type               RunnerType      `json:"type"`
	Status             RunnerStatus    `json:"status"`
	LastHeartbeatAt    Time            `json:"lastHeartbeatAt"`
	IPAddress          NullString      `json:"ipAddress"`
	Metrics            json.RawMessage `json:"metrics"`
	CurrentExecutionID *string         `json:"currentExecutionId"`
	// Labels: sorted, without duplicates; always an array on reads (a
	// record from before labels has none).
	Labels       []string `json:"labels"`
	OfflineSince Time     `json:"offlineSince"`
	CreatedAt    Time     `json:"createdAt"`
	UpdatedAt    Time     `json:"updatedAt"`
	SecretHash   string   `json:"-"`
	// SecretEpoch increases with every secret regeneration; runner tokens
	// carry it and die when it moves on.
	SecretEpoch int64 `json:"-"`
}

// TriggerType is SCHEDULE or WEBHOOK (docs/api.md, "Conventions").
type TriggerType string

// The trigger types.
const (
	TriggerSchedule TriggerType = "SCHEDULE"
	TriggerWebhook  TriggerType = "WEBHOOK"
)

// Trigger starts executions of a workflow on a schedule or a webhook call.
// Config is the JSON text of the trigger's configuration; a webhook secret in
// it is write-only (reads show HasSecret).
type Trigger struct {
	ID          string      `json:"id"`
	WorkflowID  string      `json:"workflowId"`
	Type        TriggerType `json:"type"`
	Config      string      `json:"config"`
	Enabled     bool        `json:"enabled"`
	Priority    Priority    `json:"priority"`
	NextRunAt   Time        `json:"nextRunAt"`
	WebhookPath string      `json:"webhookPath,omitempty"`
	HasSecret   bool        `json:"hasSecret"`
	LastFiredAt Time        `json:"lastFiredAt"`
	LastResult  string      `json:"lastResult,omitempty"`
	CreatedBy   string      `json:"createdBy"`
	CreatedAt   Time        `json:"createdAt"`
	UpdatedAt   Time        `json:"updatedAt"`
}

// Pagination is the list envelope's paging block (docs/api.md, "Conventions").
type Pagination struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	Total      int `json:"total"`
	TotalPages int `json:"totalPages"`
}

// NewPagination fills TotalPages from total and limit.
func NewPagination(page, limit, total int) Pagination {
	pages := 0
	if limit > 0 {
		pages = (total + limit - 1) / limit
	}
	return Pagination{Page: page, Limit: limit, Total: total, TotalPages: pages}
}

// Page selects one page of a newest-first list.
type Page struct {
	Page  int
	Limit int
}

// Offset is the number of items before the page.
func (p Page) Offset() int {
	if p.Limit > 0 && p.Page-1 > math.MaxInt/p.Limit {
		return math.MaxInt // past any list (page=9223372036854775807 overflowed to page 1)
	}
	return (p.Page - 1) * p.Limit
}
