package main

import (
	"fmt"
	"testing"
	"time"
)

// /metrics tells the event deliveries by outcome and the outbox depth
// (docs/operations.md, Metrics): a live receiver moves the delivered count,
// a dead one makes the backlog grow and age, a 410 counts as gone.
func TestE2EMetricsEventDeliveries(t *testing.T) {
	h := newHarness(t, withLoopbackOutbound)
	m := h.scrape()
	for _, series := range []string{`exekra_event_deliveries_total{outcome="delivered"}`, `exekra_event_deliveries_total{outcome="failed_attempt"}`,
		`exekra_event_deliveries_total{outcome="gave_up"}`, `exekra_event_deliveries_total{outcome="gone"}`,
		`exekra_event_outbox_pending`, `exekra_event_outbox_oldest_pending_seconds`} {
		if v, ok := m[series]; !ok || v != 0 {
			t.Fatalf("before any subscription %s = %v (present %v), want 0", series, v, ok)
		}
	}

	live, dead, gone := newReceiver(t, 200), newReceiver(t, 503), newReceiver(t, 410)
	h.subscribe(live, "runner.online")
	h.subscribe(dead, "runner.online")
	h.subscribe(gone, "runner.online")
	for i := range 3 {
		h.onlineRunner(fmt.Sprintf("metrics-r%d", i))
	}
	h.rnEventually("three delivered to the live receiver", func() bool { return live.received("runner.online") == 3 })
	h.rnEventually("the counters move", func() bool {
		m = h.scrape()
		return m[`exekra_event_deliveries_total{outcome="delivered"}`] == 3 && m[`exekra_event_deliveries_total{outcome="gone"}`] == 1 &&
			m[`exekra_event_deliveries_total{outcome="failed_attempt"}`] == 1
	})
	first := m[`exekra_event_outbox_pending`]
	if first < 3 || m[`exekra_event_deliveries_total{outcome="gave_up"}`] != 0 {
		t.Fatalf("with a dead receiver behind three events: pending %v, gave_up %v", first, m[`exekra_event_deliveries_total{outcome="gave_up"}`])
	}

	// More events: the live receiver keeps up, the dead one's backlog grows
	// and ages with the (server) clock.
	for i := 3; i < 5; i++ {
		h.onlineRunner(fmt.Sprintf("metrics-r%d", i))
	}
	h.rnEventually("five delivered to the live receiver", func() bool { return live.received("runner.online") == 5 })
	h.clock.Advance(90 * time.Second)
	h.rnEventually("the backlog grows and ages", func() bool {
		m = h.scrape()
		return m[`exekra_event_outbox_pending`] >= first+2 && m[`exekra_event_deliveries_total{outcome="delivered"}`] == 5
	})
	if age := m[`exekra_event_outbox_oldest_pending_seconds`]; age < 90 || age > 120 {
		t.Fatalf("oldest pending %v s, want about 90", age)
	}
	if dead.received("runner.online") < 1 {
		t.Fatal("the dead receiver was never tried")
	}
}
