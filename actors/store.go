package actors

import (
	"time"

	"github.com/exekra/orchestrator/messages"
)

// Store is what the actors need from persistence. storage.Store implements
// it; tests may pass the real store on a temp dir. Every write returns once
// it is durable.
type Store interface {
	// workflows and triggers
	CountWorkflows() (int, error)
	CreateWorkflow(w *messages.Workflow, audit *messages.AuditEntry) error
	UpdateWorkflow(id string, name, description *string, labels []string, now messages.Time, audit *messages.AuditEntry) (*messages.Workflow, error)
	DeleteWorkflow(id string, audit *messages.AuditEntry) ([]string, error)
	GetWorkflow(id string) (*messages.Workflow, error)
	SaveDraft(v *messages.Version, audit *messages.AuditEntry) (*messages.Version, error)
	PublishLatest(workflowID string, now messages.Time, audit *messages.AuditEntry) (*messages.Version, error)
	CreateTrigger(t *messages.Trigger, secret string, audit *messages.AuditEntry) error
	UpdateTrigger(id string, ch messages.TriggerChange, audit *messages.AuditEntry) (*messages.TriggerRecord, error)
	RecordTriggerFire(id string, firedAt messages.Time, result string, nextRunAt messages.Time, audit *messages.AuditEntry) error
	DeleteTrigger(id string, audit *messages.AuditEntry) error
	AllTriggers() ([]*messages.TriggerRecord, error)
	TriggerWithSecret(id string) (*messages.TriggerRecord, error)
	// license
	License() (string, error)
	SaveLicense(text string, onlyIfAbsent bool, audit *messages.AuditEntry) error
	// accounts
	CreateUser(u *messages.User, audit *messages.AuditEntry) error
	SaveUser(u *messages.User, audit *messages.AuditEntry) error
	AllUsers() ([]*messages.User, error)
	RevokeToken(tokenID string, expiresAt time.Time, audit *messages.AuditEntry) error
	RevokedTokens(now time.Time) (map[string]time.Time, error)
	AppendAudit(entries ...*messages.AuditEntry) error
	// runners
	CreateRunnerAsync(r *messages.Runner, audit *messages.AuditEntry, done func(error))
	SaveRunner(r *messages.Runner, audit *messages.AuditEntry) error
	SaveRunnerAsync(r *messages.Runner, done func(error))
	DeleteRunner(id string, audit *messages.AuditEntry) error
	GetRunner(id string) (*messages.Runner, error)
	AllRunners() ([]*messages.Runner, error)
	// executions
	GetExecution(id string) (*messages.Execution, error)
	CreateExecutionsAsync(es []*messages.Execution, dedupeKeys []string, done func([]messages.CreateOutcome, error))
	SaveExecution(e *messages.Execution, expect messages.ExecutionStatus, appendLogs string, audit *messages.AuditEntry) error
	// EachQueued calls fn with every QUEUED execution's queue entry, in
	// queue order, without decoding the executions (id is valid during
	// the call only).
	EachQueued(fn func(id []byte, p messages.Priority, enqueuedAt messages.Time, labels []byte)) error
	// ExecutionStats counts the executions by status.
	ExecutionStats() (messages.ExecutionStats, error)
	// InFlightExecutions returns every ASSIGNED or RUNNING execution.
	InFlightExecutions() ([]*messages.Execution, error)
}
