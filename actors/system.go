package actors

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// Config is what the actor tree needs besides storage.
type Config struct {
	// LicenseKey verifies licenses.
	LicenseKey ed25519.PublicKey
	// Now is the clock (time.Now when nil); tests inject a fake one.
	Now func() time.Time
	// Logger receives supervision, dead-letter and actor logs.
	Logger *slog.Logger
	// AskTimeout bounds System.Ask (10 s when zero).
	AskTimeout time.Duration
	// RunnerTTL, OfflineGrace, QueueTimeout and StaleCheckInterval are the
	// liveness settings of docs/api.md, "Command line".
	RunnerTTL          time.Duration
	OfflineGrace       time.Duration
	QueueTimeout       time.Duration
	StaleCheckInterval time.Duration
	// AfterFunc arms a timer that calls f after d and returns its stop
	// function (time.AfterFunc when nil). Every timer of the tree goes
	// through it (dispatcher, runners, executions, triggers, events,
	// deliveries, the API-key use flush), so tests drive them with a fake
	// clock instead of sleeping.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// OutboundAllowLoopback lets event subscriptions target loopback and
	// link-local addresses (serve --outbound-allow-loopback).
	OutboundAllowLoopback bool
	// LoginMaxFailures is --login-max-failures: failed logins in a row
	// before an email is throttled (0 = off; login_throttle.go).
	LoginMaxFailures int
}

// Census counts what the license limits and what the system state derives
// from. Each counter is written only by the actor that owns those records.
type Census struct {
	Users     atomic.Int64
	Runners   atomic.Int64
	Workflows atomic.Int64
}

// System is the running actor tree.
type System struct {
	cfg    Config
	store  Store
	actors *actor.ActorSystem
	root   *actor.PID
	pids   map[string]*actor.PID // top-level children by name
	census Census

	license  atomic.Pointer[licenseView]
	accounts atomic.Pointer[accountsView]
	revoked  revokedSet
	keys     apiKeyState
	stopped  atomic.Bool
	restarts atomic.Uint64
	gauges   Gauges

	// execFigures are the execution outcomes GET /metrics exposes
	// (exec_figures.go).
	execFigures ExecutionFigures
	// outboxFigures are the delivery actors' figures GET /metrics exposes
	// (outbox_figures.go).
	outboxFigures OutboxFigures
	// outboxBells wake the delivery actors after a commit (outbox_bell.go).
	outboxBells outboxBells
	// runnerReg is the runners supervisor's published registry.
	runnerReg atomic.Pointer[runnersView]
	// slots are Ask's reusable return addresses (ask.go).
	slots replySlots
	// streamIDs numbers the live event streams (events.go).
	streamIDs atomic.Uint64
	// buffered counts commands held for an execution actor that was
	// passivating (tests read it).
	buffered atomic.Uint64
	// staleChecks counts the dispatcher's queue-timeout checks (tests
	// wait on it instead of sleeping).
	staleChecks atomic.Uint64
	// runnerTicks counts the runners supervisor's checks (idem).
	runnerTicks atomic.Uint64
}

// Restarts counts supervision decisions (actor failures) since start.
func (s *System) Restarts() uint64 { return s.restarts.Load() }

// Start builds the actor system, spawns the orchestrator and waits until
// every top-level child has rehydrated from storage.
func Start(cfg Config, store Store) (*System, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AskTimeout <= 0 {
		cfg.AskTimeout = 10 * time.Second
	}
	logger := slog.New(redactHandler{cfg.Logger.Handler()}).With("component", "actors")
	as := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quietLogger(logger) }),
		actor.WithDeadLetterThrottleCount(10),
		actor.WithDeadLetterThrottleInterval(time.Second),
		actor.WithDeadLetterRequestLogging(false),
	)
	s := &System{cfg: cfg, store: store, actors: as, pids: map[string]*actor.PID{}}
	s.license.Store(&licenseView{})
	s.accounts.Store(&accountsView{byID: map[string]*messages.User{}})
	s.keys.init()
	s.subscribeEvents(logger)

	ready := make(chan error, 1)
	props := actor.PropsFromProducer(func() actor.Actor { return &orchestrator{sys: s, ready: ready} },
		actor.WithSupervisor(childSupervision()))
	// The children's pids are known before they start (children read them
	// from their Started handlers and timers).
	for _, c := range children {
		s.pids[c.name] = as.NewLocalPID("orchestrator/" + c.name)
	}
	// Committed events reach the events actor from storage's writer.
	store.SetEventSink(s.eventSink)
	pid, err := as.Root.SpawnNamed(props, "orchestrator")
	if err != nil {
		return nil, fmt.Errorf("actors: spawn orchestrator: %w", err)
	}
	s.root = pid
	select {
	case err := <-ready:
		if err != nil {
			_ = as.Root.PoisonFuture(pid).Wait()
			return nil, err
		}
	case <-time.After(60 * time.Second):
		return nil, errors.New("actors: orchestrator did not start in 60s")
	}
	return s, nil
}

// subscribeEvents logs supervision decisions and undeliverable messages.
func (s *System) subscribeEvents(logger *slog.Logger) {
	s.actors.EventStream.Subscribe(func(evt any) {
		switch e := evt.(type) {
		case *actor.SupervisorEvent:
			s.restarts.Add(1)
			logger.Warn("actor failed", "actor", e.Child.GetId(), "directive", e.Directive.String(), "reason", fmt.Sprint(e.Reason))
		case *actor.DeadLetterEvent:
			if _, ok := e.Message.(actor.SystemMessage); ok {
				return
			}
			logger.Debug("dead letter", "actor", e.PID.GetId(), "message", fmt.Sprintf("%T", e.Message))
		}
	})
}

// Stop poisons the orchestrator and waits for the whole tree to stop (every
// actor flushes in Stopping). The caller closes storage afterwards.
func (s *System) Stop() {
	if !s.stopped.CompareAndSwap(false, true) {
		return
	}
	_ = s.actors.Root.PoisonFuture(s.root).Wait()
	s.store.SetEventSink(nil)
	s.actors.Shutdown()
}

// Now is the system clock.
func (s *System) Now() time.Time { return s.cfg.Now() }

// Census exposes the counters of licensed things.
func (s *System) Census() *Census { return &s.census }

// ErrStopped is returned by Ask after Stop.
var ErrStopped = messages.Errorf(messages.CodeUnavailable, "server is shutting down")

// Ask sends cmd to the actor that owns it and waits for the reply. A reply
// that is an error is returned as the error. Unknown command types panic:
// that is a programming error, caught by tests. Callers use it through
// messages.Ask, which types the reply by the command's declared one.
func (s *System) Ask(cmd any) (any, error) {
	return s.AskTimeout(cmd, s.cfg.AskTimeout)
}

// AskTimeout is Ask with an explicit timeout (long polls use it).
func (s *System) AskTimeout(cmd any, timeout time.Duration) (any, error) {
	if s.stopped.Load() {
		return nil, ErrStopped
	}
	res, err := s.ask(s.pids[route(cmd)], cmd, timeout)
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case error:
		return nil, r
	case *actor.DeadLetterResponse:
		if route(cmd) == childRunners {
			// The runner's actor stopped (deleted) between routing and delivery.
			return nil, messages.NotFound("runner")
		}
		return nil, fmt.Errorf("actors: %T reached no actor", cmd)
	}
	return res, nil
}

// Tell sends a notice to its owner without waiting.
func (s *System) Tell(cmd messages.Notice) {
	if s.stopped.Load() {
		return
	}
	s.actors.Root.Send(s.pids[route(cmd)], cmd)
}

// route names the top-level actor that owns a command.
func route(cmd any) string {
	switch cmd.(type) {
	case *messages.ActivateLicense, *messages.ReplaceLicense, *messages.ValidateLicense:
		return childLicense
	case *messages.Bootstrap, *messages.CreateUser, *messages.UpdateUser, *messages.ChangePassword,
		*messages.RevokeToken, *messages.RecordLogin, *messages.RecordAudit,
		*messages.BeginLogin, *messages.AbandonLogin,
		*messages.CreateAPIKey, *messages.RevokeAPIKey, *messages.APIKeyUsedFromNewAddress:
		return childAccounts
	case *messages.CreateWorkflow, *messages.UpdateWorkflow, *messages.DeleteWorkflow, *messages.SaveDraft,
		*messages.PublishLatest:
		return childWorkflows
	case *messages.CreateTrigger, *messages.UpdateTrigger, *messages.DeleteTrigger, *messages.FireWebhook:
		return childTriggers
	case *messages.CreateAsset, *messages.UpdateAsset, *messages.DeleteAsset, *messages.HandOverAssets:
		return childAssets
	case *messages.CreateExecution, *messages.StartAttended, *messages.StopExecution, *messages.ReportStatus,
		*messages.RunnerLost:
		return childExecutions
	case *messages.ClaimWork, *messages.CancelClaim, *messages.RelabelClaim, *messages.ExplainWaiting:
		return childDispatcher
	case *messages.EndStreams:
		return childEvents
	case *messages.CreateSubscription, *messages.UpdateSubscription, *messages.DeleteSubscription,
		*messages.RotateSubscriptionSecret, *messages.TestSubscription, *messages.RetryDelivery:
		return childSubscriptions
	case *messages.RegisterRunner, *messages.RegenerateSecret, *messages.DeleteRunner, *messages.Heartbeat,
		*messages.PollWork, *messages.ExecutionAssigned, *messages.ExecutionReleased, *messages.StopRequested,
		*messages.SetRunnerLabels:
		return childRunners
	}
	panic(fmt.Sprintf("actors: no owner for %T", cmd))
}

// quietLogger lowers protoactor's own chatter (it logs every spawn at info).
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelShift{l.Handler()})
}
