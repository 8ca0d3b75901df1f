package actors

import (
	"container/list"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// dispatcherActor owns the one queue of QUEUED executions (an execQueue:
// compact entries, no actor per execution) and hands its head to idle
// runners that claim work.
//
// Handles: *messages.ClaimWork (with the runner's labels: it takes only
// entries whose labels it has all of), *messages.RelabelClaim (a parked
// claim takes its runner's new labels and is matched again),
// *messages.ExplainWaiting (an entry's place, execQueue.Position),
// *messages.CancelClaim, *execEnqueued (one
// execution re-entered the queue), *execsCreated (a durable batch of
// creations: enqueued, then its creators answered), *execDequeued,
// *workClaimExpired, *queueStaleTick, *expireDone, *licenseRenewed (it
// assigns nothing while the license is EXPIRED or INVALID: claims wait,
// and a renewal serves them). Sends: *assignExecution
// to the executions registry (as a future continued with ReenterAfter,
// never waited on), which activates the execution's actor; *expireQueued
// for executions past the queue timeout (at most maxExpiring in flight);
// the claim answers (*messages.Execution or *messages.NoWork); the answers
// that wait for an enqueue. State: the queue, parked claims (oldest first,
// one per runner), the expiries in flight; Gauges.QueueDepth (its one
// writer: a caller is answered only after the dispatcher has counted what
// it queued) and Gauges.WaitingClaims. Timers (Config.AfterFunc): the
// stale check (every Config.StaleCheckInterval), one per parked claim (its
// Wait) and one per assignment in flight.
type dispatcherActor struct {
	sys      *System
	queue    *execQueue
	seq      uint64
	parked   *list.List // of *workClaim, oldest first; O(1) removal at 10,000 parked polls
	byRun    map[string]*workClaim
	stopTick func() bool
	gen      uint64
	expiring map[string]uint64 // execution id → the tick generation it was sent in
	// assigning holds the assignments awaiting their answer, by claim
	// number.
	assigning map[uint64]*pendingAssign
	// moreStale: the last sweep stopped at maxExpiring; the next answers
	// continue it.
	moreStale bool
}

// workClaim is a runner's request for work.
type workClaim struct {
	runnerID string
	labels   []string // the runner's labels (sorted)
	labelKey string   // labels joined with commas (claims alike are skipped together)
	sender   *actor.PID
	wait     time.Duration
	deadline time.Time
	seq      uint64
	elem     *list.Element // its place in parked while parked
	stop     func() bool   // stops its expiry while parked (called by unpark)
}

// workClaimExpired fires when a parked claim's Wait has passed.
type workClaimExpired struct {
	runnerID string
	seq      uint64
}

// queueStaleTick is the stale-check timer's tick.
type queueStaleTick struct{ gen uint64 }

// assignTimeout bounds one assignment round trip.
const assignTimeout = 10 * time.Second

// maxExpiring bounds the queue-timeout checks in flight: a backlog that
// times out at once is activated a few hundred executions at a time, not
// all together.
const maxExpiring = 256

// Receive implements actor.Actor.
func (d *dispatcherActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		stats, err := d.sys.store.ExecutionStats()
		if err != nil {
			panic(err)
		}
		d.queue = newExecQueueSized(stats.Queued)
		d.byRun = map[string]*workClaim{}
		d.expiring = map[string]uint64{}
		d.assigning = map[uint64]*pendingAssign{}
		d.parked = list.New()
		if err := d.sys.store.EachQueued(func(id []byte, p messages.Priority, enq messages.Time, labels []byte) {
			d.queue.pushLoaded(id, p, enq, labels)
		}); err != nil {
			panic(err)
		}
		d.publish()
		d.armTick(ctx)
		reportReady(ctx, childDispatcher)
	case *actor.Stopping, *actor.Restarting:
		if d.stopTick != nil {
			d.stopTick()
			d.stopTick = nil
		}
		for el := d.parked.Front(); el != nil; el = el.Next() {
			c := el.Value.(*workClaim)
			if c.stop != nil {
				c.stop()
			}
			ctx.Send(c.sender, &messages.NoWork{})
		}
		d.parked.Init()
		for seq, p := range d.assigning {
			p.stop()
			ctx.Send(p.claim.sender, &messages.NoWork{})
			delete(d.assigning, seq)
		}
		d.sys.gauges.WaitingClaims.Store(0)
	case *messages.ClaimWork:
		d.claimWork(ctx, msg)
	case *licenseRenewed:
		// Work held back while the license was EXPIRED or INVALID goes
		// to the claims that wait for it.
		d.serve(ctx)
	case *messages.RelabelClaim:
		// A parked claim takes the runner's new labels at once: it may now
		// match work that waits.
		if c, ok := d.byRun[msg.RunnerID]; ok {
			c.labels, c.labelKey = msg.Labels, strings.Join(msg.Labels, ",")
			d.serveOne(ctx, c)
			d.waitOrAnswer(ctx, c)
			d.publish()
		}
	case *messages.ExplainWaiting:
		pos, ok := d.queue.Position(msg.ID)
		if !ok {
			ctx.Respond(&messages.Waiting{})
			return
		}
		ctx.Respond(&messages.Waiting{Position: pos, Ahead: pos - 1})
	case *messages.CancelClaim:
		if c, ok := d.byRun[msg.RunnerID]; ok {
			d.answerNoWork(ctx, c)
			d.publish()
		}
	case *workClaimExpired:
		if c, ok := d.byRun[msg.runnerID]; ok && c.seq == msg.seq {
			d.answerNoWork(ctx, c)
			d.publish()
		}
	case *execEnqueued:
		d.queue.Push(msg.entry)
		d.publish()
		if msg.answerTo != nil {
			ctx.Send(msg.answerTo, msg.answer)
		}
		d.serve(ctx)
	case *execsCreated:
		for _, e := range msg.entries {
			d.queue.Push(e)
		}
		d.publish()
		for i, to := range msg.answerTo {
			ctx.Send(to, msg.answers[i])
		}
		d.serve(ctx)
	case *execDequeued:
		if d.queue.Remove(msg.ID) {
			d.publish()
		}
	case *queueStaleTick:
		if msg.gen == d.gen {
			// A check unanswered for a whole interval (its actor failed)
			// may be sent again.
			for id, gen := range d.expiring {
				if gen+1 < d.gen {
					delete(d.expiring, id)
				}
			}
			d.expireStale(ctx)
			d.sys.staleChecks.Add(1)
			d.armTick(ctx)
		}
	case *assignResult:
		d.assignAnswered(ctx, msg)
	case *assignTimedOut:
		d.assignExpired(ctx, msg.seq)
	case *expireDone:
		delete(d.expiring, msg.ID)
		if d.moreStale && len(d.expiring) <= maxExpiring/2 {
			d.expireStale(ctx)
		}
	}
}

// afterFunc arms a timer through the system clock (Config.AfterFunc).
func (s *System) afterFunc(d time.Duration, f func()) func() bool {
	if af := s.cfg.AfterFunc; af != nil {
		return af(d, f)
	}
	return time.AfterFunc(d, f).Stop
}

// sendAfter sends msg to pid after d (through the system clock) and returns
// the timer's stop function.
func (s *System) sendAfter(pid *actor.PID, d time.Duration, msg any) func() bool {
	root := s.actors.Root
	return s.afterFunc(d, func() { root.Send(pid, msg) })
}

func (d *dispatcherActor) armTick(ctx actor.Context) {
	interval := d.sys.cfg.StaleCheckInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	d.gen++
	d.stopTick = d.sys.sendAfter(ctx.Self(), interval, &queueStaleTick{gen: d.gen})
}

// publish updates the gauges the dispatcher owns.
func (d *dispatcherActor) publish() {
	g := &d.sys.gauges
	for r := range g.QueueDepth {
		g.QueueDepth[r].Store(int64(d.queue.Depth(r)))
	}
	g.WaitingClaims.Store(int64(d.parked.Len()))
}

func (d *dispatcherActor) claimWork(ctx actor.Context, msg *messages.ClaimWork) {
	if old, ok := d.byRun[msg.RunnerID]; ok {
		d.answerNoWork(ctx, old)
	}
	sender := ctx.Sender()
	if sender == nil {
		return
	}
	d.seq++
	c := &workClaim{runnerID: msg.RunnerID, labels: msg.Labels, labelKey: strings.Join(msg.Labels, ","), sender: sender, wait: msg.Wait, seq: d.seq, deadline: d.sys.Now().Add(msg.Wait)}
	c.elem = d.parked.PushBack(c)
	d.byRun[c.runnerID] = c
	// The claims parked before it could take nothing queued (serve ran
	// after every change of the queue): only the new one is matched.
	d.serveOne(ctx, c)
	d.waitOrAnswer(ctx, c)
	d.publish()
}

// waitOrAnswer, after serve, lets a claim still parked wait until its
// deadline, or answers it *messages.NoWork when it has no time left.
func (d *dispatcherActor) waitOrAnswer(ctx actor.Context, c *workClaim) {
	if d.byRun[c.runnerID] != c {
		return
	}
	left := c.deadline.Sub(d.sys.Now())
	if c.wait <= 0 || left <= 0 {
		d.answerNoWork(ctx, c)
		return
	}
	if c.stop == nil {
		c.stop = d.sys.sendAfter(ctx.Self(), left, &workClaimExpired{runnerID: c.runnerID, seq: c.seq})
	}
}

// answerNoWork removes a parked claim and answers it *messages.NoWork.
func (d *dispatcherActor) answerNoWork(ctx actor.Context, c *workClaim) {
	d.unpark(c)
	ctx.Send(c.sender, &messages.NoWork{})
}

// unpark removes a parked claim and stops its expiry.
func (d *dispatcherActor) unpark(c *workClaim) {
	if d.byRun[c.runnerID] == c {
		delete(d.byRun, c.runnerID)
	}
	if c.elem != nil {
		d.parked.Remove(c.elem)
		c.elem = nil
	}
	if c.stop != nil {
		// Served or replaced before its deadline: nothing left to expire.
		c.stop()
		c.stop = nil
	}
}

// serve matches parked claims, oldest first, with the best entry each may
// take (the entries its runner has every label of). With entries only
// some runners may take, a claim that may take none of them is passed
// over, and so are the later claims with the same labels (one map lookup
// each): the walk ends when the queue is empty, costing at most one look
// per parked claim while entries wait that none of them may take.
func (d *dispatcherActor) serve(ctx actor.Context) {
	if !d.mayAssign() {
		d.publish()
		return
	}
	var none map[string]struct{} // label sets that found nothing in this pass
	for el := d.parked.Front(); el != nil && d.queue.Len() > 0; {
		c := el.Value.(*workClaim)
		el = el.Next()
		if _, skip := none[c.labelKey]; skip {
			continue
		}
		id, ok := d.queue.PopFor(c.labels)
		if !ok {
			if none == nil {
				none = map[string]struct{}{}
			}
			none[c.labelKey] = struct{}{}
			continue // nothing this runner may take
		}
		d.unpark(c)
		d.assign(ctx, c, id)
	}
	d.publish()
}

// serveOne matches one parked claim with the best entry it may take.
func (d *dispatcherActor) serveOne(ctx actor.Context, c *workClaim) {
	if d.queue.Len() == 0 || !d.mayAssign() {
		return
	}
	if id, ok := d.queue.PopFor(c.labels); ok {
		d.unpark(c)
		d.assign(ctx, c, id)
	}
}

// mayAssign reports whether queued work may be handed out: not while the
// license is EXPIRED or INVALID (docs/api.md, "Conventions": runners report
// on work already started, and a QUEUED execution's waiting reason says
// the license holds it). Claims wait as usual; a renewal
// (*licenseRenewed) serves them.
func (d *dispatcherActor) mayAssign() bool {
	v := d.sys.license.Load()
	if v == nil { // no license actor (a dispatcher alone, in tests)
		return true
	}
	switch d.sys.licenseStateOf(v) {
	case messages.LicenseExpired, messages.LicenseInvalid:
		return false
	}
	return true
}

// licenseRenewed tells the dispatcher that a new license view was
// published (a renewal or a validation): work it held back may go out.
type licenseRenewed struct{}

// pendingAssign is an assignment whose answer the dispatcher awaits.
type pendingAssign struct {
	claim *workClaim
	id    string
	stop  func() bool // its timeout
}

// assignTimedOut ends an assignment whose answer did not come in time.
type assignTimedOut struct{ seq uint64 }

// assign asks the execution (activated by the registry) to become ASSIGNED
// to the claim's runner; the answer (*assignResult, carrying the claim's
// number) or the timeout continues in assigned. No future: the request is
// a message and its bound a timer of the system clock.
func (d *dispatcherActor) assign(ctx actor.Context, c *workClaim, id string) {
	pid, ok := d.sys.pids[childExecutions]
	if !ok {
		ctx.Send(c.sender, &messages.NoWork{})
		return
	}
	d.assigning[c.seq] = &pendingAssign{claim: c, id: id,
		stop: d.sys.sendAfter(ctx.Self(), assignTimeout, &assignTimedOut{seq: c.seq})}
	// The entry has left the queue: the gauges say so before anyone hears
	// of the assignment.
	d.publish()
	ctx.Request(pid, &assignExecution{ID: id, RunnerID: c.runnerID, Seq: c.seq})
}

// assignAnswered answers the claim of an assignment: with the execution
// when it became ASSIGNED; if the execution left the queue meanwhile
// (stopped, timed out), the claim goes back to the front of the line.
func (d *dispatcherActor) assignAnswered(ctx actor.Context, r *assignResult) {
	p, ok := d.assigning[r.Seq]
	if !ok || p.id != r.ID {
		return // after its timeout: the unassign sent then takes it back
	}
	delete(d.assigning, r.Seq)
	p.stop()
	c := p.claim
	if r.Err == nil && r.Execution != nil {
		ctx.Send(c.sender, r.Execution)
		return
	}
	if _, newer := d.byRun[c.runnerID]; newer {
		ctx.Send(c.sender, &messages.NoWork{})
		return
	}
	c.stop = nil
	c.elem = d.parked.PushFront(c)
	d.byRun[c.runnerID] = c
	d.serveOne(ctx, c)
	d.waitOrAnswer(ctx, c)
	d.publish()
}

// assignExpired gives up an assignment whose answer did not come: the
// runner is told there is no work (it polls again), and the assignment is
// taken back in case it lands late, so no work waits on a runner that was
// told there was none.
func (d *dispatcherActor) assignExpired(ctx actor.Context, seq uint64) {
	p, ok := d.assigning[seq]
	if !ok {
		return
	}
	delete(d.assigning, seq)
	ctx.Send(p.claim.sender, &messages.NoWork{})
	if pid, ok := d.sys.pids[childExecutions]; ok {
		ctx.Send(pid, &unassignExecution{ID: p.id, RunnerID: p.claim.runnerID})
	}
}

// expireStale asks the executions queued longer than the queue timeout to
// fail, at most maxExpiring at a time; each is activated, checks the clock
// itself, leaves the queue when it fails, and answers *expireDone.
func (d *dispatcherActor) expireStale(ctx actor.Context) {
	timeout := d.sys.cfg.QueueTimeout
	pid, ok := d.sys.pids[childExecutions]
	if timeout <= 0 || !ok {
		return
	}
	limit := messages.TimeOf(d.sys.Now().Add(-timeout))
	d.moreStale = false
	d.queue.EnqueuedBefore(limit, func(id string) bool {
		if _, busy := d.expiring[id]; !busy {
			if len(d.expiring) >= maxExpiring {
				d.moreStale = true
				return false
			}
			d.expiring[id] = d.gen
			ctx.Request(pid, &expireQueued{ID: id})
		}
		return true
	})
}
