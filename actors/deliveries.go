package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// Delivery timing (docs/api.md, "Event subscriptions").
var deliveryBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
	30 * time.Minute, time.Hour}

const (
	deliveryBackoffLast  = 2 * time.Hour       // after the list above, every 2 h
	deliveryGiveUp       = 24 * time.Hour      // then FAILED, and the queue moves on
	deliveryDisableAfter = 72 * time.Hour      // every attempt failing this long disables
	deliveryTick         = time.Second         // how often an idle outbox looks at the log and the clock
	deliveryReadBatch    = 256                 // events read from the log at a time
	deliveryErrorMax     = 300                 // characters of lastError kept
	deliveryAnswerMax    = 64 << 10            // bytes of an answer read (and discarded)
	pingEventPrefix      = "evt_ping_"         // eventId of a test ping: and its delivery id
	deliveryUserAgent    = "Exekra-Webhooks/1" // User-Agent of deliveries
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
	deliveryWake   struct{}
	deliveryReload struct{}
	attemptDone    struct {
		id     string
		status int
		err    string
	}
	// outboxMoved tells the subscriptions owner where a subscription's
	// cursor is (and whether it is enabled): the retention floor.
	outboxMoved struct {
		id      string
		cursor  uint64
		enabled bool
	}
)

// attempt is one delivery being sent: its record and its body.
type attempt struct {
	d       *messages.Delivery
	body    []byte
	last    bool // the last of its event's deliveries to this subscription
	running bool
	evTime  messages.Time // when its event happened (0 for a test ping)
}

// deliveryActor delivers one subscription's events (child of the
// subscriptions owner, named by the subscription id).
//
// Handles: deliveryWake, deliveryReload, attemptDone,
// *messages.TestSubscription, *messages.RetryDelivery. Sends: outboxMoved
// to its parent, replies (a test or a retry is answered when its attempt
// has an outcome). State: the outbox position (cursor, head delivery, since
// when attempts fail), the head attempt, out-of-band attempts (pings,
// retries of finished deliveries) and who waits on them. Timers: one tick
// (Config.AfterFunc) a second while enabled, compared with the clock.
// Each HTTP attempt runs in its own goroutine and reports attemptDone;
// Receive never waits on a receiver.
type deliveryActor struct {
	sys   *System
	id    string
	st    *messages.OutboxState
	head  *attempt
	extra map[string]*attempt
	wait  map[string][]*actor.PID
	stop  func() bool
	ctx   context.Context
	quit  context.CancelFunc
	http  *http.Client
	moved uint64 // the cursor last reported to the parent
	told  bool
	// seen is the last event number when the log had nothing more for
	// this subscription: until the number moves, the log is not read.
	seen uint64
	// view is what the actor publishes for GET /metrics (outbox_figures.go).
	view *outboxView
}

func newDeliveryActor(s *System, id string, client *http.Client) *deliveryActor {
	return &deliveryActor{sys: s, id: id, extra: map[string]*attempt{}, wait: map[string][]*actor.PID{}, http: client}
}

// Receive implements actor.Actor.
func (a *deliveryActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.ctx, a.quit = context.WithCancel(context.Background())
		a.view = a.sys.outboxFigures.view(a.id)
		a.reload(ctx)
	case *actor.Stopping:
		a.quit()
		a.sys.outboxFigures.drop(a.id)
		if a.stop != nil {
			a.stop()
		}
	case *deliveryReload:
		a.reload(ctx)
	case *deliveryWake:
		a.stop = nil
		a.pump(ctx)
	case *attemptDone:
		a.done(ctx, msg)
	case *messages.TestSubscription:
		a.ping(ctx, msg)
	case *messages.RetryDelivery:
		a.retry(ctx, msg)
	}
}

func (a *deliveryActor) now() time.Time { return a.sys.Now() }

func (a *deliveryActor) reload(ctx actor.Context) {
	st, err := a.sys.store.OutboxState(a.id)
	if err != nil {
		if messages.ErrorCode(err) != messages.CodeNotFound {
			a.sys.cfg.Logger.Warn("subscription outbox unreadable", "subscription", a.id, "err", err)
		}
		return
	}
	if a.st != nil && a.st.Cursor > st.Cursor {
		st.Cursor = a.st.Cursor // skipped events not persisted yet
	}
	a.st, a.seen = st, 0
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
// flag and when the head delivery's event happened while it is undelivered.
func (a *deliveryActor) publish() {
	if a.view == nil || a.st == nil {
		return
	}
	a.view.cursor.Store(a.st.Cursor)
	a.view.enabled.Store(a.st.Sub.Enabled)
	var oldest int64
	if a.head != nil && a.head.evTime > 0 {
		oldest = int64(a.head.evTime)
	}
	a.view.oldest.Store(oldest)
}

// arm schedules the next tick (one at a time).
func (a *deliveryActor) arm(ctx actor.Context) {
	if a.stop != nil || a.st == nil || !a.st.Sub.Enabled {
		return
	}
	root, self := a.sys.actors.Root, ctx.Self()
	f := func() { root.Send(self, &deliveryWake{}) }
	if af := a.sys.cfg.AfterFunc; af != nil {
		a.stop = af(deliveryTick, f)
	} else {
		a.stop = time.AfterFunc(deliveryTick, f).Stop
	}
}

// pump picks the head delivery when there is none and starts its attempt
// when it is due.
func (a *deliveryActor) pump(ctx actor.Context) {
	if a.st == nil || !a.st.Sub.Enabled {
		return
	}
	defer a.arm(ctx)
	if a.head == nil {
		a.pick(ctx)
	}
	h := a.head
	if h == nil || h.running {
		return
	}
	if h.d.NextAttemptAt != nil && a.now().Before(h.d.NextAttemptAt.Std()) {
		return
	}
	a.start(ctx, h)
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

func payloadOf(id, typ string, ts messages.Time, data json.RawMessage) []byte {
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	b, _ := json.Marshal(&messages.OutboundPayload{ID: id, Type: typ, Timestamp: ts, Data: data})
	return b
}

// eventAt reads event seq from the log (nil when no longer retained).
func (a *deliveryActor) eventAt(seq uint64) (*messages.Event, error) {
	evs, err := a.sys.store.ReadEvents(seq-1, 1)
	if err != nil || len(evs) == 0 || evs[0].Seq != seq {
		return nil, err
	}
	return &evs[0], nil
}

// pick finds the head: the stored head while it is PENDING, else the next
// delivery the log holds after the position.
func (a *deliveryActor) pick(ctx actor.Context) {
	if hd := a.st.Head; hd != nil && hd.Status == messages.DeliveryPending && hd.EventSeq > 0 {
		e, err := a.eventAt(hd.EventSeq)
		if err != nil {
			return
		}
		if e == nil {
			hd.Status, hd.LastError, hd.NextAttemptAt = messages.DeliveryFailed, "the event is no longer retained", nil
			_ = a.sys.store.SaveDelivery(hd, messages.OutboxChange{Cursor: hd.EventSeq})
			a.st.Cursor = max(a.st.Cursor, hd.EventSeq)
		} else {
			types := a.matching(e)
			a.head = &attempt{d: hd, body: payloadOf(hd.EventID, hd.Type, e.Time, e.Data),
				last: len(types) == 0 || types[len(types)-1] == hd.Type, evTime: e.Time}
			a.publish()
			return
		}
	}
	last := a.sys.store.LastEventSeq()
	if last == a.seen {
		return
	}
	after := a.st.Cursor
	for {
		evs, err := a.sys.store.ReadEvents(after, deliveryReadBatch)
		if err != nil {
			return // read again at the next tick
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			e := &evs[i]
			types := a.matching(e)
			if hd := a.st.Head; hd != nil && hd.EventSeq == e.Seq {
				if k := slices.Index(types, hd.Type); k >= 0 {
					types = types[k+1:]
				}
			}
			if len(types) == 0 {
				a.st.Cursor = e.Seq
				continue
			}
			now := messages.TimeOf(a.now())
			d := &messages.Delivery{ID: messages.NewID(now.Std()), SubscriptionID: a.id,
				EventID: messages.OutboundEventID(e.Seq, types[0]), EventSeq: e.Seq, Type: types[0],
				Status: messages.DeliveryPending, CreatedAt: now, NextAttemptAt: &now}
			if err := a.sys.store.SaveDelivery(d, messages.OutboxChange{Head: true, Cursor: e.Seq - 1}); err != nil {
				a.sys.cfg.Logger.Warn("delivery not recorded", "subscription", a.id, "err", err)
				return
			}
			a.st.Head = d
			a.head = &attempt{d: d, body: payloadOf(d.EventID, d.Type, e.Time, e.Data), last: len(types) == 1, evTime: e.Time}
			a.report(ctx, false)
			return
		}
		after = evs[len(evs)-1].Seq
		if len(evs) < deliveryReadBatch {
			break
		}
	}
	a.seen = last
	a.report(ctx, false)
}

// start sends one attempt from its own goroutine.
func (a *deliveryActor) start(ctx actor.Context, at *attempt) {
	at.running = true
	root, self := a.sys.actors.Root, ctx.Self()
	url, subID, id, eventID, body := a.st.Sub.URL, a.id, at.d.ID, at.d.EventID, at.body
	store, client, cctx, now := a.sys.store, a.http, a.ctx, a.now()
	go func() {
		status, errText := 0, ""
		cur, prev, err := store.SubscriptionSecrets(subID, messages.TimeOf(now))
		if err == nil {
			status, err = post(cctx, client, url, eventID, now.Unix(), body, cur, prev)
		}
		if err != nil {
			errText = err.Error()
			if len(errText) > deliveryErrorMax {
				errText = errText[:deliveryErrorMax]
			}
		}
		root.Send(self, &attemptDone{id: id, status: status, err: errText})
	}()
}

// post sends body signed with the secrets and answers the status code.
func post(ctx context.Context, client *http.Client, url, id string, ts int64, body []byte, secrets ...string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	tsText := strconv.FormatInt(ts, 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", deliveryUserAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", tsText)
	req.Header.Set("webhook-signature", messages.WebhookSignatureHeader(id, ts, body, secrets...))
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, deliveryAnswerMax))
	_ = res.Body.Close()
	return res.StatusCode, nil
}

// done records an attempt's outcome.
func (a *deliveryActor) done(ctx actor.Context, msg *attemptDone) {
	at, isHead := a.extra[msg.id], false
	if a.head != nil && a.head.d.ID == msg.id {
		at, isHead = a.head, true
	}
	if at == nil || a.st == nil {
		return
	}
	at.running = false
	now := a.now()
	t := messages.TimeOf(now)
	d := at.d
	d.Attempts++
	d.LastStatusCode, d.LastError = msg.status, msg.err
	if msg.err == "" && (msg.status < 200 || msg.status > 299) {
		d.LastError = fmt.Sprintf("the receiver answered %d", msg.status)
	}
	var ch messages.OutboxChange
	finished := true
	outcome := outcomeFailedAttempt
	switch {
	case msg.err == "" && msg.status >= 200 && msg.status <= 299:
		d.Status, d.LastError, d.NextAttemptAt, d.DeliveredAt = messages.DeliveryDelivered, "", nil, &t
		zero := messages.Time(0)
		ch.FailingSince = &zero
		outcome = outcomeDelivered
	case msg.status == http.StatusGone:
		d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil
		outcome = outcomeGone
		ch.Disable = true
		ch.Effects.Audit = a.sys.auditEntry(messages.Origin{ActorType: messages.ActorSystem}, messages.AuditSubscriptionGone,
			"subscription", a.id, "the receiver answered 410 Gone")
	default:
		since := a.st.FailingSince
		if since == 0 {
			since = t
			ch.FailingSince = &since
		}
		switch {
		case now.Sub(since.Std()) >= deliveryDisableAfter:
			d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil
			ch.Disable = true
			outcome = outcomeGaveUp
			ch.Effects.Audit = a.sys.auditEntry(messages.Origin{ActorType: messages.ActorSystem}, messages.AuditSubscriptionFailing,
				"subscription", a.id, "every delivery failed for 3 days")
		case !isHead:
			d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil // a ping or a manual retry: one attempt
		case now.Sub(d.CreatedAt.Std()) >= deliveryGiveUp:
			d.Status, d.NextAttemptAt = messages.DeliveryFailed, nil
			outcome = outcomeGaveUp
		default:
			next := messages.TimeOf(now.Add(backoffAfter(d.Attempts)))
			d.NextAttemptAt, finished = &next, false
		}
	}
	if isHead && finished {
		ch.Cursor = d.EventSeq - 1
		if at.last {
			ch.Cursor = d.EventSeq
		}
	}
	if err := a.sys.store.SaveDelivery(d, ch); err != nil {
		a.sys.cfg.Logger.Warn("delivery outcome not recorded", "subscription", a.id, "err", err)
		a.answer(ctx, d.ID, err)
		if isHead {
			a.head = nil // picked again from storage
			a.reload(ctx)
		}
		return
	}
	a.sys.outboxFigures.Attempts[outcome].Add(1)
	if ch.FailingSince != nil {
		a.st.FailingSince = *ch.FailingSince
	}
	if ch.Disable {
		a.st.Sub.Enabled = false
	}
	if isHead {
		a.st.Head = d
		if finished {
			a.head = nil
			a.st.Cursor = max(a.st.Cursor, ch.Cursor)
		}
	} else {
		delete(a.extra, d.ID)
		if a.st.Head != nil && a.st.Head.ID == d.ID {
			a.st.Head = d // the stored head, retried while not picked (disabled)
		}
	}
	out := *d
	a.answer(ctx, d.ID, &out)
	a.report(ctx, ch.Disable)
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
	at := &attempt{d: d, body: a.pingBody(d)}
	a.extra[id] = at
	a.wait[id] = append(a.wait[id], ctx.Sender())
	a.start(ctx, at)
}

func (a *deliveryActor) pingBody(d *messages.Delivery) []byte {
	data, _ := json.Marshal(map[string]string{"subscriptionId": a.id})
	return payloadOf(d.EventID, d.Type, d.CreatedAt, data)
}

// retry attempts a PENDING or FAILED delivery again now.
func (a *deliveryActor) retry(ctx actor.Context, msg *messages.RetryDelivery) {
	if a.st == nil {
		ctx.Respond(messages.NotFound("subscription"))
		return
	}
	if h := a.head; h != nil && h.d.ID == msg.DeliveryID {
		a.wait[h.d.ID] = append(a.wait[h.d.ID], ctx.Sender())
		if !h.running {
			now := messages.TimeOf(a.now())
			h.d.NextAttemptAt = &now
			a.start(ctx, h)
		}
		return
	}
	if at := a.extra[msg.DeliveryID]; at != nil {
		a.wait[msg.DeliveryID] = append(a.wait[msg.DeliveryID], ctx.Sender())
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
	at := &attempt{d: d}
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
