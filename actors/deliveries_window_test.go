package actors

import (
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// The window of a delivery actor, driven message by message: the test
// plays the receiver (launch records each attempt, the test answers it),
// the clock and the timers, and feeds the actor what it tells itself (the
// answers of its writes, from storage's writer) in the order it chooses.

// countingStore counts the delivery writes and their sizes.
type countingStore struct {
	*storage.Store
	mu     sync.Mutex
	writes []int
	// hold, when set, keeps every write from the store until it is closed
	// (a test looks at the state while a write is outstanding).
	hold chan struct{}
}

func (c *countingStore) SaveDeliveriesAsync(subID string, ds []*messages.Delivery, ch messages.OutboxChange, done func(error)) {
	c.mu.Lock()
	c.writes = append(c.writes, len(ds))
	hold := c.hold
	c.mu.Unlock()
	if hold != nil {
		go func() { <-hold; c.Store.SaveDeliveriesAsync(subID, ds, ch, done) }()
		return
	}
	c.Store.SaveDeliveriesAsync(subID, ds, ch, done)
}

func (c *countingStore) writeSizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writes)
}

// fakeCtx is the actor.Context a delivery actor uses; any other method
// panics (nil embedded interface).
type fakeCtx struct {
	actor.Context
	msg  any
	sent []any
}

var (
	fakeSelf   = actor.NewPID("test", "delivery")
	fakeParent = actor.NewPID("test", "subscriptions")
	fakeWaiter = actor.NewPID("test", "waiter")
)

func (c *fakeCtx) Message() any                  { return c.msg }
func (c *fakeCtx) Self() *actor.PID              { return fakeSelf }
func (c *fakeCtx) Parent() *actor.PID            { return fakeParent }
func (c *fakeCtx) Sender() *actor.PID            { return fakeWaiter }
func (c *fakeCtx) Send(_ *actor.PID, msg any)    { c.sent = append(c.sent, msg) }
func (c *fakeCtx) Respond(msg any)               { c.sent = append(c.sent, msg) }
func (c *fakeCtx) Forward(*actor.PID)            {}
func (c *fakeCtx) Logger() *slog.Logger          { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func (c *fakeCtx) ReceiveTimeout() time.Duration { return 0 }

type windowRig struct {
	t      *testing.T
	st     *storage.Store
	store  *countingStore
	sys    *System
	a      *deliveryActor
	ctx    *fakeCtx
	inbox  chan any
	sent   []*outboundRequest // every attempt launched, in order
	open   map[string]*outboundRequest
	now    time.Time
	timers []func()
	subID  string
	seqOf  map[string]uint64 // event id → sequence
	events []uint64          // the outbound events, in order
}

func newWindowRig(t *testing.T) *windowRig {
	st, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &windowRig{t: t, st: st, store: &countingStore{Store: st}, inbox: make(chan any, 1024),
		now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), seqOf: map[string]uint64{}}
	r.sys = &System{store: r.store, cfg: Config{
		Now:    func() time.Time { return r.now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AfterFunc: func(_ time.Duration, f func()) func() bool {
			r.timers = append(r.timers, f)
			return func() bool { return true }
		},
	}}
	now := messages.TimeOf(r.now)
	sub := &messages.Subscription{ID: messages.NewID(r.now), URL: "http://receiver.test/hook", Events: []string{"runner.online"},
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateSubscription(sub, messages.NewSubscriptionSecret(), messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	r.subID = sub.ID
	return r
}

// appendEvents stores n runner.online events, each followed by an event
// the subscription does not hear.
func (r *windowRig) appendEvents(n int) {
	for range n {
		if err := r.st.AppendEvents([]messages.Event{{Type: messages.EventRunner, Data: []byte(`{"name":"r"}`), Outbound: []string{"runner.online"}}}); err != nil {
			r.t.Fatal(err)
		}
		seq := r.st.LastEventSeq()
		r.seqOf[messages.OutboundEventID(seq, "runner.online")] = seq
		r.events = append(r.events, seq)
		if err := r.st.AppendEvents([]messages.Event{{Type: messages.EventRunner, Data: []byte(`{}`)}}); err != nil {
			r.t.Fatal(err)
		}
	}
}

// start makes a delivery actor (a new one each time: a restart).
func (r *windowRig) start() {
	r.a = newDeliveryActor(r.sys, r.subID, nil)
	r.a.writeDelay = 0
	r.a.tell = func(m any) { r.inbox <- m }
	r.a.launch = func(req *outboundRequest) {
		if req.err != nil {
			r.t.Fatalf("no secrets: %v", req.err)
		}
		r.sent = append(r.sent, req)
		r.open[req.id] = req
	}
	r.open = map[string]*outboundRequest{}
	r.ctx = &fakeCtx{}
	r.receive(&actor.Started{})
}

func (r *windowRig) receive(msg any) {
	r.ctx.msg = msg
	r.a.Receive(r.ctx)
}

// settle feeds the actor its own messages until no write is outstanding.
func (r *windowRig) settle() {
	r.t.Helper()
	for r.a.saving {
		select {
		case m := <-r.inbox:
			r.receive(m)
		case <-time.After(10 * time.Second):
			r.t.Fatal("a delivery write never answered")
		}
	}
}

// answer answers attempt req with status (0: no answer, an error).
func (r *windowRig) answer(req *outboundRequest, status int) {
	delete(r.open, req.id)
	msg := &attemptDone{id: req.id, try: req.try, status: status}
	if status == 0 {
		msg.err = "connection refused"
	}
	r.receive(msg)
}

// openInOrder is the attempts in flight, oldest event first.
func (r *windowRig) openInOrder() []*outboundRequest {
	var out []*outboundRequest
	for _, req := range r.open {
		out = append(out, req)
	}
	slices.SortFunc(out, func(x, y *outboundRequest) int { return int(r.seqOf[x.eventID]) - int(r.seqOf[y.eventID]) })
	return out
}

func (r *windowRig) stored() *messages.OutboxState {
	r.t.Helper()
	o, err := r.st.OutboxState(r.subID)
	if err != nil {
		r.t.Fatal(err)
	}
	return o
}

func (r *windowRig) deliveries() map[string]*messages.Delivery {
	r.t.Helper()
	list, _, err := r.st.ListDeliveries(r.subID, messages.Page{Page: 1, Limit: 10_000})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]*messages.Delivery{}
	for _, d := range list {
		if out[d.EventID] != nil {
			r.t.Fatalf("two delivery records of %s", d.EventID)
		}
		out[d.EventID] = d
	}
	return out
}

// checkSentInOrder: every outbound event's first attempt went out after
// those of the events before it, and nothing else was sent.
func (r *windowRig) checkSentInOrder() {
	r.t.Helper()
	var last uint64
	first := map[string]bool{}
	for _, req := range r.sent {
		seq, ok := r.seqOf[req.eventID]
		if !ok {
			r.t.Fatalf("sent %s, which no event is", req.eventID)
		}
		if first[req.eventID] {
			continue
		}
		first[req.eventID] = true
		if seq <= last {
			r.t.Fatalf("event %d first sent after event %d", seq, last)
		}
		last = seq
	}
}

func TestDeliveryWindowSendsInOrderOneMoreAtATimePerSuccess(t *testing.T) {
	r := newWindowRig(t)
	r.appendEvents(200)
	r.start()
	if len(r.sent) != 1 {
		t.Fatalf("a new outbox sends one delivery before its first answer, sent %d", len(r.sent))
	}
	rounds := 0
	for len(r.open) > 0 {
		rounds++
		for _, req := range r.openInOrder() {
			r.answer(req, 204)
			if len(r.open) > r.a.limit || r.a.limit > deliveryWindow || len(r.a.win) > deliveryWindow {
				t.Fatalf("%d in flight, limit %d, window of %d", len(r.open), r.a.limit, len(r.a.win))
			}
		}
		r.settle()
	}
	r.checkSentInOrder()
	if len(r.sent) != 200 {
		t.Fatalf("%d attempts for 200 events", len(r.sent))
	}
	// Each success lets one more go: the window doubles a round trip.
	if rounds > 12 {
		t.Fatalf("%d rounds of answers for 200 deliveries", rounds)
	}
	if o := r.stored(); o.Cursor != r.events[len(r.events)-1]+1 {
		t.Fatalf("stored cursor %d, want past the last event %d", o.Cursor, r.events[len(r.events)-1]+1)
	}
	ds := r.deliveries()
	for _, seq := range r.events {
		if d := ds[messages.OutboundEventID(seq, "runner.online")]; d == nil || d.Status != messages.DeliveryDelivered || d.Attempts != 1 {
			t.Fatalf("event %d: %+v", seq, d)
		}
	}
	if n := len(r.store.writeSizes()); n >= 200/4 {
		t.Fatalf("%d writes for 200 deliveries: %v", n, r.store.writeSizes())
	}
	if r.a.stop != nil || len(r.timers) != 0 {
		t.Fatal("an idle outbox armed a timer")
	}
}

func TestDeliveryWindowWritesTheAnswersOfAWriteInTheNext(t *testing.T) {
	r := newWindowRig(t)
	r.appendEvents(30)
	// The first write stays outstanding until released (it committed
	// before the checks below when the machine was busy).
	release := make(chan struct{})
	r.store.hold = release
	r.start()
	// Answer everything at once while the first write is outstanding.
	for len(r.open) > 0 {
		for _, req := range r.openInOrder() {
			r.answer(req, 200)
		}
	}
	if got := r.store.writeSizes(); !slices.Equal(got, []int{1}) {
		t.Fatalf("writes before the first is durable: %v", got)
	}
	if o := r.stored(); o.Cursor >= r.events[0] {
		t.Fatalf("cursor %d passed event %d before its outcome was written", o.Cursor, r.events[0])
	}
	r.store.mu.Lock()
	r.store.hold = nil
	r.store.mu.Unlock()
	close(release)
	r.settle()
	if got := r.store.writeSizes(); !slices.Equal(got, []int{1, 29}) {
		t.Fatalf("writes: %v, want the first answer, then the 29 others in one", got)
	}
	if o := r.stored(); o.Cursor != r.events[29]+1 {
		t.Fatalf("cursor %d, want %d", o.Cursor, r.events[29]+1)
	}
	r.checkSentInOrder()
}

// deliverAll answers every attempt 200, round after round (each write
// settled), until none is in flight.
func (r *windowRig) deliverAll() {
	for len(r.open) > 0 {
		for _, req := range r.openInOrder() {
			r.answer(req, 200)
		}
		r.settle()
	}
}

// ramp answers until limit attempts may be in flight.
func (r *windowRig) ramp(limit int) {
	for r.a.limit < limit {
		for _, req := range r.openInOrder() {
			r.answer(req, 200)
		}
		r.settle()
	}
}

func TestDeliveryWindowCursorWaitsForTheOldestAndAFailureStallsIt(t *testing.T) {
	r := newWindowRig(t)
	r.appendEvents(150)
	r.start()
	r.ramp(8)
	held := r.openInOrder()[0]
	heldSeq := r.seqOf[held.eventID]
	idx := slices.Index(r.events, heldSeq)
	// Everything after the held one is answered: the window runs ahead up
	// to 64 deliveries from it, and the cursor stays before it.
	for {
		var next []*outboundRequest
		for _, req := range r.openInOrder() {
			if req != held {
				next = append(next, req)
			}
		}
		if len(next) == 0 {
			break
		}
		for _, req := range next {
			r.answer(req, 200)
		}
		r.settle()
	}
	r.checkSentInOrder()
	lastSent := r.seqOf[r.sent[len(r.sent)-1].eventID]
	if want := r.events[idx+deliveryWindow-1]; lastSent != want {
		t.Fatalf("the window ran to event %d, want %d (64 from the held %d)", lastSent, want, heldSeq)
	}
	if o := r.stored(); o.Cursor != heldSeq-1 || r.a.st.Cursor != heldSeq-1 {
		t.Fatalf("cursor %d (in memory %d), want %d: before the unanswered event", o.Cursor, r.a.st.Cursor, heldSeq-1)
	}
	if v := r.sys.outboxFigures.view(r.subID).cursor.Load(); v != heldSeq-1 {
		t.Fatalf("published cursor %d", v)
	}
	ds := r.deliveries()
	if ds[held.eventID] != nil {
		t.Fatal("an unanswered delivery was written")
	}
	if d := ds[messages.OutboundEventID(lastSent, "runner.online")]; d == nil || d.Status != messages.DeliveryDelivered {
		t.Fatalf("a delivery answered after the held one: %+v", d)
	}

	// The held one fails: it waits for its backoff, alone; nothing new goes.
	sentBefore := len(r.sent)
	r.answer(held, 503)
	r.settle()
	d := r.deliveries()[held.eventID]
	if d == nil || d.Status != messages.DeliveryPending || d.Attempts != 1 || d.LastStatusCode != 503 || d.NextAttemptAt == nil ||
		d.NextAttemptAt.Std().Sub(r.now) != 5*time.Second {
		t.Fatalf("after a failure: %+v", d)
	}
	if len(r.sent) != sentBefore || r.stored().Cursor != heldSeq-1 {
		t.Fatalf("after a failure: %d more sent, cursor %d", len(r.sent)-sentBefore, r.stored().Cursor)
	}
	fire := func() {
		fs := r.timers
		r.timers = nil
		for _, f := range fs {
			f()
		}
		for len(r.inbox) > 0 {
			r.receive(<-r.inbox)
		}
	}
	if len(r.timers) != 1 {
		t.Fatalf("%d timers while a delivery waits for its backoff", len(r.timers))
	}
	r.now = r.now.Add(3 * time.Second)
	fire()
	if len(r.sent) != sentBefore {
		t.Fatal("retried before its backoff")
	}
	r.now = r.now.Add(3 * time.Second)
	fire()
	if len(r.sent) != sentBefore+1 || r.sent[sentBefore].eventID != held.eventID {
		t.Fatalf("after the backoff: %d sent", len(r.sent)-sentBefore)
	}
	// Delivered: the cursor passes everything the window had answered,
	// and the window opens again one at a time.
	r.answer(r.sent[sentBefore], 200)
	r.settle()
	if o := r.stored(); o.Cursor != lastSent {
		t.Fatalf("cursor %d, want %d (the last event the full window had read)", o.Cursor, lastSent)
	}
	if n := len(r.open); n != 2 {
		t.Fatalf("%d in flight after the failing one was delivered, want 2", n)
	}
	if d := r.deliveries()[held.eventID]; d.Status != messages.DeliveryDelivered || d.Attempts != 2 {
		t.Fatalf("the held one: %+v", d)
	}
	r.deliverAll()
	r.checkSentInOrder()
	if o := r.stored(); o.Cursor != r.events[149]+1 {
		t.Fatalf("cursor %d at the end", o.Cursor)
	}
}

// A restart (or kill -9) in the middle of a window sends again what had no
// written outcome, skips what was answered out of order, resumes a failing
// delivery with its attempts and backoff, and sends nothing else.
func TestDeliveryWindowRestartSendsOnlyWhatIsUnfinished(t *testing.T) {
	r := newWindowRig(t)
	r.appendEvents(40)
	r.start()
	r.ramp(8)
	open := r.openInOrder()
	failing, unanswered := open[0], open[len(open)-1]
	for _, req := range open[1 : len(open)-1] {
		r.answer(req, 200)
	}
	r.answer(failing, 500)
	r.settle()
	delivered := map[string]bool{}
	for id, d := range r.deliveries() {
		if d.Status == messages.DeliveryDelivered {
			delivered[id] = true
		}
	}

	// The process dies: a new actor on the same storage.
	r.sent, r.timers = nil, nil
	r.start()
	if len(r.sent) != 0 {
		t.Fatalf("sent %s before the failing delivery's backoff", r.sent[0].eventID)
	}
	r.now = r.now.Add(6 * time.Second)
	r.receive(&deliveryTick{})
	if len(r.sent) != 1 || r.sent[0].eventID != failing.eventID || r.sent[0].id != failing.id {
		t.Fatalf("after the backoff: %d sent, want the failing delivery alone", len(r.sent))
	}
	r.deliverAll()
	resent := map[string]bool{}
	for _, req := range r.sent {
		if delivered[req.eventID] {
			t.Fatalf("%s was delivered before the restart and sent again", req.eventID)
		}
		resent[req.eventID] = true
	}
	if !resent[unanswered.eventID] {
		t.Fatal("the delivery in flight at the restart was not sent again")
	}
	ds := r.deliveries()
	if len(ds) != len(r.events) {
		t.Fatalf("%d delivery records for %d events", len(ds), len(r.events))
	}
	for _, seq := range r.events {
		if d := ds[messages.OutboundEventID(seq, "runner.online")]; d == nil || d.Status != messages.DeliveryDelivered {
			t.Fatalf("event %d: %+v", seq, d)
		}
	}
	if d := ds[failing.eventID]; d.Attempts != 2 || d.ID != failing.id {
		t.Fatalf("the failing delivery after the restart: %+v", d)
	}
	if o := r.stored(); o.Cursor != r.events[39]+1 {
		t.Fatalf("cursor %d", o.Cursor)
	}
}

// The rules still hold per event inside a window: 410 disables the
// subscription (the answers in flight are still written), a delivery
// failing for 24 h is given up and the window moves past it.
func TestDeliveryWindowGoneAndGiveUp(t *testing.T) {
	r := newWindowRig(t)
	r.appendEvents(20)
	r.start()
	r.ramp(4)
	open := r.openInOrder()
	r.answer(open[0], 500)
	r.settle()
	r.now = r.now.Add(25 * time.Hour)
	for _, req := range open[1:] {
		r.answer(req, 200)
	}
	r.settle()
	r.receive(&deliveryTick{})
	retry := r.openInOrder()
	if len(retry) != 1 || retry[0].eventID != open[0].eventID {
		t.Fatalf("in flight after 25 h: %d", len(retry))
	}
	r.answer(retry[0], 500)
	r.settle()
	if d := r.deliveries()[open[0].eventID]; d.Status != messages.DeliveryFailed || d.Attempts != 2 || d.NextAttemptAt != nil {
		t.Fatalf("after 24 h: %+v", d)
	}
	if o := r.stored(); o.Cursor < r.seqOf[open[len(open)-1].eventID] {
		t.Fatalf("the cursor %d did not move past the given-up delivery", o.Cursor)
	}
	if got := r.sys.outboxFigures.Attempts[outcomeGaveUp].Load(); got != 1 {
		t.Fatalf("gave_up %d", got)
	}

	// 410 in the middle of a window: disabled, audited once, the other
	// answers written, nothing more sent.
	r.ramp(4)
	open = r.openInOrder()
	r.answer(open[1], 410)
	for _, req := range open {
		if req != open[1] {
			r.answer(req, 200)
		}
	}
	sent := len(r.sent)
	r.settle()
	o := r.stored()
	if o.Sub.Enabled || len(r.sent) != sent {
		t.Fatalf("after 410: enabled %v, %d more sent", o.Sub.Enabled, len(r.sent)-sent)
	}
	ds := r.deliveries()
	for _, req := range open {
		want := messages.DeliveryDelivered
		if req == open[1] {
			want = messages.DeliveryFailed
		}
		if ds[req.eventID].Status != want {
			t.Fatalf("%s: %s, want %s", req.eventID, ds[req.eventID].Status, want)
		}
	}
	// Up to the next delivery of the window, never sent.
	if o.Cursor != r.seqOf[open[len(open)-1].eventID]+1 {
		t.Fatalf("cursor %d after the window's answers, open %v %v", o.Cursor, r.seqOf[open[0].eventID], r.seqOf[open[len(open)-1].eventID])
	}
	audits := 0
	entries, _, err := r.st.ListAudit(messages.Page{Page: 1, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == messages.AuditSubscriptionGone {
			audits++
		}
	}
	if audits != 1 {
		t.Fatalf("%d audit entries for the 410", audits)
	}
}

// With the write delay, answers wait for each other: a few answers are one
// write once the delay has passed, a window's half goes at once.
func TestDeliveryWindowAnswersWaitForTheWriteDelay(t *testing.T) {
	r := newWindowRig(t)
	r.appendEvents(60)
	r.start()
	r.a.writeDelay = 20 * time.Millisecond
	r.answer(r.openInOrder()[0], 200)
	for _, req := range r.openInOrder() {
		r.answer(req, 200)
	}
	if got := r.store.writeSizes(); len(got) != 0 || len(r.a.answered) != 3 {
		t.Fatalf("writes before the delay: %v (%d answers waiting)", got, len(r.a.answered))
	}
	select {
	case m := <-r.inbox:
		if _, ok := m.(*deliveriesFlush); !ok {
			t.Fatalf("%T before the flush", m)
		}
		r.receive(m)
	case <-time.After(10 * time.Second):
		t.Fatal("the write delay never ended")
	}
	r.settle()
	if got := r.store.writeSizes(); !slices.Equal(got, []int{3}) {
		t.Fatalf("writes: %v, want the 3 answers in one", got)
	}
	// Once half a window of answers waits, they are written at once.
	for len(r.a.answered) < deliveryWriteBatch && len(r.open) > 0 {
		for _, req := range r.openInOrder() {
			r.answer(req, 200)
		}
	}
	if got := r.store.writeSizes(); len(got) != 2 || got[1] < deliveryWriteBatch {
		t.Fatalf("writes: %v, want a second of at least %d without waiting", got, deliveryWriteBatch)
	}
	r.settle()
	r.checkSentInOrder()
}
