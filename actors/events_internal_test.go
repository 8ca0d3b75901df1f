package actors

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func TestEventRingKeepsOrderAndBounds(t *testing.T) {
	var r eventRing
	frame := func(n int) []byte { return make([]byte, n) }
	for i := 1; i <= eventRingMin+5; i++ {
		ev := &messages.Event{Seq: uint64(i)}
		evicted, ok := r.push(messages.StreamEvent{Event: ev, Frame: frame(10)})
		if (i > eventRingMin) != ok || (ok && evicted != uint64(i-eventRingMin)) {
			t.Fatalf("push %d: evicted %d %v", i, evicted, ok)
		}
	}
	if got := r.after(eventRingMin + 2); len(got) != 3 || got[0].Event.Seq != eventRingMin+3 {
		t.Fatalf("after: %d events", len(got))
	}
	if got := r.after(0); len(got) != eventRingMin || got[0].Event.Seq != 6 {
		t.Fatalf("after 0: %d events from %d", len(got), got[0].Event.Seq)
	}
	// Huge frames shorten the window instead of growing memory.
	big := eventRingBytes / 4
	for i := 0; i < 8; i++ {
		r.push(messages.StreamEvent{Event: &messages.Event{Seq: uint64(eventRingMin + 10 + i)}, Frame: frame(big)})
	}
	if r.bytes > eventRingBytes || r.n > 4 {
		t.Fatalf("ring holds %d events, %d bytes", r.n, r.bytes)
	}
}

func TestEventsFilterMatch(t *testing.T) {
	ex := &messages.Event{Type: messages.EventExecution, Subject: "e1"}
	log := &messages.Event{Type: messages.EventExecutionLog, Subject: "e1"}
	other := &messages.Event{Type: messages.EventExecution, Subject: "e2"}
	rn := &messages.Event{Type: messages.EventRunner, Subject: "r1"}
	reset := &messages.Event{Type: messages.EventReset}
	for _, c := range []struct {
		f    messages.EventFilter
		want [5]bool
	}{
		{messages.EventFilter{}, [5]bool{true, true, true, true, true}},
		{messages.EventFilter{Types: map[string]bool{"runner": true}}, [5]bool{false, false, false, true, true}},
		{messages.EventFilter{ExecutionID: "e1"}, [5]bool{true, true, false, false, true}},
		{messages.EventFilter{ExecutionID: "e1", Types: map[string]bool{"execution": true}}, [5]bool{true, false, false, false, true}},
	} {
		for i, ev := range []*messages.Event{ex, log, other, rn, reset} {
			if got := c.f.Match(ev); got != c.want[i] {
				t.Errorf("filter %+v, event %s/%s: %v", c.f, ev.Type, ev.Subject, got)
			}
		}
	}
	frame := string(messages.AppendSSE(nil, &messages.Event{Seq: 7, Type: "runner", Data: []byte(`{"a":"x\ny"}`)}))
	if frame != "id: 7\nevent: runner\ndata: {\"a\":\"x\\ny\"}\n\n" {
		t.Fatalf("frame %q", frame)
	}
}

func TestEventsStatsAtMostOncePerSecond(t *testing.T) {
	e := newExecEnv(t)
	wf := e.workflow("stats-wf")
	sub, err := e.sys.SubscribeEvents(messages.SubscribeEvents{Filter: messages.EventFilter{Types: map[string]bool{"stats": true}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.create(wf, messages.PriorityNormal)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case batch, ok := <-sub.Events:
			if !ok {
				t.Fatal("stream ended")
			}
			for _, se := range batch {
				if se.Event.Type != messages.EventStats {
					continue
				}
				var st struct{ Queued int }
				if err := json.Unmarshal(se.Event.Data, &st); err != nil {
					t.Fatal(err)
				}
				if st.Queued == 5 {
					return
				}
			}
		case <-deadline:
			t.Fatal("no stats event with 5 queued")
		}
	}
}

func TestEventsLicenseStandingChangesByTheClock(t *testing.T) {
	e := newExecEnv(t)
	sub, err := e.sys.SubscribeEvents(messages.SubscribeEvents{})
	if err != nil {
		t.Fatal(err)
	}
	next := func() *messages.Event {
		t.Helper()
		select {
		case batch := <-sub.Events:
			return batch[0].Event
		case <-time.After(10 * time.Second):
			t.Fatal("no event in 10 s")
		}
		return nil
	}
	tick := func() { e.sys.actors.Root.Send(e.sys.pids[childEvents], &licenseTick{}) }
	tick() // nothing changed: nothing announced
	e.clock.Advance(73 * time.Hour)
	tick()
	// The activation of the test's license is announced too, after its
	// commit, so it may arrive at any point before the expiry.
	ev := next()
	var st messages.LicenseStatus
	for ev.Type == messages.EventLicense && json.Unmarshal(ev.Data, &st) == nil && st.Status == messages.LicenseActive {
		ev = next()
	}
	if ev.Type != messages.EventLicense || json.Unmarshal(ev.Data, &st) != nil || st.Status != messages.LicenseExpired {
		t.Fatalf("got %s %s", ev.Type, ev.Data)
	}
	if stored, _ := e.store.ReadEvents(ev.Seq-1, 1); len(stored) != 1 || stored[0].Type != messages.EventLicense {
		t.Fatalf("the license event is not durable: %+v", stored)
	}
	tick() // announced already
	e.store.PublishLive([]messages.Event{{Type: "marker"}})
	if ev := next(); ev.Type != "marker" {
		t.Fatalf("a second license event: %s %s", ev.Type, ev.Data)
	}
}

func TestEventsOutboundTypes(t *testing.T) {
	running := &messages.Execution{ID: "e1", Status: messages.ExecRunning}
	for _, c := range []struct {
		next  messages.ExecutionStatus
		audit string
		want  string
	}{
		{messages.ExecCompleted, "", "execution.completed"},
		{messages.ExecFailed, "", "execution.failed"},
		{messages.ExecStopped, messages.AuditExecutionStopped, "execution.stopped"},
		{messages.ExecFailed, messages.AuditExecutionStale, "execution.failed,execution.stale"},
		{messages.ExecQueued, messages.AuditExecutionStale, "execution.stale"},
		{messages.ExecRunning, "", ""}, // a progress report: live, no delivery
	} {
		next := *running
		next.Status = c.next
		var audit *messages.AuditEntry
		if c.audit != "" {
			audit = &messages.AuditEntry{Action: c.audit}
		}
		ev := executionEffects(running, &next, audit).Events[0]
		if got := strings.Join(ev.Outbound, ","); got != c.want {
			t.Errorf("%s (%s): outbound %q, want %q", c.next, c.audit, got, c.want)
		}
	}
	r := &messages.Runner{ID: "r1", Status: messages.RunnerOnline}
	if got := runnerStatusEffects(r, nil, stOffline).Events[0].Outbound; len(got) != 1 || got[0] != "runner.online" {
		t.Errorf("came up: %v", got)
	}
	r.Status = messages.RunnerOffline
	if got := runnerStatusEffects(r, nil, stBusy).Events[0].Outbound; len(got) != 1 || got[0] != "runner.offline" {
		t.Errorf("went down: %v", got)
	}
	r.Status = messages.RunnerBusy
	if got := runnerStatusEffects(r, nil, stOnline).Events[0].Outbound; len(got) != 0 {
		t.Errorf("ONLINE → BUSY: %v", got)
	}
}
