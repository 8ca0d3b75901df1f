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
	CreateTrigger(t *messages.Trigger, secret string, fx messages.Effects) error
	UpdateTrigger(id string, ch messages.TriggerChange, fx messages.Effects) (*messages.TriggerRecord, error)
	RecordTriggerFire(id string, firedAt messages.Time, result string, nextRunAt messages.Time, fx messages.Effects) error
	DeleteTrigger(id string, fx messages.Effects) error
	AllTriggers() ([]*messages.TriggerRecord, error)
	TriggerWithSecret(id string) (*messages.TriggerRecord, error)
	// license
	License() (string, error)
	SaveLicense(text string, onlyIfAbsent bool, fx messages.Effects) error
	// accounts
	CreateUser(u *messages.User, audit *messages.AuditEntry) error
	SaveUser(u *messages.User, audit *messages.AuditEntry) error
	AllUsers() ([]*messages.User, error)
	RevokeToken(tokenID string, expiresAt time.Time, audit *messages.AuditEntry) error
	RevokedTokens(now time.Time) (map[string]time.Time, error)
	AppendAudit(entries ...*messages.AuditEntry) error
	CreateAPIKey(k *messages.APIKey, audit *messages.AuditEntry) error
	SaveAPIKey(k *messages.APIKey, audit *messages.AuditEntry) error
	DeleteAPIKey(id string, audit *messages.AuditEntry) error
	TouchAPIKeys(lastUsed map[string]messages.Time) error
	AllAPIKeys() ([]*messages.APIKey, error)
	// runners
	CreateRunnerAsync(r *messages.Runner, fx messages.Effects, done func(error))
	SaveRunner(r *messages.Runner, fx messages.Effects) error
	SaveRunnerAsync(r *messages.Runner, fx messages.Effects, done func(error))
	DeleteRunner(id string, fx messages.Effects) error
	GetRunner(id string) (*messages.Runner, error)
	AllRunners() ([]*messages.Runner, error)
	// executions
	GetExecution(id string) (*messages.Execution, error)
	CreateExecutionsAsync(es []*messages.Execution, dedupeKeys []string, done func([]messages.CreateOutcome, error))
	// PrepareCreation prepares a creation as it arrives (bound and
	// encoded while the batch before commits); CreatePreparedAsync creates
	// a batch of them as CreateExecutionsAsync does.
	PrepareCreation(e *messages.Execution, dedupeKey string) messages.PreparedCreation
	CreatePreparedAsync(ps []messages.PreparedCreation, done func([]messages.CreateOutcome, error))
	SaveExecution(e *messages.Execution, expect messages.ExecutionStatus, appendLogs string, fx messages.Effects) error
	// SaveTransition is SaveExecution from the owner, which passes the
	// record as last stored (prev): the write is prepared outside the
	// storage writer.
	SaveTransition(prev, e *messages.Execution, expect messages.ExecutionStatus, appendLogs string, fx messages.Effects) error
	// EachQueued calls fn with every QUEUED execution's queue entry, in
	// queue order, without decoding the executions (id is valid during
	// the call only).
	EachQueued(fn func(id []byte, p messages.Priority, enqueuedAt messages.Time, labels []byte)) error
	// ExecutionStats counts the executions by status.
	ExecutionStats() (messages.ExecutionStats, error)
	// InFlightExecutions returns every ASSIGNED or RUNNING execution.
	InFlightExecutions() ([]*messages.Execution, error)
	// domain events (events.go)
	SetEventSink(fn func([]messages.Event))
	PublishLive(evs []messages.Event)
	AppendEvents(evs []messages.Event) error
	LastEventSeq() uint64
	// subscriptions (subscriptions.go)
	CreateSubscription(sub *messages.Subscription, secret string, fx messages.Effects) error
	UpdateSubscription(id string, ch messages.SubscriptionChange, fx messages.Effects) (*messages.Subscription, error)
	RotateSubscriptionSecret(id, secret string, now messages.Time, fx messages.Effects) (*messages.Subscription, error)
	DeleteSubscription(id string, fx messages.Effects) error
	// deliveries (deliveries.go)
	SubscriptionKeys(id string) (current, previous string, previousUntil messages.Time, err error)
	ReadEvents(after uint64, limit int) ([]messages.Event, error)
	ReadOutboundEvents(after uint64, limit, scan int, match func(outbound []string) bool) (evs []messages.Event, last uint64, more bool, err error)
	SetEventsFloor(floor uint64)
	OutboxStates() ([]*messages.OutboxState, error)
	OutboxState(id string) (*messages.OutboxState, error)
	SaveDelivery(d *messages.Delivery, ch messages.OutboxChange) error
	SaveDeliveriesAsync(subID string, ds []*messages.Delivery, ch messages.OutboxChange, done func(error))
	GetDelivery(subID, id string) (*messages.Delivery, error)
	// assets (assets.go)
	CreateAsset(a *messages.Asset, value, username, password *string, audit *messages.AuditEntry) (*messages.Asset, error)
	UpdateAsset(id string, ch messages.AssetChange, audit *messages.AuditEntry) (*messages.Asset, error)
	DeleteAsset(id string, audit *messages.AuditEntry) error
	GetAsset(id string) (*messages.Asset, error)
	HandOverAssets(executionID, runnerID string, audit *messages.AuditEntry, done func(messages.AssetBundle, error))
}
