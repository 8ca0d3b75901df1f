package actors

import (
	"fmt"

	"github.com/exekra/orchestrator/messages"
)

// Waiting explains why the QUEUED execution e has not started: its place
// in the line the dispatcher keeps (asked of the dispatcher, which answers
// from its queue without walking it: execQueue.Position), the unattended
// runners that have all its labels by status (a walk of the runner
// registry's lock-free snapshot, O(runners), outside every actor), and
// a one-sentence reason. It is nil when e is no longer queued.
func (s *System) Waiting(e *messages.Execution) (*messages.Waiting, error) {
	if e.Status != messages.ExecQueued {
		return nil, nil
	}
	w, err := messages.Ask(s, &messages.ExplainWaiting{ID: e.ID})
	if err != nil {
		return nil, err
	}
	if w == nil || w.Position == 0 {
		return nil, nil // assigned or stopped meanwhile
	}
	w.MatchingRunners = s.RunnerCounts(e.RunnerLabels)
	w.Reason = waitingReason(s.LicenseState(), e.RunnerLabels, w)
	return w, nil
}

// RunnerCounts counts the unattended runners that have every label of
// labels, by status (attended runners never take queued work).
func (s *System) RunnerCounts(labels []string) messages.RunnerCounts {
	var c messages.RunnerCounts
	v := s.runnerReg.Load()
	if v == nil {
		return c
	}
	for _, e := range v.ordered() {
		r := e.view.Load()
		if r == nil || e.deleted.Load() || r.Type == messages.RunnerAttended || !messages.HasAllLabels(labels, r.Labels) {
			continue
		}
		switch r.Status {
		case messages.RunnerOnline:
			c.Online++
		case messages.RunnerBusy:
			c.Busy++
		default:
			c.Offline++
		}
	}
	return c
}

// waitingReason is the one sentence of a waiting object.
func waitingReason(lic messages.LicenseState, labels []string, w *messages.Waiting) string {
	m := w.MatchingRunners
	runners := "runners"
	if len(labels) > 0 {
		runners = "runners with labels " + messages.FormatLabels(labels)
	}
	switch {
	case lic == messages.LicenseExpired || lic == messages.LicenseInvalid:
		return "The license has expired: renew it so that runners take work again."
	case m.Online+m.Busy+m.Offline == 0 && len(labels) > 0:
		return "No runner has the labels " + messages.FormatLabels(labels) + "."
	case m.Online+m.Busy+m.Offline == 0:
		return "No unattended runner is registered."
	case m.Online+m.Busy == 0:
		return fmt.Sprintf("All matching %s are offline (%d offline).", runners, m.Offline)
	case m.Online == 0:
		return fmt.Sprintf("All matching %s are busy (%d busy, %d offline).", runners, m.Busy, m.Offline)
	}
	return fmt.Sprintf("Position %d in the queue: %d execution(s) ahead of it go to the same runners first.", w.Position, w.Ahead)
}
