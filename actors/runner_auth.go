package actors

import (
	"crypto/sha256"
	"crypto/subtle"

	"github.com/exekra/orchestrator/messages"
)

// The runner checks every runner request makes. They read the registry the
// runners supervisor publishes and the atomics each runner actor keeps, so
// they never lock and never wait on an actor.

var errRunnerSession = messages.Errorf(messages.CodeUnauthorized, "runner token is no longer valid")

// runnerEntryOf is the live entry of a registered runner (nil when none).
func (s *System) runnerEntryOf(id string) *runnerEntry {
	v := s.runnerReg.Load()
	if v == nil {
		return nil
	}
	e := v.get(id)
	if e == nil || e.deleted.Load() {
		return nil
	}
	return e
}

// RunnerSession validates a runner token against the live registry: the
// runner exists and the token carries its current secret epoch (a secret
// regeneration moves the epoch on, a deletion removes the runner).
func (s *System) RunnerSession(runnerID, tokenID string, epoch int64) error {
	e := s.runnerEntryOf(runnerID)
	if e == nil || e.epoch.Load() != epoch {
		return errRunnerSession
	}
	return nil
}

var errBadMachine = messages.Errorf(messages.CodeUnauthorized, "invalid machine key or secret")

// dummySecretHash is compared against for unknown keys, so both failures
// take the same time.
var dummySecretHash = sha256.Sum256([]byte("exekra-runner-timing-equalizer"))

// RunnerByCredentials checks machine credentials (hashes compared in
// constant time) and returns the runner id and its current secret epoch.
func (s *System) RunnerByCredentials(machineKey, machineSecret string) (string, int64, error) {
	h := sha256.Sum256([]byte(machineSecret))
	var e *runnerEntry
	if v := s.runnerReg.Load(); v != nil {
		if x, ok := v.byKey.Load(machineKey); ok {
			e = x.(*runnerEntry)
		}
	}
	want := &dummySecretHash
	if e != nil && !e.deleted.Load() {
		want = e.secretHash.Load()
	}
	ok := subtle.ConstantTimeCompare(h[:], want[:]) == 1
	if e == nil || e.deleted.Load() || !ok || machineSecret == "" {
		return "", 0, errBadMachine
	}
	return e.id, e.epoch.Load(), nil
}

// Runner is the live public record of a runner (nil when none): status,
// heartbeat, address, metrics and current execution, never its secret. The
// value is shared and must not be mutated.
func (s *System) Runner(id string) *messages.Runner {
	e := s.runnerEntryOf(id)
	if e == nil {
		return nil
	}
	return e.view.Load()
}

// RunnerIdle reports whether a poll by the runner certainly finds nothing:
// no stop requests pending, and the runner is OFFLINE holding no execution,
// ATTENDED, or ONLINE without work while the queue is empty. The idle poll
// is answered from this without an actor round trip.
func (s *System) RunnerIdle(id string) bool {
	e := s.runnerEntryOf(id)
	if e == nil || e.stops.Load() != 0 {
		return false
	}
	switch e.status.Load() {
	case stOffline:
		return !e.hasCurrent.Load() // else its ASSIGNED execution comes again
	case stOnline:
		if e.typ == messages.RunnerAttended {
			return true
		}
		q := &s.gauges.QueueDepth
		return q[0].Load()+q[1].Load()+q[2].Load() == 0
	}
	return false // BUSY: the actor knows whether its execution is still ASSIGNED
}

// ListRunners pages the registered runners matching f (status and type as
// the runners supervisor knows them now), newest first, and counts them
// all. It reads the published registry, never storage: a filtered list of
// 10,000 runners used to decode every stored runner on each request.
// The records are shared and must not be mutated.
func (s *System) ListRunners(f messages.RunnerFilter, page messages.Page) ([]*messages.Runner, int) {
	v := s.runnerReg.Load()
	if v == nil {
		return nil, 0
	}
	// Newest first: the registry's order backwards, filtered as it goes.
	from := page.Offset()
	out := make([]*messages.Runner, 0, page.Limit)
	total := 0
	order := v.ordered()
	for i := len(order) - 1; i >= 0; i-- {
		e := order[i]
		r := e.view.Load()
		if r == nil || e.deleted.Load() || f.Status != "" && r.Status != f.Status || f.Type != "" && r.Type != f.Type ||
			!messages.HasAllLabels(f.Labels, r.Labels) {
			continue
		}
		if total >= from && len(out) < page.Limit {
			out = append(out, r)
		}
		total++
	}
	return out, total
}
