package storage

import (
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// sinkForTest collects what the writer publishes.
type sinkForTest struct {
	mu  sync.Mutex
	got []messages.Event
}

func (k *sinkForTest) take(evs []messages.Event) {
	k.mu.Lock()
	k.got = append(k.got, evs...)
	k.mu.Unlock()
}

func (k *sinkForTest) events() []messages.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]messages.Event(nil), k.got...)
}

func TestEventsCommittedWithTheRecord(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	sink := &sinkForTest{}
	s.SetEventSink(sink.take)
	wf := putWorkflowForTest(t, s, "wf", true)

	// A creation announces the stored execution (bound to its version).
	e, _, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), "")
	if err != nil {
		t.Fatal(err)
	}
	// A transition with a log chunk: the chunk (live) comes first, with
	// its offset, then the change's own events.
	next := *e
	next.Status = messages.ExecAssigned
	audit := &messages.AuditEntry{ID: messages.NewID(time.Now()), Action: "x"}
	fx := messages.Effects{Audit: audit, Events: []messages.Event{messages.ExecutionEvent(&next, false)}}
	if err := s.SaveExecution(&next, messages.ExecQueued, "hello\n", fx); err != nil {
		t.Fatal(err)
	}
	// A refused change (wrong expected status) writes and announces nothing.
	if err := s.SaveExecution(&next, messages.ExecQueued, "nope\n", fx); messages.ErrorCode(err) != messages.CodeInvalidTransition {
		t.Fatalf("refused change: %v", err)
	}
	got := sink.events()
	if len(got) != 3 || got[0].Type != messages.EventExecution || got[1].Type != messages.EventExecutionLog || got[2].Type != messages.EventExecution {
		t.Fatalf("published: %+v", got)
	}
	if !strings.Contains(string(got[0].Data), `"workflow":{"id":"`+wf.ID+`","name":"wf"}`) || !strings.Contains(string(got[1].Data), `"offset":0,"chunk":"hello\n"`) {
		t.Fatalf("payloads: %s / %s", got[0].Data, got[1].Data)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("sequence: %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
	// Only the durable ones are stored, under their numbers.
	stored, err := s.ReadEvents(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].Seq != got[0].Seq || stored[1].Seq != got[2].Seq ||
		string(stored[1].Data) != string(got[2].Data) || stored[1].Subject != e.ID {
		t.Fatalf("stored: %+v", stored)
	}
	if entries, _, _ := s.ListAudit(messages.Page{Page: 1, Limit: 10}); len(entries) != 1 {
		t.Fatalf("audit entries: %d", len(entries))
	}

	// Numbers keep increasing across a reopen, past any live one handed out.
	s.PublishLive([]messages.Event{{Type: messages.EventStats, Data: []byte(`{}`)}})
	waitFor(t, func() bool { return len(sink.events()) == 4 })
	lastLive := sink.events()[3].Seq
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	sink2 := &sinkForTest{}
	s.SetEventSink(sink2.take)
	if s.LastEventSeq() <= lastLive {
		t.Fatalf("after reopen the sequence is at %d, live %d was handed out", s.LastEventSeq(), lastLive)
	}
	if _, _, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), ""); err != nil {
		t.Fatal(err)
	}
	if ev := sink2.events(); len(ev) != 1 || ev[0].Seq <= lastLive {
		t.Fatalf("after reopen: %+v", ev)
	}
	if stored, _ := s.ReadEvents(0, 100); len(stored) != 3 {
		t.Fatalf("stored after reopen: %d", len(stored))
	}
}

func TestEventsPrunedBeyondRetention(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	evs := make([]messages.Event, 500)
	for i := range evs {
		evs[i] = messages.Event{Type: messages.EventTrigger, Data: []byte(`{}`)}
	}
	write := func() {
		t.Helper()
		if err := s.update(func(tx *bbolt.Tx) error { return s.appendEventsTx(tx, evs) }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < (EventsRetained+eventsPruneSlack)/len(evs)+3; i++ {
		write()
	}
	n, _ := s.CountEvents()
	if n < EventsRetained || n > EventsRetained+eventsPruneSlack {
		t.Fatalf("stored %d events", n)
	}
	// The newest are the ones kept.
	if got, _ := s.ReadEvents(s.LastEventSeq()-1, 10); len(got) != 1 || got[0].Seq != s.LastEventSeq() {
		t.Fatalf("newest: %+v", got)
	}
	// The outbox floor holds back pruning above it.
	first, _ := s.ReadEvents(0, 1)
	s.SetEventsFloor(first[0].Seq - 1)
	for i := 0; i < 5; i++ {
		write()
	}
	if again, _ := s.ReadEvents(0, 1); again[0].Seq != first[0].Seq {
		t.Fatalf("pruned above the floor: %d → %d", first[0].Seq, again[0].Seq)
	}
}

// waitFor polls cond (cheap, in-memory) until it holds or 5 s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEventsOfTriggerChanges(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	sink := &sinkForTest{}
	s.SetEventSink(sink.take)
	wf := putWorkflowForTest(t, s, "wf", true)
	now := messages.TimeOf(time.Now())
	tr := &messages.Trigger{ID: messages.NewID(time.Now()), WorkflowID: wf.ID, Type: messages.TriggerWebhook,
		Config: `{}`, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateTrigger(tr, "s3cret", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordTriggerFire(tr.ID, now+1, "queued x", 0, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordTriggerFire(tr.ID, 0, "", now+60_000, messages.Effects{}); err != nil { // a next run only: no event
		t.Fatal(err)
	}
	if err := s.RecordTriggerFire(tr.ID, now+2, "skipped: previous run still queued", 0, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteWorkflow(wf.ID, &messages.AuditEntry{ID: messages.NewID(time.Now()), CreatedAt: now + 2}); err != nil {
		t.Fatal(err)
	}
	got := sink.events()
	if len(got) != 4 || got[0].Subject != tr.ID || !strings.Contains(string(got[1].Data), `"lastResult":"queued x"`) ||
		len(got[1].Outbound) != 0 || strings.Join(got[2].Outbound, ",") != "trigger.skipped" ||
		!strings.HasSuffix(string(got[3].Data), `,"deleted":true}`) {
		t.Fatalf("trigger events: %+v", got)
	}
	for _, ev := range got {
		if ev.Type != messages.EventTrigger || strings.Contains(string(ev.Data), "s3cret") {
			t.Fatalf("event %s: %s", ev.Type, ev.Data)
		}
	}
}

func TestStoredEventRoundTrip(t *testing.T) {
	for _, e := range []messages.Event{
		{Seq: 7, Type: "execution", Time: 1234, Subject: "e1", Data: []byte(`{"a":1}`)},
		{Seq: 8, Type: "runner", Time: 99, Subject: "r1", Data: []byte(`{}`), Outbound: []string{"runner.offline"}},
		{Seq: 9, Type: "execution", Subject: "e2", Data: []byte(`{}`), Outbound: []string{"execution.failed", "execution.stale"}},
	} {
		got, err := decodeStoredEvent(e.Seq, appendStoredEvent(nil, &e))
		if err != nil || got.Type != e.Type || got.Time != e.Time || got.Subject != e.Subject ||
			string(got.Data) != string(e.Data) || strings.Join(got.Outbound, ",") != strings.Join(e.Outbound, ",") {
			t.Fatalf("round trip of %+v: %+v %v", e, got, err)
		}
	}
	if _, err := decodeStoredEvent(1, []byte{3, 0, 0}); err == nil {
		t.Fatal("a damaged event decoded")
	}
}

// TestWebhookFiresRecordedOncePerBatch: the creations a webhook made in one
// batch write its newest fire on the trigger once, with one trigger event
// after the executions'; a schedule's creations leave the trigger to its
// actor (RecordTriggerFire); a trigger deleted meanwhile blocks nothing.
// Both creation paths: prepared and plain.
func TestWebhookFiresRecordedOncePerBatch(t *testing.T) {
	for _, prepared := range []bool{true, false} {
		s := openTestStore(t, t.TempDir())
		sink := &sinkForTest{}
		s.SetEventSink(sink.take)
		wf := putWorkflowForTest(t, s, "wf", true)
		base := time.Now()
		now := messages.TimeOf(base)
		hook := &messages.Trigger{ID: messages.NewID(base), WorkflowID: wf.ID, Type: messages.TriggerWebhook, Config: `{}`, Enabled: true, CreatedAt: now, UpdatedAt: now}
		sched := &messages.Trigger{ID: messages.NewID(base), WorkflowID: wf.ID, Type: messages.TriggerSchedule, Config: `{"cron":"@hourly"}`, Enabled: true, CreatedAt: now, UpdatedAt: now}
		for _, tr := range []*messages.Trigger{hook, sched} {
			if err := s.CreateTrigger(tr, "s3cret", messages.Effects{}); err != nil {
				t.Fatal(err)
			}
		}
		gone := "no-such-trigger"
		var es []*messages.Execution
		for i, tid := range []*string{&hook.ID, &hook.ID, &sched.ID, &hook.ID, &gone} {
			e := newExec(wf.ID, base.Add(time.Duration(i)*time.Millisecond), messages.PriorityNormal)
			e.TriggerID = tid
			es = append(es, e)
		}
		newest := es[3].ID
		if prepared {
			done := make(chan error, 1)
			ps := make([]messages.PreparedCreation, len(es))
			for i, e := range es {
				ps[i] = s.PrepareCreation(e, "")
			}
			s.CreatePreparedAsync(ps, func(out []messages.CreateOutcome, err error) { done <- err })
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		} else {
			createStored(t, s, es)
		}
		var trig []messages.Event
		execs := 0
		for _, ev := range sink.events() {
			switch ev.Type {
			case messages.EventTrigger:
				if ev.Subject == hook.ID || ev.Subject == sched.ID {
					trig = append(trig, ev)
				}
			case messages.EventExecution:
				execs++
			}
		}
		if execs != len(es) || len(trig) != 3 { // the two creations, then this batch's one fire
			t.Fatalf("prepared=%v: %d execution events, %d trigger events", prepared, execs, len(trig))
		}
		if last := trig[2]; last.Subject != hook.ID || !strings.Contains(string(last.Data), `"lastResult":"queued `+newest+`"`) || strings.Contains(string(last.Data), "s3cret") {
			t.Fatalf("prepared=%v: the fire's event %s %s", prepared, last.Subject, last.Data)
		}
		if got, err := s.GetTrigger(hook.ID); err != nil || got.LastResult != "queued "+newest || got.LastFiredAt != es[3].CreatedAt {
			t.Fatalf("prepared=%v: the webhook after its fires: %+v %v", prepared, got, err)
		}
		if got, err := s.GetTrigger(sched.ID); err != nil || got.LastResult != "" || got.LastFiredAt != 0 {
			t.Fatalf("prepared=%v: the schedule was recorded by the creations: %+v %v", prepared, got, err)
		}
		s.Close()
	}
}
