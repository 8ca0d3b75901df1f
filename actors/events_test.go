package actors

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// liveEvents makes n live events of type typ numbered in their data.
func liveEvents(typ string, from, n int) []messages.Event {
	evs := make([]messages.Event, n)
	for i := range evs {
		evs[i] = messages.Event{Type: typ, Subject: fmt.Sprint(from + i), Data: []byte(fmt.Sprintf(`{"n":%d}`, from+i))}
	}
	return evs
}

// collect reads from sub until it has n events or the deadline passes.
func collect(t *testing.T, sub *messages.EventSubscription, n int) []*messages.Event {
	t.Helper()
	var out []*messages.Event
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case batch, ok := <-sub.Events:
			if !ok {
				t.Fatalf("stream ended (%s) after %d of %d events", sub.Reason(), len(out), n)
			}
			for _, se := range batch {
				out = append(out, se.Event)
			}
		case <-deadline:
			t.Fatalf("got %d of %d events in 10 s", len(out), n)
		}
	}
	return out
}

// subscribe opens a stream and waits until the events actor has registered
// it (a marker event published afterwards reaches it).
func (e *execEnv) subscribe(t *testing.T, req messages.SubscribeEvents) *messages.EventSubscription {
	t.Helper()
	sub, err := e.sys.SubscribeEvents(req)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// settle waits until the events actor has fanned out everything published
// so far: a marker published now reaches a fresh stream after all of it.
func (e *execEnv) settle(t *testing.T) {
	t.Helper()
	sub := e.subscribe(t, messages.SubscribeEvents{})
	e.store.PublishLive([]messages.Event{{Type: "marker"}})
	deadline := time.After(10 * time.Second)
	for {
		select {
		case batch := <-sub.Events:
			for _, se := range batch {
				if se.Event.Type == "marker" {
					return
				}
			}
		case <-deadline:
			t.Fatal("the marker event did not come through in 10 s")
		}
	}
}

func TestEventsFanOutInOrder(t *testing.T) {
	e := startTestEnv(t, testDate)
	a := e.subscribe(t, messages.SubscribeEvents{UserID: "u1", TokenID: "t1"})
	b := e.subscribe(t, messages.SubscribeEvents{UserID: "u2", TokenID: "t2"})
	for i := 0; i < 50; i++ {
		e.store.PublishLive(liveEvents("runner", i*10, 10))
	}
	for _, sub := range []*messages.EventSubscription{a, b} {
		got := collect(t, sub, 500)
		for i, ev := range got {
			if string(ev.Data) != fmt.Sprintf(`{"n":%d}`, i) {
				t.Fatalf("event %d: %s", i, ev.Data)
			}
			if i > 0 && ev.Seq != got[i-1].Seq+1 {
				t.Fatalf("sequence %d after %d", ev.Seq, got[i-1].Seq)
			}
		}
	}
}

func TestEventsResumeAndReset(t *testing.T) {
	e := startTestEnv(t, testDate)
	first := e.subscribe(t, messages.SubscribeEvents{})
	e.store.PublishLive(liveEvents("trigger", 0, 100))
	got := collect(t, first, 100)

	// Resume after the 40th: the 60 that follow, in order, then live ones.
	resumed := e.subscribe(t, messages.SubscribeEvents{Resume: true, After: got[39].Seq})
	e.store.PublishLive(liveEvents("trigger", 100, 1))
	again := collect(t, resumed, 61)
	if again[0].Seq != got[40].Seq || again[59].Seq != got[99].Seq || string(again[60].Data) != `{"n":100}` {
		t.Fatalf("resume: first %d (want %d), last %s", again[0].Seq, got[40].Seq, again[60].Data)
	}
	// Resuming at the newest event replays nothing and misses nothing.
	current := e.subscribe(t, messages.SubscribeEvents{Resume: true, After: e.store.LastEventSeq()})
	e.store.PublishLive(liveEvents("trigger", 101, 1))
	if ev := collect(t, current, 1)[0]; string(ev.Data) != `{"n":101}` {
		t.Fatalf("resume at the newest: %s", ev.Data)
	}

	// Push the first events out of the ring: resuming after them is a reset.
	e.store.PublishLive(liveEvents("trigger", 102, 10_050))
	e.settle(t)
	old := e.subscribe(t, messages.SubscribeEvents{Resume: true, After: got[0].Seq})
	if ev := collect(t, old, 1)[0]; ev.Type != messages.EventReset {
		t.Fatalf("too old: got %s, want reset", ev.Type)
	}
	// An id this process never handed out (a future one) is a reset too.
	future := e.subscribe(t, messages.SubscribeEvents{Resume: true, After: e.store.LastEventSeq() + 1000})
	if ev := collect(t, future, 1)[0]; ev.Type != messages.EventReset {
		t.Fatalf("future id: got %s, want reset", ev.Type)
	}
	// The ring still holds the last 10,000: resuming inside it works.
	last := e.store.LastEventSeq()
	inside := e.subscribe(t, messages.SubscribeEvents{Resume: true, After: last - 9_999})
	if evs := collect(t, inside, 9_999); evs[0].Seq != last-9_998 || evs[len(evs)-1].Seq != last {
		t.Fatalf("resume inside the ring: %d..%d", evs[0].Seq, evs[len(evs)-1].Seq)
	}
}

func TestEventsSlowConsumerDropped(t *testing.T) {
	e := startTestEnv(t, testDate)
	slow := e.subscribe(t, messages.SubscribeEvents{})
	fast := e.subscribe(t, messages.SubscribeEvents{})
	// One batch per event (the fast reader waits for each), more batches
	// than a stream's buffer holds; the slow stream reads nothing.
	const batches = 400
	for i := 0; i < batches; i++ {
		e.store.PublishLive(liveEvents("runner", i, 1))
		if ev := collect(t, fast, 1)[0]; string(ev.Data) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("fast stream: event %d is %s", i, ev.Data)
		}
	}
	// The slow one was dropped: its buffer holds what it had room for,
	// then the channel is closed with the reason.
	n := 0
	for batch := range slow.Events {
		n += len(batch)
	}
	if n >= batches || slow.Reason() != "slow client" {
		t.Fatalf("slow stream: %d events, reason %q", n, slow.Reason())
	}
}

func TestEventsEndStreams(t *testing.T) {
	e := startTestEnv(t, testDate)
	a1 := e.subscribe(t, messages.SubscribeEvents{UserID: "a", TokenID: "a1"})
	a2 := e.subscribe(t, messages.SubscribeEvents{UserID: "a", TokenID: "a2"})
	b1 := e.subscribe(t, messages.SubscribeEvents{UserID: "b", TokenID: "b1"})
	ended := func(sub *messages.EventSubscription) bool {
		select {
		case _, ok := <-sub.Events:
			return !ok
		case <-time.After(5 * time.Second):
			return false
		}
	}
	e.sys.Tell(&messages.EndStreams{TokenID: "a1", Reason: "logged out"})
	if !ended(a1) || a1.Reason() != "logged out" {
		t.Fatalf("a1 not ended: %q", a1.Reason())
	}
	e.sys.Tell(&messages.EndStreams{UserID: "a", Except: "a2"})
	e.sys.Tell(&messages.EndStreams{UserID: "b"})
	if !ended(b1) {
		t.Fatal("b1 not ended")
	}
	e.store.PublishLive(liveEvents("runner", 0, 1))
	if ev := collect(t, a2, 1)[0]; string(ev.Data) != `{"n":0}` {
		t.Fatalf("a2 should live on: %s", ev.Data)
	}
}

// The license standing is checked on the injected clock: advancing it past
// the expiry announces the grace period without a real minute's wait.
func TestLicenseCheckOnTheClock(t *testing.T) {
	e := startTestEnv(t, testDate, withFakeTimers)
	if _, err := messages.Ask(e.sys, &messages.ActivateLicense{Text: e.license("a@example.com", 48*time.Hour, 3, messages.LicenseLimits{})}); err != nil {
		t.Fatal(err)
	}
	sub := e.subscribe(t, messages.SubscribeEvents{Filter: messages.EventFilter{Types: map[string]bool{messages.EventLicense: true}}})
	e.clock.Advance(49 * time.Hour)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case batch, ok := <-sub.Events:
			if !ok {
				t.Fatalf("stream ended: %s", sub.Reason())
			}
			for _, se := range batch {
				if strings.Contains(string(se.Event.Data), `"status":"GRACE_PERIOD"`) {
					return
				}
			}
		case <-deadline:
			t.Fatal("no license event for the grace period after the clock passed the expiry")
		}
	}
}
