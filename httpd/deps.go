package httpd

import (
	"io"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// Core is what the HTTP layer needs from the actor system: commands to the
// owners of live state, and the snapshots they publish for per-request
// checks. actors.System implements it.
type Core interface {
	// Asker sends a command to its owner actor and waits for the reply.
	// Handlers never call it directly: messages.Ask and messages.AskTimeout
	// type the reply by the command's declared one (messages/command.go;
	// TestHandlersAskTyped checks).
	messages.Asker
	// Tell sends a notice without waiting.
	Tell(cmd messages.Notice)
	// Now is the server clock.
	Now() time.Time
	// State is the system state (docs/api.md, "Conventions").
	State() messages.SystemState
	// LicenseState is the license's standing now.
	LicenseState() messages.LicenseState
	// LicenseStatus is the license status object.
	LicenseStatus() messages.LicenseStatus
	// CheckCanCreate is LICENSE_EXPIRED when creating is refused.
	CheckCanCreate() error
	// Session validates a user token's subject, id and epoch.
	Session(userID, tokenID string, epoch int64) (*messages.User, error)
	// User is the live snapshot of a user (nil when none); never mutate it.
	User(id string) *messages.User
	// RunnerSession validates a runner token's subject, id and secret epoch.
	RunnerSession(runnerID, tokenID string, epoch int64) error
	// RunnerByCredentials checks machine credentials and returns the
	// runner id and its secret epoch (UNAUTHORIZED when wrong).
	RunnerByCredentials(machineKey, machineSecret string) (string, int64, error)
	// Runner is the live public record of a runner (nil when none); never mutate it.
	Runner(id string) *messages.Runner
	// ListRunners pages the live records of the runners matching f, newest
	// first, with the total; never mutate them.
	ListRunners(f messages.RunnerFilter, page messages.Page) ([]*messages.Runner, int)
	// RunnerIdle reports whether a poll by the runner certainly finds no
	// work and no stop requests (the allocation-free idle poll).
	RunnerIdle(id string) bool
	// Waiting explains why a QUEUED execution has not started (nil for any
	// other, or once it left the queue).
	Waiting(e *messages.Execution) (*messages.Waiting, error)
	// TokenRevoked reports whether a token id was revoked.
	TokenRevoked(tokenID string) bool
	// APIKeySession authenticates an API key used from ip and answers its
	// owner acting with the key's role (a copy), and the key.
	APIKeySession(key, ip string) (*messages.User, *messages.APIKey, error)
	// APIKeys lists a user's API keys (everyone's for ""), newest first.
	APIKeys(userID string) []*messages.APIKey
	// AuditEntry builds an audit entry stamped now.
	AuditEntry(o messages.Origin, action, targetType, targetID, details string) *messages.AuditEntry
	// EventSource opens live event streams (handlers_events.go).
	EventSource
}

// Store is the read side of storage that handlers use for history and
// lists (reads never go through the actors). storage.Store implements it.
type Store interface {
	// Ping is nil when the database is usable.
	Ping() error
	// UserByEmail finds a user, case-insensitively (nil when absent).
	UserByEmail(email string) (*messages.User, error)
	// ListUsers pages users newest first.
	ListUsers(page messages.Page) ([]*messages.User, int, error)
	// ListAudit pages the audit log newest first.
	ListAudit(page messages.Page) ([]*messages.AuditEntry, int, error)
	// WriteBackup streams a consistent copy of the database.
	WriteBackup(w io.Writer) (int64, error)
	// ListWorkflows pages workflows newest first.
	ListWorkflows(page messages.Page) ([]*messages.Workflow, int, error)
	// WorkflowDetail reads a workflow with versions, triggers and execution count.
	WorkflowDetail(id string) (*messages.WorkflowDetail, error)
	// ListVersions lists a workflow's versions newest first.
	ListVersions(workflowID string) ([]*messages.Version, error)
	// LatestVersion reads a workflow's latest version (NOT_FOUND when none).
	LatestVersion(workflowID string) (*messages.Version, error)
	// GetTrigger reads a trigger (nil when absent); never its secret.
	GetTrigger(id string) (*messages.Trigger, error)
	// ListTriggers pages triggers newest first.
	ListTriggers(f messages.TriggerFilter, page messages.Page) ([]*messages.Trigger, int, error)
	// GetExecution reads an execution with its logs (nil when absent).
	GetExecution(id string) (*messages.Execution, error)
	// ExecutionLogs reads the stored log of an execution (nil when none).
	ExecutionLogs(id string) (*string, error)
	// ListExecutions pages executions newest first through an index.
	ListExecutions(f messages.ExecutionFilter, page messages.Page) ([]*messages.Execution, int, error)
	// ExecutionStats reads the execution counters.
	ExecutionStats() (messages.ExecutionStats, error)
	// ProcessPerformance sums the analytics aggregates of a createdAt range.
	ProcessPerformance(from, to messages.Time) ([]messages.WorkflowPerformance, error)
	// ListRunners pages runners newest first; never a secret.
	ListRunners(f messages.RunnerFilter, page messages.Page) ([]*messages.Runner, int, error)
	// RunnerProcesses lists the published workflows for runners.
	RunnerProcesses() ([]messages.RunnerProcess, error)
	// VersionGraph reads a version's graph JSON ("" when absent).
	VersionGraph(versionID string) (string, error)
	// GetVersion reads one version (nil when absent).
	GetVersion(id string) (*messages.Version, error)
	// GetAsset reads an asset (nil when absent); never a secret.
	GetAsset(id string) (*messages.Asset, error)
	// ListAssets pages assets newest first; never a secret.
	ListAssets(page messages.Page) ([]*messages.Asset, int, error)
	// GetSubscription reads a subscription (nil when absent); never its secret.
	GetSubscription(id string) (*messages.Subscription, error)
	// ListSubscriptions pages subscriptions newest first; never a secret.
	ListSubscriptions(page messages.Page) ([]*messages.Subscription, int, error)
	// ListDeliveries pages a subscription's deliveries newest first
	// (NOT_FOUND when the subscription is absent).
	ListDeliveries(subID string, page messages.Page) ([]*messages.Delivery, int, error)
}
