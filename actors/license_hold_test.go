package actors

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// While the license is EXPIRED, queued work stays queued: a claim gets
// nothing (immediately, or after its wait), an assignment made before the
// expiry is still answered again and may be reported on, and a renewal
// hands the held work to the claim that waits for it.
func TestExpiredLicenseHoldsQueuedWork(t *testing.T) {
	e := newTestEnv(t, time.Now().UTC().Truncate(time.Millisecond), messages.LicenseLimits{}, 72*time.Hour,
		withConfig(func(c *Config) { c.QueueTimeout = 1000 * time.Hour }))
	wf := e.workflow("held")
	started := e.create(wf, messages.PriorityNormal)
	if got := e.claim("r1", 0); got == nil || got.ID != started.ID {
		t.Fatalf("claim before expiry: %+v", got)
	}
	held := e.create(wf, messages.PriorityHigh)

	e.clock.Advance(80 * time.Hour) // past the 72 h license, no grace
	if st := e.sys.LicenseState(); st != messages.LicenseExpired {
		t.Fatalf("license: %s", st)
	}
	if got := e.claim("r2", 0); got != nil {
		t.Fatalf("an expired license handed out %s", got.ID)
	}
	if got := e.claim("r2", 50*time.Millisecond); got != nil {
		t.Fatalf("an expired license handed out %s to a waiting claim", got.ID)
	}
	if x := e.get(held.ID); x.Status != messages.ExecQueued {
		t.Fatalf("held execution: %s", x.Status)
	}
	// Work already handed out goes on.
	if _, err := e.report(started.ID, "r1", messages.ExecRunning, "go on"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.report(started.ID, "r1", messages.ExecCompleted, ""); err != nil {
		t.Fatal(err)
	}

	// A claim parked while expired is served by the renewal.
	got := make(chan *messages.Execution, 1)
	go func() {
		res, err := messages.AskTimeout(e.sys, &messages.ClaimWork{RunnerID: "r2", Wait: 5 * time.Second}, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		x, _ := res.(*messages.Execution)
		got <- x
	}()
	eventually(t, "the claim to park", func() bool { return e.sys.gauges.WaitingClaims.Load() == 1 })
	if _, err := e.ask(&messages.ReplaceLicense{Text: e.license("a@example.com", 72*time.Hour, 0, messages.LicenseLimits{})}); err != nil {
		t.Fatal(err)
	}
	select {
	case x := <-got:
		if x == nil || x.ID != held.ID {
			t.Fatalf("after the renewal: %+v", x)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the renewal did not serve the waiting claim")
	}
}
