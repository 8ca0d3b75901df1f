package actors

import (
	"container/heap"
	"container/list"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// dispatcherActor owns the one priority queue of QUEUED executions and hands
// its head to idle runners that claim work.
//
// Handles: *messages.ClaimWork, *messages.CancelClaim, *execEnqueued,
// *execDequeued, *workClaimExpired, *queueStaleTick. Sends: *assignExecution to the
// executions supervisor (as a future continued with ReenterAfter, never
// waited on), *expireQueued for executions past the queue timeout, and the
// claim answers (*messages.Execution or *messages.NoWork). State: the queue
// (HIGH before NORMAL before LOW, FIFO by enqueue time within a priority),
// parked claims (oldest first, one per runner), claims whose assignment is
// in flight; Gauges.QueueDepth and Gauges.WaitingClaims. Timers: the
// stale-check ticker (every Config.StaleCheckInterval) and one timer per
// parked claim (its Wait).
type dispatcherActor struct {
	sys    *System
	queue  execQueue
	byID   map[string]*queueEntry
	seq    uint64
	parked *list.List // of *workClaim, oldest first; O(1) removal at 10,000 parked polls
	byRun  map[string]*workClaim
	stop   chan struct{}
	gen    uint64
}

type queueEntry struct {
	id    string
	rank  int
	enq   messages.Time
	seq   uint64
	index int
}

// execQueue is a heap ordered by rank, enqueue time, then arrival.
type execQueue []*queueEntry

func (q execQueue) Len() int { return len(q) }
func (q execQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	if a.enq != b.enq {
		return a.enq < b.enq
	}
	return a.seq < b.seq
}
func (q execQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *execQueue) Push(x any) {
	e := x.(*queueEntry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *execQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

// workClaim is a runner's request for work.
type workClaim struct {
	runnerID string
	sender   *actor.PID
	wait     time.Duration
	deadline time.Time // real time: it bounds an HTTP long poll
	seq      uint64
	elem     *list.Element // its place in parked while parked
	timer    *time.Timer   // its expiry while parked (stopped by unpark)
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

// Receive implements actor.Actor.
func (d *dispatcherActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		d.byID = map[string]*queueEntry{}
		d.byRun = map[string]*workClaim{}
		d.parked = list.New()
		queued, err := d.sys.store.QueuedExecutions()
		if err != nil {
			panic(err)
		}
		for _, e := range queued {
			d.enqueue(e.ID, e.Priority, e.EnqueuedAt, false)
		}
		var depth [3]int64
		for _, e := range d.queue {
			depth[e.rank]++
		}
		for i := range depth {
			d.sys.gauges.QueueDepth[i].Store(depth[i])
		}
		d.publish()
		d.startTicker(ctx)
		reportReady(ctx, childDispatcher)
	case *actor.Stopping, *actor.Restarting:
		d.stopTicker()
		for el := d.parked.Front(); el != nil; el = el.Next() {
			ctx.Send(el.Value.(*workClaim).sender, &messages.NoWork{})
		}
		d.parked.Init()
		d.sys.gauges.WaitingClaims.Store(0)
	case *messages.ClaimWork:
		d.claimWork(ctx, msg)
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
		d.enqueue(msg.ID, msg.Priority, msg.EnqueuedAt, msg.Counted)
		d.serve(ctx)
	case *execDequeued:
		if e, ok := d.byID[msg.ID]; ok {
			d.remove(e)
			d.publish()
		}
	case *queueStaleTick:
		if msg.gen == d.gen {
			d.expireStale(ctx)
		}
	}
}

func (d *dispatcherActor) startTicker(ctx actor.Context) {
	interval := d.sys.cfg.StaleCheckInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	d.gen++
	gen, stop, self, root := d.gen, make(chan struct{}), ctx.Self(), d.sys.actors.Root
	d.stop = stop
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				root.Send(self, &queueStaleTick{gen: gen})
			case <-stop:
				return
			}
		}
	}()
}

func (d *dispatcherActor) stopTicker() {
	if d.stop != nil {
		close(d.stop)
		d.stop = nil
	}
}

// enqueue adds an execution to the queue (an execution already queued is
// left where it is unless it re-entered with a later enqueue time).
//
// QueueDepth counts the queue plus the announcements on their way to it:
// whoever announces an execution may count it first (counted), before it
// answers its own caller, so that a poll that follows a create never sees
// an empty queue (the idle-poll fast path reads the gauge). The dispatcher
// corrects the count when the announcement arrives and lowers it whenever an
// execution leaves the queue.
func (d *dispatcherActor) enqueue(id string, p messages.Priority, at messages.Time, counted bool) {
	rank := queueRank(p)
	// The gauge only ever moves by the net change, so a reader never sees a
	// transient dip.
	if e, ok := d.byID[id]; ok {
		if e.enq == at {
			if counted {
				d.sys.gauges.QueueDepth[rank].Add(-1) // counted twice
			}
			return
		}
		heap.Remove(&d.queue, e.index)
		delete(d.byID, e.id)
		if e.rank != rank {
			d.sys.gauges.QueueDepth[e.rank].Add(-1)
			if !counted {
				d.sys.gauges.QueueDepth[rank].Add(1)
			}
		} else if counted {
			d.sys.gauges.QueueDepth[rank].Add(-1)
		}
	} else if !counted {
		d.sys.gauges.QueueDepth[rank].Add(1)
	}
	d.seq++
	e := &queueEntry{id: id, rank: rank, enq: at, seq: d.seq}
	heap.Push(&d.queue, e)
	d.byID[id] = e
}

// queueRank is p's rank in the queue; an invalid priority queues as NORMAL.
func queueRank(p messages.Priority) int {
	if rank := p.Rank(); rank >= 0 {
		return rank
	}
	return 1
}

// remove takes an entry out of the queue.
func (d *dispatcherActor) remove(e *queueEntry) {
	heap.Remove(&d.queue, e.index)
	delete(d.byID, e.id)
	d.sys.gauges.QueueDepth[e.rank].Add(-1)
}

// popHead takes the head of the queue.
func (d *dispatcherActor) popHead() *queueEntry {
	e := heap.Pop(&d.queue).(*queueEntry)
	delete(d.byID, e.id)
	d.sys.gauges.QueueDepth[e.rank].Add(-1)
	return e
}

// publish updates the waiting-claims gauge.
func (d *dispatcherActor) publish() {
	d.sys.gauges.WaitingClaims.Store(int64(d.parked.Len()))
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
	c := &workClaim{runnerID: msg.RunnerID, sender: sender, wait: msg.Wait, seq: d.seq, deadline: time.Now().Add(msg.Wait)}
	c.elem = d.parked.PushBack(c)
	d.byRun[c.runnerID] = c
	d.serve(ctx)
	d.waitOrAnswer(ctx, c)
	d.publish()
}

// waitOrAnswer, after serve, lets a claim still parked wait until its
// deadline, or answers it *messages.NoWork when it has no time left.
func (d *dispatcherActor) waitOrAnswer(ctx actor.Context, c *workClaim) {
	if d.byRun[c.runnerID] != c {
		return
	}
	if c.wait <= 0 || !time.Now().Before(c.deadline) {
		d.answerNoWork(ctx, c)
		return
	}
	d.armExpiry(ctx, c)
}

// answerNoWork removes a parked claim and answers it *messages.NoWork.
func (d *dispatcherActor) answerNoWork(ctx actor.Context, c *workClaim) {
	d.unpark(c)
	ctx.Send(c.sender, &messages.NoWork{})
}

// armExpiry answers a parked claim *messages.NoWork at its deadline.
func (d *dispatcherActor) armExpiry(ctx actor.Context, c *workClaim) {
	self, root, runner, seq := ctx.Self(), d.sys.actors.Root, c.runnerID, c.seq
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { root.Send(self, &workClaimExpired{runnerID: runner, seq: seq}) })
}

// unpark removes a parked claim.
func (d *dispatcherActor) unpark(c *workClaim) {
	if d.byRun[c.runnerID] == c {
		delete(d.byRun, c.runnerID)
	}
	if c.elem != nil {
		d.parked.Remove(c.elem)
		c.elem = nil
	}
	if c.timer != nil {
		// Served or replaced before its deadline: nothing left to expire.
		c.timer.Stop()
		c.timer = nil
	}
}

// serve matches parked claims, oldest first, with the head of the queue.
func (d *dispatcherActor) serve(ctx actor.Context) {
	for d.parked.Len() > 0 && d.queue.Len() > 0 {
		c := d.parked.Front().Value.(*workClaim)
		d.unpark(c)
		e := d.popHead()
		d.assign(ctx, c, e)
	}
	d.publish()
}

// assign asks the execution to become ASSIGNED to the claim's runner and
// answers the claim when it has; if the execution left the queue meanwhile
// (stopped, timed out), the claim goes back to the front of the line.
func (d *dispatcherActor) assign(ctx actor.Context, c *workClaim, e *queueEntry) {
	pid, ok := d.sys.pids[childExecutions]
	if !ok {
		ctx.Send(c.sender, &messages.NoWork{})
		return
	}
	f := ctx.RequestFuture(pid, &assignExecution{ID: e.id, RunnerID: c.runnerID}, assignTimeout)
	ctx.ReenterAfter(f, func(res any, err error) {
		r, _ := res.(*assignResult)
		switch {
		case err == nil && r != nil && r.Err == nil && r.Execution != nil:
			ctx.Send(c.sender, r.Execution)
			return
		case err != nil || r == nil:
			// Unknown outcome (timeout): do not risk giving this runner a
			// second execution; it polls again. If the assignment did land
			// (late), take it back, so no work waits on a runner that was
			// told there was none.
			ctx.Send(c.sender, &messages.NoWork{})
			ctx.Send(pid, &unassignExecution{ID: e.id, RunnerID: c.runnerID})
			return
		}
		// The execution was no longer QUEUED: serve the claim again, first
		// in line, unless the runner has claimed anew meanwhile.
		if _, newer := d.byRun[c.runnerID]; newer {
			ctx.Send(c.sender, &messages.NoWork{})
			return
		}
		c.elem = d.parked.PushFront(c)
		d.byRun[c.runnerID] = c
		d.serve(ctx)
		d.waitOrAnswer(ctx, c)
		d.publish()
	})
}

// expireStale asks the executions queued longer than the queue timeout to
// fail; each checks the clock itself and leaves the queue when it does.
func (d *dispatcherActor) expireStale(ctx actor.Context) {
	timeout := d.sys.cfg.QueueTimeout
	pid, ok := d.sys.pids[childExecutions]
	if timeout <= 0 || !ok {
		return
	}
	limit := messages.TimeOf(d.sys.Now().Add(-timeout))
	for _, e := range d.queue {
		if e.enq <= limit {
			ctx.Send(pid, &expireQueued{ID: e.id})
		}
	}
}
