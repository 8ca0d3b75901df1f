package actors

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// Delivery timing and window (docs/api.md, "Event subscriptions";
// docs/decisions.md, "Event deliveries: a window").
var deliveryBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
	30 * time.Minute, time.Hour}

const (
	deliveryBackoffLast  = 2 * time.Hour  // after the list above, every 2 h
	deliveryGiveUp       = 24 * time.Hour // then FAILED, and the queue moves on
	deliveryDisableAfter = 72 * time.Hour // every attempt failing this long disables
	// deliveryWindow is how many deliveries after its cursor a subscription
	// holds at most (sent, answered or waiting for their next attempt): the
	// most it has in flight, and all a dead receiver costs in memory.
	deliveryWindow = 64
	// deliveryRecheck is how often a delivery waiting for its next attempt
	// compares the clock with its time (the clock may be moved).
	deliveryRecheck = time.Second
	deliveryScan    = 1024 // events of the log scanned at a time at most
	// An answer waits up to deliveryWriteDelay for others to share its
	// write, unless deliveryWriteBatch answers are waiting: a busy outbox
	// writes a batch every few group commits instead of one in each.
	deliveryWriteDelay = 20 * time.Millisecond
	deliveryWriteBatch = deliveryWindow / 2
	deliveryErrorMax   = 300                 // characters of lastError kept
	pingEventPrefix    = "evt_ping_"         // eventId of a test ping: and its delivery id
	deliveryUserAgent  = "Exekra-Webhooks/1" // User-Agent of deliveries
)

// backoffAfter is the wait after the n-th failed attempt (n ≥ 1).
func backoffAfter(n int) time.Duration {
	if n-1 < len(deliveryBackoff) {
		return deliveryBackoff[max(n-1, 0)]
	}
	return deliveryBackoffLast
}

// Messages of a delivery actor (internal).
type (
	// deliveryWake: events were committed (the outbox bell).
	deliveryWake struct{}
	// deliveryTick: the timer of a delivery waiting for its next attempt.
	deliveryTick   struct{}
	deliveryReload struct{}
	attemptDone    struct {
		id     string
		try    uint32
		status int
		err    string
	}
	// deliveriesFlush: the answers waiting for a write have waited long enough.
	deliveriesFlush struct{}
	// deliveriesSaved: the write of a batch of answers is durable (or failed).
	deliveriesSaved struct {
		batch []*attempt
		err   error
	}
	// outboxMoved tells the subscriptions owner where a subscription's
	// cursor is (and whether it is enabled): the retention floor.
	outboxMoved struct {
		id      string
		cursor  uint64
		enabled bool
	}
)

// wakeDelivery is the one deliveryWake every bell sends.
var wakeDelivery = &deliveryWake{}

// attemptState is where a delivery is between its attempts.
type attemptState uint8

const (
	stateWaiting  attemptState = iota // for its first or next attempt (d.NextAttemptAt)
	stateSending                      // an attempt is in flight
	stateAnswered                     // answered; the outcome is not written yet
	stateSaving                       // its outcome is being written
	stateFinished                     // DELIVERED or FAILED, written
)

// attempt is one delivery as its actor holds it: its record, its body and
// where it is.
type attempt struct {
	d       *messages.Delivery
	body    []byte
	evTime  messages.Time // when its event happened (0 for a test ping)
	queued  bool          // one of the queue's (else a ping or a retry beside it)
	state   attemptState
	try     uint32 // numbers the sends: the answer of an earlier one is ignored
	final   bool   // the last answer finished it (DELIVERED or FAILED)
	outcome int    // the counter of the last answer (-1: none, the event left the log)
}

// open reports whether the delivery is not finished (not even by an
// answer still being written).
func (at *attempt) open() bool { return !at.final }

// signingKeys are a subscription's secrets, kept between attempts.
type signingKeys struct {
	cur, prev string
	until     messages.Time // the previous one signs before it
}

// deliveryActor delivers one subscription's events (child of the
// subscriptions owner, named by the subscription id).
//
// Handles: deliveryWake (the outbox bell: events were committed),
// deliveryTick, deliveryReload, attemptDone, deliveriesFlush,
// deliveriesSaved, *messages.TestSubscription, *messages.RetryDelivery.
// Sends: outboxMoved to its parent, replies (a test or a retry is answered
// when its outcome is written). State: the outbox position (the cursor:
// every delivery of the events up to it is finished and written), the
// window (up to deliveryWindow deliveries after the cursor, in log order,
// each waiting, in flight, answered or being written), the stored records
// of the window not yet read back after a restart (known), out-of-band
// attempts (pings, retries of finished deliveries) and who waits on them,
// the answers not yet written (one write at a time: the answers that arrive
// meanwhile, or within deliveryWriteDelay, make the next batch). Timers:
// while a delivery waits for its backoff, one (Config.AfterFunc) at most a
// second away, compared with the clock; none when idle (the bell wakes
// it); the write delay's (time.AfterFunc: it bounds a latency, no rule of
// the clock). Each HTTP attempt runs in its own goroutine and reports
// attemptDone; Receive never waits on a receiver nor on a write.
type deliveryActor struct {
	sys  *System
	id   string
	st   *messages.OutboxState
	win  []*attempt // the window, oldest first
	read uint64     // the last event read (its deliveries are in win or finished)
	// known are stored records after the cursor, by event id, not yet in
	// the window (answered out of order, or pending, before a restart).
	known    map[string]*messages.Delivery
	limit    int // queue attempts in flight at most: 1 after a failure, +1 a success
	sending  int // queue attempts in flight
	extra    map[string]*attempt
	wait     map[string][]*actor.PID
	answered []*attempt // answers not written yet (the next batch)
	saving   bool       // a batch is being written
	// writeDelay is deliveryWriteDelay (0 in tests: every answer is
	// written at once); flushArmed: its timer runs; flushDue: it fired.
	writeDelay           time.Duration
	flushArmed, flushDue bool
	// staged changes of the subscription for the next batch
	failDirty bool
	disabling *messages.AuditEntry
	disable   bool
	readAgain bool // the log could not be read: the timer tries again
	keys      *signingKeys
	stop      func() bool
	http      *outbound
	moved     uint64 // the cursor last reported to the parent
	told      bool
	// seen is the last event number when the log had nothing more for
	// this subscription: until the number moves, the log is not read.
	seen uint64
	bell *outboxBell
	// view is what the actor publishes for GET /metrics (outbox_figures.go).
	view *outboxView
	// tell sends the actor a message from any goroutine (its own pid;
	// tests take the messages instead). launch sends one attempt without
	// waiting and reports attemptDone through tell (post from a goroutine;
	// tests play the receiver).
	tell   func(msg any)
	launch func(r *outboundRequest)
}

// outboundRequest is one attempt to send: what post needs and what
// attemptDone names.
type outboundRequest struct {
	url, id, eventID string
	try              uint32
	ts               int64
	body             []byte
	secrets          []string
	err              error // the secrets could not be read: no request
}

func newDeliveryActor(s *System, id string, client *outbound) *deliveryActor {
	return &deliveryActor{sys: s, id: id, extra: map[string]*attempt{}, wait: map[string][]*actor.PID{}, http: client, limit: 1,
		writeDelay: deliveryWriteDelay}
}

// Receive implements actor.Actor.
func (a *deliveryActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if a.tell == nil {
			root, self := a.sys.actors.Root, ctx.Self()
			a.tell = func(msg any) { root.Send(self, msg) }
		}
		if a.launch == nil {
			a.launch = a.postAsync
		}
		a.view = a.sys.outboxFigures.view(a.id)
		a.bell = a.sys.outboxBells.add(a.id, ctx.Self())
		a.load(ctx)
	case *actor.Stopping:
		// Deleted: a ping or a retry still waiting for its outcome is
		// answered now (its subscription is gone), not left to time out.
		for id := range a.wait {
			a.answer(ctx, id, messages.NotFound("subscription"))
		}
		a.sys.outboxFigures.drop(a.id)
		a.sys.outboxBells.remove(a.id, a.bell)
		if a.stop != nil {
			a.stop()
		}
	case *deliveryReload:
		a.reload(ctx)
	case *deliveryWake:
		a.pump(ctx)
	case *deliveryTick:
		a.stop = nil
		a.pump(ctx)
	case *attemptDone:
		a.done(ctx, msg)
	case *deliveriesSaved:
		a.saved(ctx, msg)
	case *deliveriesFlush:
		a.flushArmed, a.flushDue = false, true
		a.flush(ctx)
	case *messages.TestSubscription:
		a.ping(ctx, msg)
	case *messages.RetryDelivery:
		a.retry(ctx, msg)
	}
}

func (a *deliveryActor) now() time.Time { return a.sys.Now() }

// load reads the outbox from storage and rebuilds the window from the
// cursor (at start, and after a write failed).
func (a *deliveryActor) load(ctx actor.Context) {
	st, err := a.sys.store.OutboxState(a.id)
	if err != nil {
		if messages.ErrorCode(err) != messages.CodeNotFound {
			a.sys.cfg.Logger.Warn("subscription outbox unreadable", "subscription", a.id, "err", err)
		}
		return
	}
	a.st, a.read, a.seen = st, st.Cursor, 0
	a.known = map[string]*messages.Delivery{}
	for _, d := range st.Window {
		a.known[d.EventID] = d
	}
	clear(a.win)
	a.win, a.answered, a.sending, a.limit = a.win[:0], nil, 0, 1
	a.failDirty, a.disabling, a.disable, a.keys = false, nil, false, nil
	a.report(ctx, true)
	a.pump(ctx)
}

// reload takes a changed subscription (PATCH, rotate-secret) and keeps the
// window.
func (a *deliveryActor) reload(ctx actor.Context) {
	if a.st == nil {
		a.load(ctx)
		return
	}
	st, err := a.sys.store.OutboxState(a.id)
	if err != nil {
		if messages.ErrorCode(err) != messages.CodeNotFound {
			a.sys.cfg.Logger.Warn("subscription outbox unreadable", "subscription", a.id, "err", err)
		}
		return
	}
	a.st.Sub = st.Sub
	if !a.failDirty {
		a.st.FailingSince = st.FailingSince
	}
	a.keys, a.seen = nil, 0
	a.report(ctx, true)
	a.pump(ctx)
}

// report tells the parent the cursor and the enabled flag when they moved.
func (a *deliveryActor) report(ctx actor.Context, force bool) {
	a.publish()
	if !force && a.told && a.moved == a.st.Cursor {
		return
	}
	a.moved, a.told = a.st.Cursor, true
	ctx.Send(ctx.Parent(), &outboxMoved{id: a.id, cursor: a.st.Cursor, enabled: a.st.Sub.Enabled})
}

// publish updates the view GET /metrics reads: the cursor, the enabled
// flag and when the oldest unfinished delivery's event happened.
func (a *deliveryActor) publish() {
	if a.view == nil || a.st == nil {
		return
	}
	a.view.cursor.Store(a.st.Cursor)
	a.view.enabled.Store(a.st.Sub.Enabled)
	var oldest int64
	if at := a.firstOpen(); at != nil && at.evTime > 0 {
		oldest = int64(at.evTime)
	}
	a.view.oldest.Store(oldest)
}

// firstOpen is the oldest delivery of the window not finished.
func (a *deliveryActor) firstOpen() *attempt {
	for _, at := range a.win {
		if at.open() {
			return at
		}
	}
	return nil
}

// probe is the oldest delivery of the window that is failing (an attempt
// failed and it is not finished), nil when none: while there is one, it
// alone is attempted, at its backoff.
func (a *deliveryActor) probe() *attempt {
	for _, at := range a.win {
		if at.open() && at.d.Attempts > 0 {
			return at
		}
	}
	return nil
}

// cursorAt is where the cursor is once the answers given so far are
// written: before the oldest open delivery, else the last event read.
func (a *deliveryActor) cursorAt() uint64 {
	if at := a.firstOpen(); at != nil {
		return at.d.EventSeq - 1
	}
	return a.read
}

// pump fills the window from the log, starts what is due, and arms the
// timer when a delivery waits for its backoff.
func (a *deliveryActor) pump(ctx actor.Context) {
	if a.st == nil {
		return
	}
	if a.st.Sub.Enabled {
		a.fill(ctx)
		a.flush(ctx) // deliveries whose event left the log
		a.send(ctx)
	}
	a.publish()
	a.arm(ctx)
}

// arm schedules a tick when a delivery waits for its next attempt (or the
// log must be read again), at most deliveryRecheck away.
func (a *deliveryActor) arm(ctx actor.Context) {
	if a.stop != nil || a.st == nil || !a.st.Sub.Enabled {
		return
	}
	now := a.now()
	wait, any := deliveryRecheck, a.readAgain
	consider := func(at *attempt) {
		if at.state != stateWaiting || at.d.NextAttemptAt == nil {
			return
		}
		any = true
		wait = min(wait, at.d.NextAttemptAt.Std().Sub(now))
	}
	if p := a.probe(); p != nil {
		consider(p)
	} else if a.sending < a.limit {
		for _, at := range a.win {
			consider(at)
		}
	}
	if !any {
		return
	}
	wait = max(wait, time.Millisecond)
	tell := a.tell
	f := func() { tell(&deliveryTick{}) }
	if af := a.sys.cfg.AfterFunc; af != nil {
		a.stop = af(wait, f)
	} else {
		a.stop = time.AfterFunc(wait, f).Stop
	}
}

// matching is the outbound types of e this subscription hears, in order.
func (a *deliveryActor) matching(e *messages.Event) []string {
	all := slices.Contains(a.st.Sub.Events, "*")
	var out []string
	for _, t := range e.Outbound {
		if all || slices.Contains(a.st.Sub.Events, t) {
			out = append(out, t)
		}
	}
	return out
}

// payloadOf is the body of a delivery: {"id","type","timestamp","data"},
// as encoding/json writes messages.OutboundPayload (without reflection: it
// is made for every delivery).
func payloadOf(id, typ string, ts messages.Time, data json.RawMessage) []byte {
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	b := make([]byte, 0, len(data)+len(id)+len(typ)+64)
	b = append(b, `{"id":`...)
	b = messages.AppendJSONString(b, id)
	b = append(b, `,"type":`...)
	b = messages.AppendJSONString(b, typ)
	b = append(b, `,"timestamp":`...)
	b = ts.AppendJSON(b)
	b = append(b, `,"data":`...)
	b = messages.AppendRawJSON(b, data)
	return append(b, '}')
}

// eventAt reads event seq from the log (nil when no longer retained).
func (a *deliveryActor) eventAt(seq uint64) (*messages.Event, error) {
	evs, err := a.sys.store.ReadEvents(seq-1, 1)
	if err != nil || len(evs) == 0 || evs[0].Seq != seq {
		return nil, err
	}
	return &evs[0], nil
}

// fill reads the log after the last event read into the window until the
// window is full or the log has nothing more. Before it finds the log
// read to its end it rings its bell's want flag, so an event committed
// meanwhile wakes it.
func (a *deliveryActor) fill(ctx actor.Context) {
	a.readAgain = false
	for len(a.win) < deliveryWindow {
		a.bell.want.Store(true)
		last := a.sys.store.LastEventSeq()
		if last == a.seen {
			return
		}
		// Events of other types are skipped without their payload; at
		// most as many matching ones as there is room for are read.
		evs, scanned, more, err := a.sys.store.ReadOutboundEvents(a.read, deliveryWindow-len(a.win), deliveryScan, a.hears)
		if err != nil {
			a.sys.cfg.Logger.Warn("event log unreadable", "subscription", a.id, "err", err)
			a.readAgain = true
			return
		}
		for i := range evs {
			e := &evs[i]
			a.lost(e.Seq-1, "the event is no longer retained")
			a.add(e, a.matching(e))
			a.lost(e.Seq, "the subscription no longer hears this event type")
		}
		a.read = max(a.read, scanned)
		if !more {
			a.lost(last, "the event is no longer retained")
			a.read, a.seen = max(a.read, last), last
		}
	}
}

// hears reports whether the subscription hears one of an event's outbound
// types.
func (a *deliveryActor) hears(outbound []string) bool {
	for _, t := range outbound {
		if slices.Contains(a.st.Sub.Events, t) {
			return true
		}
	}
	return len(outbound) > 0 && slices.Contains(a.st.Sub.Events, "*")
}

// add puts the deliveries of event e (as types) into the window: a stored
// record after the cursor is taken back (a finished one is skipped), else a
// new delivery is made (written with its first outcome).
func (a *deliveryActor) add(e *messages.Event, types []string) {
	for _, typ := range types {
		id := messages.OutboundEventID(e.Seq, typ)
		d := a.known[id]
		if d != nil {
			delete(a.known, id)
			if d.Status != messages.DeliveryPending {
				continue // answered before a restart
			}
		} else {
			now := messages.TimeOf(a.now())
			d = &messages.Delivery{ID: messages.NewID(now.Std()), SubscriptionID: a.id, EventID: id, EventSeq: e.Seq, Type: typ,
				Status: messages.DeliveryPending, CreatedAt: now, NextAttemptAt: &now}
		}
		a.win = append(a.win, &attempt{d: d, body: payloadOf(d.EventID, d.Type, e.Time, e.Data), evTime: e.Time, queued: true, outcome: -1})
	}
}

// lost ends the stored records of events up to seq that the window read
// past without taking them back (why: the log no longer holds the event,
// or the subscription no longer hears its type): a pending one is written
// FAILED.
func (a *deliveryActor) lost(seq uint64, why string) {
	if len(a.known) == 0 {
		return
	}
	for id, d := range a.known {
		if d.EventSeq > seq {
			continue
		}
		delete(a.known, id)
		if d.Status != messages.DeliveryPending {
			continue
		}
		d.Status, d.LastError, d.NextAttemptAt = messages.DeliveryFailed, why, nil
		a.answered = append(a.answered, &attempt{d: d, state: stateAnswered, final: true, outcome: -1})
	}
}

// send starts the window's deliveries that are due, oldest first, up to the
// limit in flight; while one is failing, only it.
func (a *deliveryActor) send(ctx actor.Context) {
	now := a.now()
	if p := a.probe(); p != nil {
		if p.state == stateWaiting && a.sending < a.limit && !now.Before(p.d.NextAttemptAt.Std()) {
			a.start(ctx, p)
		}
		return
	}
	for _, at := range a.win {
		if a.sending >= a.limit {
			return
		}
		if at.state == stateWaiting && (at.d.NextAttemptAt == nil || !now.Before(at.d.NextAttemptAt.Std())) {
			a.start(ctx, at)
		}
	}
}

// secrets are the subscription's signing secrets at now (read once, then
// kept until the subscription changes).
func (a *deliveryActor) secrets(now time.Time) (cur, prev string, err error) {
	if a.keys == nil {
		cur, prev, until, err := a.sys.store.SubscriptionKeys(a.id)
		if err != nil {
			return "", "", err
		}
		a.keys = &signingKeys{cur: cur, prev: prev, until: until}
	}
	if messages.TimeOf(now) < a.keys.until {
		prev = a.keys.prev
	}
	return a.keys.cur, prev, nil
}

// start sends one attempt (launch: from its own goroutine).
func (a *deliveryActor) start(ctx actor.Context, at *attempt) {
	at.state = stateSending
	at.try++
	if at.queued {
		a.sending++
	}
	now := a.now()
	r := &outboundRequest{url: a.st.Sub.URL, id: at.d.ID, eventID: at.d.EventID, try: at.try, ts: now.Unix(), body: at.body}
	cur, prev, err := a.secrets(now)
	r.secrets, r.err = []string{cur, prev}, err
	a.launch(r)
}

// postAsync sends r from a goroutine of its own and tells its answer.
func (a *deliveryActor) postAsync(r *outboundRequest) {
	client, tell := a.http, a.tell
	go func() {
		status, err := 0, r.err
		if err == nil {
			status, err = client.post(r.url, r.eventID, r.ts, r.body, r.secrets...)
		}
		errText := ""
		if err != nil {
			errText = err.Error()
			if len(errText) > deliveryErrorMax {
				errText = errText[:deliveryErrorMax]
			}
		}
		tell(&attemptDone{id: r.id, try: r.try, status: status, err: errText})
	}()
}

// find is the attempt of delivery id: in the window or beside it.
func (a *deliveryActor) find(id string) *attempt {
	for _, at := range a.win {
		if at.d.ID == id {
			return at
		}
	}
	return a.extra[id]
}

// done takes an attempt's answer: its outcome is decided now and written
// with the next batch.
func (a *deliveryActor) done(ctx actor.Context, msg *attemptDone) {
	at := a.find(msg.id)
	if at == nil || a.st == nil || at.state != stateSending || at.try != msg.try {
		return
	}
	if at.queued {
		a.sending--
	}
	a.decide(at, msg.status, msg.err)
	at.state = stateAnswered
	a.answered = append(a.answered, at)
	a.flush(ctx)
	a.pump(ctx)
}

// decide applies the rules of docs/api.md ("Event subscriptions") to an
// answer: delivered on 2xx; FAILED and the subscription disabled on 410;
// otherwise retried after the backoff, FAILED after 24 h (or at once for a
// ping or a manual retry), and the subscription disabled once every
// attempt has failed for 3 days. A queue answer also moves the limit of
// attempts in flight: one more after a success, back to one after a failure.
func (a *deliveryActor) decide(at *attempt, status int, errText string) {
	now := a.now()
	t := messages.TimeOf(now)
	d := at.d
	d.Attempts++
	d.LastStatusCode, d.LastError = status, errText
	if errText == "" && (status < 200 || status > 299) {
		d.LastError = fmt.Sprintf("the receiver answered %d", status)
	}
	at.final, at.outcome = true, outcomeFailedAttempt
	switch {
	case errText == "" && status >= 200 && status <= 299:
		d.Status, d.LastError, d.NextAttemptAt, d.DeliveredAt = messages.DeliveryDelivered, "", nil, &t
		if a.st.FailingSince != 0 {
			a.st.FailingSince, a.failDirty = 0, true
		}
		at.outcome = outcomeDelivered
		if at.queued {
			a.limit = min(a.limit+1, deliveryWindow)
		}
		return
	case status == http.StatusGone:
		d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil
		at.outcome = outcomeGone
		a.disableNow(messages.AuditSubscriptionGone, "the receiver answered 410 Gone")
	default:
		if a.st.FailingSince == 0 {
			a.st.FailingSince, a.failDirty = t, true
		}
		switch {
		case now.Sub(a.st.FailingSince.Std()) >= deliveryDisableAfter:
			d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil
			at.outcome = outcomeGaveUp
			a.disableNow(messages.AuditSubscriptionFailing, "every delivery failed for 3 days")
		case !at.queued:
			d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil // a ping or a manual retry: one attempt
		case now.Sub(d.CreatedAt.Std()) >= deliveryGiveUp:
			d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil
			at.outcome = outcomeGaveUp
		default:
			next := messages.TimeOf(now.Add(backoffAfter(d.Attempts)))
			d.NextAttemptAt, at.final = &next, false
		}
	}
	if at.queued {
		a.limit = 1
	}
}

// disableNow turns the subscription off with the next batch, audited once.
func (a *deliveryActor) disableNow(action, detail string) {
	a.disable = true
	if a.st.Sub.Enabled && a.disabling == nil {
		a.disabling = a.sys.auditEntry(messages.Origin{ActorType: messages.ActorSystem}, action, "subscription", a.id, detail)
	}
	a.st.Sub.Enabled = false
}

// flush writes the answers not yet written, with the cursor they allow and
// the subscription's staged changes, in one write (one at a time: what is
// answered meanwhile waits for the next), once they are deliveryWriteBatch
// or the first has waited deliveryWriteDelay.
func (a *deliveryActor) flush(ctx actor.Context) {
	if a.saving || len(a.answered) == 0 {
		return
	}
	if a.writeDelay > 0 && !a.flushDue && len(a.answered) < deliveryWriteBatch {
		if !a.flushArmed {
			a.flushArmed = true
			tell := a.tell
			time.AfterFunc(a.writeDelay, func() { tell(&deliveriesFlush{}) })
		}
		return
	}
	a.flushDue = false
	batch := a.answered
	a.answered = nil
	recs := make([]*messages.Delivery, len(batch))
	for i, at := range batch {
		at.state = stateSaving
		c := *at.d
		recs[i] = &c
	}
	ch := messages.OutboxChange{Cursor: a.cursorAt()}
	if a.failDirty {
		f := a.st.FailingSince
		ch.FailingSince, a.failDirty = &f, false
	}
	if a.disable {
		ch.Disable, ch.Effects.Audit = true, a.disabling
		a.disable, a.disabling = false, nil
	}
	a.saving = true
	tell := a.tell
	a.sys.store.SaveDeliveriesAsync(a.id, recs, ch, func(err error) { tell(&deliveriesSaved{batch: batch, err: err}) })
}

// saved takes a written batch: its deliveries are finished or wait for
// their next attempt, the cursor passes what is finished, waiters hear.
func (a *deliveryActor) saved(ctx actor.Context, msg *deliveriesSaved) {
	a.saving = false
	if msg.err != nil {
		a.sys.cfg.Logger.Warn("delivery outcome not recorded", "subscription", a.id, "err", msg.err)
		for id, ws := range a.wait {
			for _, w := range ws {
				ctx.Send(w, msg.err)
			}
			delete(a.wait, id)
		}
		clear(a.extra)
		a.load(ctx) // the window is read again from storage
		return
	}
	for _, at := range msg.batch {
		if at.outcome >= 0 {
			a.sys.outboxFigures.Attempts[at.outcome].Add(1)
		}
		at.state = stateWaiting
		if at.final {
			at.state = stateFinished
		}
		if !at.queued {
			delete(a.extra, at.d.ID)
			if k := a.known[at.d.EventID]; k != nil && k.ID == at.d.ID {
				c := *at.d
				a.known[at.d.EventID] = &c
			}
		}
		out := *at.d
		a.answer(ctx, at.d.ID, &out)
	}
	n := 0
	for n < len(a.win) && a.win[n].state == stateFinished {
		n++
	}
	if n > 0 {
		k := copy(a.win, a.win[n:])
		clear(a.win[k:])
		a.win = a.win[:k]
	}
	cursor := a.read
	if len(a.win) > 0 {
		cursor = a.win[0].d.EventSeq - 1
	}
	a.st.Cursor = max(a.st.Cursor, cursor)
	for id, d := range a.known {
		if d.EventSeq <= a.st.Cursor && d.Status != messages.DeliveryPending {
			delete(a.known, id)
		}
	}
	a.report(ctx, !a.st.Sub.Enabled)
	a.flush(ctx)
	a.pump(ctx)
}

func (a *deliveryActor) answer(ctx actor.Context, id string, reply any) {
	for _, w := range a.wait[id] {
		ctx.Send(w, reply)
	}
	delete(a.wait, id)
}

// ping sends a test ping now, out of the queue.
func (a *deliveryActor) ping(ctx actor.Context, _ *messages.TestSubscription) {
	if a.st == nil {
		ctx.Respond(messages.NotFound("subscription"))
		return
	}
	now := messages.TimeOf(a.now())
	id := messages.NewID(now.Std())
	d := &messages.Delivery{ID: id, SubscriptionID: a.id, EventID: pingEventPrefix + id, Type: "ping",
		Status: messages.DeliveryPending, CreatedAt: now, NextAttemptAt: &now}
	if err := a.sys.store.SaveDelivery(d, messages.OutboxChange{}); err != nil {
		ctx.Respond(err)
		return
	}
	at := &attempt{d: d, body: a.pingBody(d), outcome: -1}
	a.extra[id] = at
	a.wait[id] = append(a.wait[id], ctx.Sender())
	a.start(ctx, at)
}

func (a *deliveryActor) pingBody(d *messages.Delivery) []byte {
	data, _ := json.Marshal(map[string]string{"subscriptionId": a.id})
	return payloadOf(d.EventID, d.Type, d.CreatedAt, data)
}

// retry attempts a PENDING or FAILED delivery again now: one of the
// window's keeps its place (and is answered once its outcome is written),
// any other goes out beside the queue.
func (a *deliveryActor) retry(ctx actor.Context, msg *messages.RetryDelivery) {
	if a.st == nil {
		ctx.Respond(messages.NotFound("subscription"))
		return
	}
	if at := a.find(msg.DeliveryID); at != nil {
		a.wait[msg.DeliveryID] = append(a.wait[msg.DeliveryID], ctx.Sender())
		if at.state == stateWaiting {
			now := messages.TimeOf(a.now())
			at.d.NextAttemptAt = &now
			a.start(ctx, at)
		}
		return
	}
	d, err := a.sys.store.GetDelivery(a.id, msg.DeliveryID)
	if err != nil {
		ctx.Respond(err)
		return
	}
	if d == nil {
		ctx.Respond(messages.NotFound("delivery"))
		return
	}
	if d.Status == messages.DeliveryDelivered {
		ctx.Respond(messages.Errorf(messages.CodeInvalidTransition, "the delivery was delivered; only a FAILED or PENDING delivery is retried"))
		return
	}
	at := &attempt{d: d, outcome: -1}
	if d.EventSeq == 0 {
		at.body = a.pingBody(d)
	} else {
		e, err := a.eventAt(d.EventSeq)
		if err != nil {
			ctx.Respond(err)
			return
		}
		if e == nil {
			ctx.Respond(messages.Errorf(messages.CodeConflict, "the event of this delivery is no longer retained"))
			return
		}
		at.body = payloadOf(d.EventID, d.Type, e.Time, e.Data)
	}
	now := messages.TimeOf(a.now())
	d.Status, d.NextAttemptAt = messages.DeliveryPending, &now
	if err := a.sys.store.SaveDelivery(d, messages.OutboxChange{}); err != nil {
		ctx.Respond(err)
		return
	}
	a.extra[d.ID] = at
	a.wait[d.ID] = append(a.wait[d.ID], ctx.Sender())
	a.start(ctx, at)
}
