package main

import (
	"testing"
	"time"
)

// TestE2EDeliveriesDeleteAnswersWaiters: a test ping or a retry whose
// attempt is in flight when its subscription is deleted is answered at once
// with 404 NOT_FOUND (the subscription is gone), not left waiting until the
// handler's bound runs out and then answered 500.
func TestE2EDeliveriesDeleteAnswersWaiters(t *testing.T) {
	h := newHarness(t, withLoopbackOutbound)

	type answer struct {
		r   *response
		dur time.Duration
	}
	inFlight := func(path string) <-chan answer {
		ch := make(chan answer, 1)
		began := time.Now()
		go func() {
			r := h.request(h.admin, "POST", path, nil)
			ch <- answer{r, time.Since(began)}
		}()
		return ch
	}
	check := func(what string, ch <-chan answer) {
		t.Helper()
		a := <-ch
		if a.r.status != 404 || a.r.str("code") != "NOT_FOUND" || a.dur > 5*time.Second {
			t.Fatalf("%s after its subscription was deleted: %d %s after %v", what, a.r.status, a.r.body, a.dur)
		}
	}

	// A test ping to a receiver that holds it.
	hung := newReceiver(t, 0)
	sub := h.subscribe(hung, "ping")
	ping := inFlight("/api/subscriptions/" + sub + "/test")
	h.rnEventually("the receiver holds the ping", func() bool { return hung.received("ping") == 1 })
	h.expect(h.admin, "DELETE", "/api/subscriptions/"+sub, nil, 200)
	check("a ping", ping)

	// A retry of a failing delivery, held by its receiver.
	flaky := newReceiver(t, 500)
	sub = h.subscribe(flaky, "runner.online")
	h.onlineRunner("delete-waiters-r1")
	h.rnEventually("a failed attempt", func() bool {
		ds := h.deliveries(sub)
		return len(ds) == 1 && ds[0]["attempts"] == float64(1)
	})
	flaky.status.Store(0)
	retry := inFlight("/api/subscriptions/" + sub + "/deliveries/" + h.deliveries(sub)[0]["id"].(string) + "/retry")
	h.rnEventually("the receiver holds the retry", func() bool { return flaky.received("runner.online") == 2 })
	h.expect(h.admin, "DELETE", "/api/subscriptions/"+sub, nil, 200)
	check("a retry", retry)
}
