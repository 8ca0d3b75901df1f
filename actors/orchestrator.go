package actors

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Names of the orchestrator's children.
const (
	childLicense  = "license"
	childAccounts = "accounts"
)

// childSpec is one top-level child: its name and how to make its props.
type childSpec struct {
	name  string
	props func(s *System) *actor.Props
}

// children is the ordered list of the orchestrator's children; features add
// theirs here. Order matters at start: a child may read what earlier
// children published (accounts and runners read the license, say).
var children = []childSpec{
	// events comes first: every later child's changes are fanned out.
	{childEvents, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &eventsActor{sys: s} })
	}},
	{childLicense, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &licenseActor{sys: s} })
	}},
	{childAccounts, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &accountsActor{sys: s} })
	}},
	{childDispatcher, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &dispatcherActor{sys: s} })
	}},
	{childExecutions, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &executionsActor{sys: s} },
			actor.WithSupervisor(childSupervision()))
	}},
	{childRunners, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &runnersActor{sys: s} },
			actor.WithSupervisor(childSupervision()))
	}},
	{childWorkflows, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &workflowsActor{sys: s} })
	}},
	{childAssets, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &assetsActor{sys: s} })
	}},
	{childSubscriptions, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &subscriptionsActor{sys: s} })
	}},
	// triggers stays last: its schedules fire into the executions owner.
	{childTriggers, func(s *System) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor { return &triggersActor{sys: s} },
			actor.WithSupervisor(childSupervision()))
	}},
}

// childSupervision is the strategy of every supervisor in the tree: restart a
// failed child (which rehydrates from storage in Started), at most 10 times
// in 10 seconds, then stop it.
func childSupervision() actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider)
}

// orchestrator is the top supervisor.
//
// Handles: *actor.Started (spawns the first child), *childReady (spawns the
// next, or reports the tree ready), *actor.Stopping. Sends: nothing to
// children but their props. State: how many children are up. Timers: none.
type orchestrator struct {
	sys   *System
	ready chan error
	next  int
}

// Receive implements actor.Actor.
func (o *orchestrator) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		o.next = 0
		o.spawnNext(ctx)
	case *childReady:
		// Children start one after the other, in the order of children: each
		// reports readiness at the end of its Started (rehydration), so a
		// child may rely on what the earlier ones published. A restarted
		// child reports again; that is ignored.
		if o.next < len(children) && msg.name == children[o.next].name {
			o.next++
			o.spawnNext(ctx)
		}
	case *actor.Terminated:
		// A child that supervision gave up on while the tree starts (its
		// rehydration failed again and again): the start fails now, with
		// the reason in the log, instead of waiting out Start's bound.
		o.signal(fmt.Errorf("actors: %s stopped while starting (see the log for its failures)", msg.Who.GetId()))
	case *actor.Stopping:
		o.sys.cfg.Logger.Debug("actor tree stopping")
	}
}

func (o *orchestrator) spawnNext(ctx actor.Context) {
	if o.next == len(children) {
		o.signal(nil)
		return
	}
	c := children[o.next]
	if _, err := ctx.SpawnNamed(c.props(o.sys), c.name); err != nil {
		o.signal(fmt.Errorf("actors: spawn %s: %w", c.name, err))
	}
}

func (o *orchestrator) signal(err error) {
	if o.ready != nil {
		o.ready <- err
		o.ready = nil
	}
}

// childReady is sent by each top-level child to its parent at the end of
// its Started handler.
type childReady struct{ name string }

// reportReady tells the parent that a top-level child has rehydrated.
func reportReady(ctx actor.Context, name string) {
	if p := ctx.Parent(); p != nil { // nil for an actor a test spawns alone
		ctx.Send(p, &childReady{name: name})
	}
}

// levelShift is a slog handler that moves protoactor's info logs to debug.
type levelShift struct{ h slog.Handler }

func (l levelShift) Enabled(ctx context.Context, lv slog.Level) bool {
	if lv < slog.LevelWarn {
		lv = slog.LevelDebug
	}
	return l.h.Enabled(ctx, lv)
}

func (l levelShift) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	return l.h.Handle(ctx, r)
}

func (l levelShift) WithAttrs(a []slog.Attr) slog.Handler { return levelShift{l.h.WithAttrs(a)} }
func (l levelShift) WithGroup(n string) slog.Handler      { return levelShift{l.h.WithGroup(n)} }
