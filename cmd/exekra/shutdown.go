package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/exekra/orchestrator/actors"
)

// After SIGINT/SIGTERM the process exits within shutdownDeadline, whatever
// the actors or the clients are doing (docs/decisions.md, "Shutdown
// deadline"): in-flight requests get drainBudget, the actor tree
// actorsBudget, the database close the rest, and a watchdog ends the wait
// just before the deadline. Writes a client saw acknowledged are durable
// already, so a step that overruns costs nothing that was promised.
const (
	shutdownDeadline = 15 * time.Second
	drainBudget      = 8 * time.Second
	actorsBudget     = 4 * time.Second
	watchdogAt       = shutdownDeadline - time.Second
)

// errShutdownDeadline is serve's error when the database close did not
// finish in time (exit code 1).
var errShutdownDeadline = errors.New("shutdown did not finish within 15 s; exited without closing the database (acknowledged writes are durable)")

// closeBounds are Close's bounds (zero: the defaults of an in-process
// Close, which may wait out the longest long poll) and its current step.
type closeBounds struct {
	drainTimeout, actorsTimeout time.Duration
	current                     atomic.Value // string
}

func (b *closeBounds) step(name string) { b.current.Store(name) }

func (b *closeBounds) drain() time.Duration {
	if b.drainTimeout > 0 {
		return b.drainTimeout
	}
	return 70 * time.Second // past the longest long poll
}

// drainExpired logs (and forgives) in-flight requests that outlived the
// drain: the server stops without them.
func (b *closeBounds) drainExpired(log *slog.Logger, err error) bool {
	if !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	log.Warn("in-flight requests did not finish in time: their connections are closed", "waited", b.drain().String())
	return true
}

// stopActors stops the actor tree within its bound, logging when it did not.
func (b *closeBounds) stopActors(log *slog.Logger, sys *actors.System) {
	d := b.actorsTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	if !sys.StopWithin(d) {
		log.Warn("the actor tree did not stop in time: closing the database under it", "waited", d.String())
	}
}

// shutdown is Close for a signal: bounded by shutdownDeadline. When the
// watchdog fires it logs the step that did not finish and returns
// errShutdownDeadline; the caller exits.
func (m *Main) shutdown() error {
	m.stop.drainTimeout, m.stop.actorsTimeout = drainBudget, actorsBudget
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	t := time.NewTimer(watchdogAt)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		step, _ := m.stop.current.Load().(string)
		m.log.Error("shutdown deadline reached: exiting before it finished", "unfinished", step,
			"deadline", shutdownDeadline.String())
		return errShutdownDeadline
	}
}
