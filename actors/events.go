package actors

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// childEvents is the events actor's name in the tree.
const childEvents = "events"

// Fan-out sizes (docs/decisions.md, "Live events").
const (
	// eventRingMin is how many recent events are kept for resumes at
	// least (unless they exceed eventRingBytes).
	eventRingMin = 10_000
	// eventRingBytes caps the frames the ring holds: a run of huge events
	// (1 MiB inputs or log chunks) shortens the resumable window instead
	// of growing memory.
	eventRingBytes = 32 << 20
	// subscriberBuffer is how many batches a stream may have waiting; a
	// stream whose buffer is full is dropped (the client resumes later).
	subscriberBuffer = 256
	// statsInterval is the most often a stats event is sent.
	statsInterval = time.Second
	// licenseCheckEvery is how often the license's standing is compared
	// with the last one announced (it changes with the clock alone).
	licenseCheckEvery = time.Minute
)

// Reasons a stream ended.
const (
	streamEndSlow     = "slow client"
	streamEndShutdown = "server shutdown"
)

// subscriber is one open stream, as the events actor sees it.
type subscriber struct {
	id      uint64
	userID  string
	tokenID string
	ch      chan []messages.StreamEvent
	reason  atomic.Pointer[string]
}

// end closes the stream's channel with a reason (events actor only).
func (s *subscriber) end(reason string) {
	s.reason.Store(&reason)
	close(s.ch)
}

// Messages of the events actor.
type (
	// eventsCommitted are events that storage committed (or numbered,
	// for live ones), in sequence order.
	eventsCommitted struct{ events []messages.Event }
	// subscribeStream registers a stream, replaying what it missed.
	subscribeStream struct {
		sub    *subscriber
		resume bool
		after  uint64
	}
	// unsubscribeStream forgets a stream that ended on the client's side.
	unsubscribeStream struct{ id uint64 }
	// statsTick is the stats timer.
	statsTick struct{ gen uint64 }
	// licenseTick is the license standing check.
	licenseTick struct{}
)

// eventsActor fans committed domain events out to live streams.
//
// Handles: *eventsCommitted (from storage's writer, after each commit),
// *subscribeStream, *unsubscribeStream, *messages.EndStreams (from
// accounts), *statsTick, *actor.Started, *actor.Stopping,
// *actor.Restarting. Sends: batches to the subscribers' channels (never
// blocking: a full one is dropped), stats events to storage (PublishLive).
// State: the ring of recent events (for resumes), the subscribers, the
// last stats sent. Timers: the stats timer while stats may have changed.
type eventsActor struct {
	sys  *System
	ring eventRing
	subs map[uint64]*subscriber
	// lastSeq is the last event seen; evicted the newest one no longer in
	// the ring (resumes from before it get a reset).
	lastSeq uint64
	evicted uint64

	statsDirty bool
	statsGen   uint64
	statsTimer func() bool // stops the stats timer (Config.AfterFunc)
	statsLast  *messages.ExecutionStats
	statsAt    time.Time

	// licenseState is the standing last announced; licenseTimer checks it.
	licenseState messages.LicenseState
	licenseTimer func() bool // stops the license check timer
	// licenseWarned is the last license.expiring threshold announced (30,
	// 7 or 1 days; 0 for none since the start or the last renewal).
	licenseWarned int
}

// Receive implements actor.Actor.
func (a *eventsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.subs = map[uint64]*subscriber{}
		a.lastSeq = a.sys.store.LastEventSeq()
		a.evicted = a.lastSeq
		a.ring = eventRing{}
		a.licenseState = a.sys.LicenseState()
		a.armLicenseCheck(ctx)
		reportReady(ctx, childEvents)
	case *eventsCommitted:
		a.fanOut(ctx, msg.events)
	case *subscribeStream:
		a.subscribe(msg)
		a.sys.gauges.EventStreams.Store(int64(len(a.subs)))
	case *unsubscribeStream:
		delete(a.subs, msg.id)
		a.sys.gauges.EventStreams.Store(int64(len(a.subs)))
	case *messages.EndStreams:
		a.endStreams(msg)
		a.sys.gauges.EventStreams.Store(int64(len(a.subs)))
	case *statsTick:
		if msg.gen == a.statsGen {
			a.statsTimer = nil
			a.sendStats(ctx)
		}
	case *licenseTick:
		a.checkLicense()
		a.armLicenseCheck(ctx)
	case *actor.Stopping:
		a.stopAll()
		a.sys.gauges.EventStreams.Store(0)
	case *actor.Restarting:
		a.stopAll()
		a.sys.gauges.EventStreams.Store(0)
	}
}

// stopAll ends every stream and the timer: a stopped (or restarting)
// fan-out has lost its state, so the clients reconnect and resume.
func (a *eventsActor) stopAll() {
	for id, s := range a.subs {
		s.end(streamEndShutdown)
		delete(a.subs, id)
	}
	if a.statsTimer != nil {
		a.statsTimer()
		a.statsTimer = nil
	}
	if a.licenseTimer != nil {
		a.licenseTimer()
		a.licenseTimer = nil
	}
}

// armLicenseCheck schedules the next license standing check.
func (a *eventsActor) armLicenseCheck(ctx actor.Context) {
	self, root := ctx.Self(), a.sys.actors.Root
	if a.licenseTimer != nil {
		a.licenseTimer()
	}
	a.licenseTimer = a.sys.afterFunc(licenseCheckEvery, func() { root.Send(self, &licenseTick{}) })
}

// checkLicense announces a license whose standing changed by the clock
// alone (ACTIVE → GRACE_PERIOD → EXPIRED): a durable license event, as
// activation and renewal write with the license itself.
func (a *eventsActor) checkLicense() {
	st := a.sys.LicenseStatus()
	if !st.Activated {
		return
	}
	// license.expiring: once as the days remaining pass 30, 7 and 1.
	warn := 0
	if st.Status == messages.LicenseActive && st.ExpiresAt != 0 {
		for _, d := range []int{30, 7, 1} {
			if st.DaysRemaining <= d {
				warn = d
			}
		}
	}
	var outbound []string
	switch {
	case st.Status != a.licenseState && st.Status == messages.LicenseGrace:
		outbound = []string{"license.grace_period"}
	case st.Status != a.licenseState && st.Status == messages.LicenseExpired:
		outbound = []string{"license.expired"}
	case warn != 0 && (a.licenseWarned == 0 || warn < a.licenseWarned):
		outbound = []string{"license.expiring"}
	case st.Status == a.licenseState:
		return
	}
	ev := messages.JSONEvent(messages.EventLicense, "", messages.TimeOf(a.sys.Now()), st, false)
	ev.Outbound = outbound
	if err := a.sys.store.AppendEvents([]messages.Event{ev}); err != nil {
		a.sys.cfg.Logger.Warn("license event", "err", err)
		return
	}
	a.licenseState = st.Status
	if warn != 0 {
		a.licenseWarned = warn
	}
}

// fanOut keeps the events in the ring and hands the batch to every stream.
func (a *eventsActor) fanOut(ctx actor.Context, evs []messages.Event) {
	if len(evs) == 0 {
		return
	}
	batch := make([]messages.StreamEvent, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		if e.Seq <= a.lastSeq && a.lastSeq != 0 && e.Seq != 0 {
			// Committed before this actor started (its Started read the
			// sequence after): known, but not resumable.
			continue
		}
		batch = append(batch, messages.StreamEvent{Event: e, Frame: messages.AppendSSE(nil, e)})
		switch e.Type {
		case messages.EventExecution:
			a.statsDirty = true
		case messages.EventLicense:
			// Activation and renewal announce the standing themselves.
			var st struct{ Status messages.LicenseState }
			if json.Unmarshal(e.Data, &st) == nil {
				a.licenseState = st.Status
			}
			if len(e.Outbound) == 0 {
				a.licenseWarned = 0 // an activation or a renewal
			}
		}
	}
	if len(batch) == 0 {
		return
	}
	defer func() { a.sys.gauges.EventStreams.Store(int64(len(a.subs))) }()
	a.lastSeq = batch[len(batch)-1].Event.Seq
	for _, se := range batch {
		if dropped, ok := a.ring.push(se); ok {
			a.evicted = dropped
		}
	}
	for id, s := range a.subs {
		select {
		case s.ch <- batch:
		default:
			s.end(streamEndSlow)
			delete(a.subs, id)
			a.sys.gauges.EventStreamsDropped.Add(1)
		}
	}
	if a.statsDirty && a.statsTimer == nil {
		a.armStats(ctx)
	}
}

// subscribe registers a stream after handing it what it missed: the
// events after its resume point, or a reset when that point has left the
// ring (or is unknown to this process).
func (a *eventsActor) subscribe(msg *subscribeStream) {
	s := msg.sub
	if msg.resume && msg.after != a.lastSeq {
		if msg.after < a.evicted || msg.after > a.lastSeq {
			// The reset carries the newest event's id (every event has
			// one): a client that reloads and then reconnects resumes
			// from here instead of being reset again.
			reset := &messages.Event{Seq: a.lastSeq, Type: messages.EventReset, Data: []byte("{}")}
			s.ch <- []messages.StreamEvent{{Event: reset, Frame: messages.AppendSSE(nil, reset)}}
		} else if missed := a.ring.after(msg.after); len(missed) > 0 {
			s.ch <- missed
		}
	}
	a.subs[s.id] = s
}

// endStreams ends the streams of the sessions msg names.
func (a *eventsActor) endStreams(msg *messages.EndStreams) {
	reason := msg.Reason
	if reason == "" {
		reason = "session ended"
	}
	for id, s := range a.subs {
		match := false
		switch {
		case msg.TokenID != "":
			match = s.tokenID == msg.TokenID
		case msg.UserID != "":
			match = s.userID == msg.UserID && (msg.Except == "" || s.tokenID != msg.Except)
		}
		if match {
			s.end(reason)
			delete(a.subs, id)
		}
	}
}

// armStats schedules the next stats event no sooner than statsInterval
// after the last one.
func (a *eventsActor) armStats(ctx actor.Context) {
	a.statsGen++
	gen, self, root := a.statsGen, ctx.Self(), a.sys.actors.Root
	wait := statsInterval - a.sys.Now().Sub(a.statsAt)
	if wait < 10*time.Millisecond {
		wait = 10 * time.Millisecond
	}
	a.statsTimer = a.sys.afterFunc(wait, func() { root.Send(self, &statsTick{gen: gen}) })
}

// sendStats publishes the execution stats when they changed since the last
// stats event (a counter read; the event is numbered by storage like any
// other and comes back through eventsCommitted).
func (a *eventsActor) sendStats(ctx actor.Context) {
	if !a.statsDirty {
		return
	}
	a.statsDirty = false
	st, err := a.sys.store.ExecutionStats()
	if err != nil {
		a.sys.cfg.Logger.Warn("stats event", "err", err)
		return
	}
	a.statsAt = a.sys.Now()
	if a.statsLast != nil && *a.statsLast == st {
		return
	}
	a.statsLast = &st
	a.sys.store.PublishLive([]messages.Event{messages.JSONEvent(messages.EventStats, "", messages.TimeOf(a.statsAt), st, true)})
}

// eventRing is the buffer of recent events: a circular slice that keeps
// at least eventRingMin events unless their frames pass eventRingBytes.
type eventRing struct {
	buf   []messages.StreamEvent
	head  int // index of the oldest
	n     int
	bytes int
}

// push appends se, evicting the oldest when full; it returns the sequence
// of the newest event evicted (ok false when none was).
func (r *eventRing) push(se messages.StreamEvent) (evicted uint64, ok bool) {
	if r.buf == nil {
		r.buf = make([]messages.StreamEvent, eventRingMin)
	}
	for r.n > 0 && (r.n == len(r.buf) || r.bytes+len(se.Frame) > eventRingBytes) {
		old := r.buf[r.head]
		r.buf[r.head] = messages.StreamEvent{}
		r.head = (r.head + 1) % len(r.buf)
		r.n--
		r.bytes -= len(old.Frame)
		evicted, ok = old.Event.Seq, true
	}
	r.buf[(r.head+r.n)%len(r.buf)] = se
	r.n++
	r.bytes += len(se.Frame)
	return evicted, ok
}

// after returns a copy of the events with a sequence above seq, oldest first.
func (r *eventRing) after(seq uint64) []messages.StreamEvent {
	// Binary search over the ring's logical order (sequences increase).
	lo, hi := 0, r.n
	for lo < hi {
		mid := (lo + hi) / 2
		if r.buf[(r.head+mid)%len(r.buf)].Event.Seq <= seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	out := make([]messages.StreamEvent, 0, r.n-lo)
	for i := lo; i < r.n; i++ {
		out = append(out, r.buf[(r.head+i)%len(r.buf)])
	}
	return out
}

// SubscribeEvents opens a live event stream (GET /api/events). The
// subscription's channel receives batches in sequence order and is closed
// when the stream must end; call UnsubscribeEvents when the client leaves.
func (s *System) SubscribeEvents(req messages.SubscribeEvents) (*messages.EventSubscription, error) {
	if s.stopped.Load() {
		return nil, ErrStopped
	}
	sub := &subscriber{id: s.streamIDs.Add(1), userID: req.UserID, tokenID: req.TokenID,
		ch: make(chan []messages.StreamEvent, subscriberBuffer)}
	s.actors.Root.Send(s.pids[childEvents], &subscribeStream{sub: sub, resume: req.Resume, after: req.After})
	return &messages.EventSubscription{ID: sub.id, Events: sub.ch, Reason: func() string {
		if r := sub.reason.Load(); r != nil {
			return *r
		}
		return ""
	}}, nil
}

// UnsubscribeEvents forgets a stream whose client left.
func (s *System) UnsubscribeEvents(id uint64) {
	if s.stopped.Load() {
		return
	}
	s.actors.Root.Send(s.pids[childEvents], &unsubscribeStream{id: id})
}

// endStreams tells the events actor to end sessions' streams.
func (s *System) endStreams(ctx actor.Context, msg *messages.EndStreams) {
	if pid, ok := s.pids[childEvents]; ok {
		ctx.Send(pid, msg)
	}
}

// eventSink is storage's sink: committed events go to the events actor's
// mailbox (a Send never blocks the writer).
func (s *System) eventSink(evs []messages.Event) {
	s.actors.Root.Send(s.pids[childEvents], &eventsCommitted{events: evs})
	for i := range evs {
		if !evs[i].Live { // stored: the outbox reads it
			s.outboxBells.ring(s.actors.Root)
			break
		}
	}
}

// executionEffects are the effects of an execution's transition from prev
// to next: the execution event, durable when the status, runner or stop
// request changed, live only for a progress report (logs and metrics:
// docs/decisions.md, "Live events").
func executionEffects(prev, next *messages.Execution, audit *messages.AuditEntry) messages.Effects {
	durable := prev == nil || prev.Status != next.Status || prev.StopRequested != next.StopRequested ||
		!sameString(prev.RunnerID, next.RunnerID) || prev.Attempt != next.Attempt
	ev := messages.ExecutionEvent(next, !durable)
	if durable {
		if next.Status.Terminal() && (prev == nil || !prev.Status.Terminal()) {
			ev.Outbound = append(ev.Outbound, "execution."+strings.ToLower(string(next.Status)))
		}
		if audit != nil && audit.Action == messages.AuditExecutionStale {
			ev.Outbound = append(ev.Outbound, "execution.stale")
		}
	}
	return messages.Effects{Audit: audit, Events: []messages.Event{ev}}
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// runnerEffects are the effects of a runner's change: its runner event as
// GET /api/runners/:id shows it, live only for a metrics flush.
func runnerEffects(r *messages.Runner, audit *messages.AuditEntry, live bool) messages.Effects {
	// The hand-written encoder (messages/runner_json.go): a runner event is
	// written at every assignment and release of its runner.
	return messages.Effects{Audit: audit, Events: []messages.Event{{Type: messages.EventRunner, Time: r.UpdatedAt,
		Subject: r.ID, Data: publicRunner(r).AppendJSON(make([]byte, 0, 384)), Live: live}}}
}

// runnerStatusEffects are runnerEffects for a durable change from the
// status code prev (runners.go): a runner that came up or went down is
// also delivered as runner.online or runner.offline.
func runnerStatusEffects(r *messages.Runner, audit *messages.AuditEntry, prev int32) messages.Effects {
	fx := runnerEffects(r, audit, false)
	switch now := statusCode(r.Status); {
	case prev == stOffline && now != stOffline:
		fx.Events[0].Outbound = []string{"runner.online"}
	case prev != stOffline && now == stOffline:
		fx.Events[0].Outbound = []string{"runner.offline"}
	}
	return fx
}

// runnerDeletedEffects are the effects of a runner's deletion: its last
// runner event, marked deleted.
func runnerDeletedEffects(r *messages.Runner, audit *messages.AuditEntry, now time.Time) messages.Effects {
	return messages.Effects{Audit: audit, Events: []messages.Event{messages.JSONEvent(messages.EventRunner, r.ID,
		messages.TimeOf(now), messages.Deleted[messages.Runner]{Record: publicRunner(r), Deleted: true}, false)}}
}

// licenseEffects are the effects of storing the license of view v: its
// license event with the status it gives.
func (s *System) licenseEffects(v *licenseView, audit *messages.AuditEntry) messages.Effects {
	return messages.Effects{Audit: audit, Events: []messages.Event{
		messages.JSONEvent(messages.EventLicense, "", messages.TimeOf(s.Now()), s.licenseStatusOf(v), false)}}
}
