package actors

import (
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// Names of the execution-related top-level actors (children of the
// orchestrator).
const (
	childExecutions = "executions"
	childDispatcher = "dispatcher"
)

// Internal messages between the dispatcher, the executions supervisor and
// the execution actors.
type (
	// assignExecution asks an execution to become ASSIGNED to a runner.
	// Reply: *assignResult.
	assignExecution struct {
		ID       string
		RunnerID string
	}
	// unassignExecution takes back an assignment whose answer the
	// dispatcher never got (its request timed out): if the execution is
	// ASSIGNED to that runner, it goes back to QUEUED, so the runner —
	// which was told "no work" — never holds work it does not know of.
	unassignExecution struct {
		ID       string
		RunnerID string
	}
	// assignResult answers assignExecution: Execution on success, Err when
	// the execution is no longer QUEUED (or the write failed).
	assignResult struct {
		ID        string
		Execution *messages.Execution
		Err       error
	}
	// expireQueued tells a QUEUED execution that its queue time may be up;
	// the execution checks the clock itself. No reply.
	expireQueued struct{ ID string }
	// execEnqueued tells the dispatcher that an execution (re-)entered the
	// queue.
	execEnqueued struct {
		ID         string
		Priority   messages.Priority
		EnqueuedAt messages.Time
		// Counted: the sender already added it to Gauges.QueueDepth.
		Counted bool
	}
	// execDequeued tells the dispatcher that a QUEUED execution left the
	// queue other than by assignment (stopped, failed).
	execDequeued struct{ ID string }
	// createBatchDone carries a durable batch of creations back to the
	// supervisor.
	createBatchDone struct {
		batch    []*pendingCreate
		outcomes []messages.CreateOutcome
		err      error
	}
	// createLinger ends the short wait for the next batch of creations.
	createLinger struct{ gen uint64 }
	// passivate tells the supervisor that an execution finished.
	passivate struct{ ID string }
)

// pendingCreate is one creation waiting for its batch.
type pendingCreate struct {
	exec      *messages.Execution
	dedupeKey string
	sender    *actor.PID
	attended  bool
	reply     func(e *messages.Execution, dup bool) any
}

// createLingerMax bounds how long a batch of creations waits for the
// callers answered by the previous batch to come back.
const createLingerMax = time.Millisecond

// executionsActor is the supervisor of the execution actors.
//
// Creations are written in batches, one batch in flight at a time, without
// blocking the actor: while a batch commits (fsync), new creations gather;
// when it lands, the next batch leaves at once if everyone expected is
// already back, else after at most createLingerMax. Busy clients thus meet in
// one commit instead of alternating between two half-full ones, which
// doubles the durable creations per fsync; a lone request never waits.
//
// Handles: *messages.CreateExecution, *messages.StartAttended (creates,
// durably, without blocking: the write completes as *createBatchDone;
// *createLinger ends a wait),
// *messages.StopExecution, *messages.ReportStatus, *messages.RunnerLost,
// *assignExecution, *expireQueued (routed to execution/<id>, spawned from
// storage when active but not live; finished ones are answered from
// storage), *passivate, *actor.Terminated. Sends: *execEnqueued to the
// dispatcher (through new children), *messages.ExecutionAssigned to runners.
// State: the live children by execution id; the creations waiting for a
// batch; Gauges.ActiveExecutions. Timers: the linger of the next batch.
type executionsActor struct {
	sys  *System
	live map[string]*actor.PID

	pending   []*pendingCreate
	inFlight  bool
	lingering bool
	lingerGen uint64
	target    int // flush the lingering batch as soon as it is this big

	// attended maps a runner to the execution it runs outside the queue
	// (started by POST /api/runners/executions, or any ASSIGNED/RUNNING one
	// found at start), and attendedOf the reverse: an attended runner runs
	// one execution at a time, which this actor — where those creations
	// are serialised — enforces.
	attended   map[string]string
	attendedOf map[string]string

	// props are the children's props (childProps); handoff and
	// handoffQuiet are the first state of the child being spawned.
	props        *actor.Props
	handoff      *messages.Execution
	handoffQuiet bool
}

// Receive implements actor.Actor.
func (a *executionsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.live = map[string]*actor.PID{}
		a.sys.gauges.ActiveExecutions.Store(0)
		active, err := a.sys.store.ActiveExecutions()
		if err != nil {
			panic(err)
		}
		a.attended, a.attendedOf = map[string]string{}, map[string]string{}
		for _, e := range active {
			a.spawn(ctx, e)
			if e.RunnerID != nil && *e.RunnerID != "" {
				a.holdRunner(*e.RunnerID, e.ID)
			}
		}
		reportReady(ctx, childExecutions)
	case *messages.CreateExecution:
		a.create(ctx, msg)
	case *messages.StartAttended:
		a.startAttended(ctx, msg)
	case *createBatchDone:
		a.created(ctx, msg)
	case *createLinger:
		if a.lingering && msg.gen == a.lingerGen {
			a.lingering = false
			a.flush(ctx)
		}
	case *messages.StopExecution:
		a.route(ctx, msg.ID, msg)
	case *messages.ReportStatus:
		a.route(ctx, msg.ExecutionID, msg)
	case *messages.RunnerLost:
		a.route(ctx, msg.ExecutionID, msg)
	case *assignExecution:
		a.route(ctx, msg.ID, msg)
	case *unassignExecution:
		a.route(ctx, msg.ID, msg)
	case *expireQueued:
		a.route(ctx, msg.ID, msg)
	case *passivate:
		a.releaseRunner(msg.ID)
		if pid, ok := a.live[msg.ID]; ok {
			delete(a.live, msg.ID)
			a.sys.gauges.ActiveExecutions.Add(-1)
			ctx.Poison(pid) // after the messages already in its mailbox
		}
	case *actor.Terminated:
		// A child that supervision gave up on: forget it, so the next
		// message respawns it from storage.
		id, ok := strings.CutPrefix(msg.Who.Id, ctx.Self().Id+"/")
		if pid, live := a.live[id]; ok && live && pid.Equal(msg.Who) {
			delete(a.live, id)
			a.sys.gauges.ActiveExecutions.Add(-1)
		}
	}
}

// spawn starts the actor of an active execution.
func (a *executionsActor) spawn(ctx actor.Context, e *messages.Execution) *actor.PID {
	return a.spawnActor(ctx, e, false)
}

// childProps are the props of every execution actor, made once per
// supervisor instance: one producer, one supervision strategy (it keeps no
// per-child state; restart counts live in each child) and the lock-free
// unbounded mailbox, which starts without the ring buffer the default one
// allocates (an execution actor gets a handful of messages in its life, and
// a backlog of queued executions keeps one actor each). The first state of
// a new child is handed over by the init hook, which protoactor runs inside
// SpawnNamed — on this supervisor's goroutine, so the handoff fields need no
// lock — and never on a restart: a restarted child starts empty and reads
// its execution from storage.
func (a *executionsActor) childProps() *actor.Props {
	if a.props == nil {
		sys := a.sys
		a.props = actor.PropsFromProducer(func() actor.Actor { return &executionActor{sys: sys} },
			actor.WithSupervisor(childSupervision()),
			actor.WithMailbox(actor.UnboundedLockfree()),
			actor.WithOnInit(func(ctx actor.Context) {
				x := ctx.Actor().(*executionActor)
				x.id, x.exec, x.quiet = a.handoff.ID, a.handoff, a.handoffQuiet
			}))
	}
	return a.props
}

// spawnActor starts the actor of an active execution; quiet when the caller
// announces a QUEUED one to the dispatcher itself.
func (a *executionsActor) spawnActor(ctx actor.Context, e *messages.Execution, quiet bool) *actor.PID {
	if pid, ok := a.live[e.ID]; ok {
		return pid
	}
	id := e.ID
	a.handoff, a.handoffQuiet = e, quiet
	props := a.childProps()
	pid, err := ctx.SpawnNamed(props, id)
	a.handoff = nil
	if err != nil {
		// The name is taken by a child still stopping: use it, it answers
		// from its own (terminal) state.
		pid = actor.NewPID(ctx.Self().Address, ctx.Self().Id+"/"+id)
		return pid
	}
	a.live[id] = pid
	a.sys.gauges.ActiveExecutions.Add(1)
	return pid
}

// route delivers msg to the actor of execution id.
func (a *executionsActor) route(ctx actor.Context, id string, msg any) {
	if pid, ok := a.live[id]; ok {
		ctx.Forward(pid)
		return
	}
	e, err := a.sys.store.GetExecution(id)
	if err != nil {
		respondIfAsked(ctx, err)
		return
	}
	if e == nil {
		if _, ok := msg.(*assignExecution); ok {
			respondIfAsked(ctx, &assignResult{ID: id, Err: messages.NotFound("execution")})
			return
		}
		respondIfAsked(ctx, messages.NotFound("execution"))
		return
	}
	if !e.Status.Terminal() {
		ctx.Forward(a.spawn(ctx, e))
		return
	}
	if reply := finishedReply(e, msg); reply != nil {
		respondIfAsked(ctx, reply)
	}
}

// respondIfAsked answers the sender, if the message had one.
func respondIfAsked(ctx actor.Context, reply any) {
	if ctx.Sender() != nil {
		ctx.Respond(reply)
	}
}

func (a *executionsActor) create(ctx actor.Context, msg *messages.CreateExecution) {
	if err := a.sys.CheckCanCreate(); err != nil {
		respondIfAsked(ctx, err)
		return
	}
	prio := msg.Priority
	if prio == "" {
		prio = messages.PriorityNormal
	}
	if prio.Rank() < 0 {
		respondIfAsked(ctx, messages.Invalid("priority must be LOW, NORMAL or HIGH"))
		return
	}
	now := a.sys.Now()
	ts := messages.TimeOf(now)
	e := &messages.Execution{
		ID: messages.NewID(now), WorkflowID: msg.WorkflowID, Status: messages.ExecQueued, Priority: prio,
		Input: msg.Input, TriggeredBy: msg.TriggeredBy, TriggerID: msg.TriggerID, Attempt: 1,
		EnqueuedAt: ts, CreatedAt: ts, UpdatedAt: ts,
	}
	a.persistNew(ctx, e, msg.DedupeKey, false, func(e *messages.Execution, dup bool) any {
		return &messages.ExecutionCreated{Execution: e, Duplicate: dup}
	})
}

func (a *executionsActor) startAttended(ctx actor.Context, msg *messages.StartAttended) {
	if err := a.sys.CheckCanCreate(); err != nil {
		respondIfAsked(ctx, err)
		return
	}
	runner := msg.RunnerID
	if id, busy := a.attended[runner]; busy {
		respondIfAsked(ctx, messages.Errorf(messages.CodeConflict,
			"this runner is already running execution %s: report it finished (or stopped) first", id))
		return
	}
	now := a.sys.Now()
	ts := messages.TimeOf(now)
	var by *string
	if msg.Origin.ActorType == messages.ActorUser && msg.Origin.ActorID != "" {
		id := msg.Origin.ActorID
		by = &id
	}
	e := &messages.Execution{
		ID: messages.NewID(now), WorkflowID: msg.WorkflowID, Status: messages.ExecRunning,
		Priority: messages.PriorityNormal, Input: msg.Input, RunnerID: &runner, TriggeredBy: by, Attempt: 1,
		AssignedAt: ts, StartedAt: ts, CreatedAt: ts, UpdatedAt: ts,
	}
	a.holdRunner(runner, e.ID) // until it finishes, or its creation fails
	a.persistNew(ctx, e, "", true, func(e *messages.Execution, _ bool) any { return e })
}

// holdRunner records that runner runs execution id.
func (a *executionsActor) holdRunner(runner, id string) {
	a.attended[runner], a.attendedOf[id] = id, runner
}

// releaseRunner forgets the runner of execution id, once it finished or
// was never created.
func (a *executionsActor) releaseRunner(id string) {
	if runner, ok := a.attendedOf[id]; ok {
		delete(a.attendedOf, id)
		if a.attended[runner] == id {
			delete(a.attended, runner)
		}
	}
}

// persistNew queues e for the next batch of creations.
func (a *executionsActor) persistNew(ctx actor.Context, e *messages.Execution, dedupeKey string, attended bool,
	reply func(*messages.Execution, bool) any) {
	a.pending = append(a.pending, &pendingCreate{exec: e, dedupeKey: dedupeKey, sender: ctx.Sender(), attended: attended, reply: reply})
	switch {
	case !a.inFlight && !a.lingering:
		a.flush(ctx)
	case a.lingering && len(a.pending) >= a.target:
		a.lingering = false
		a.flush(ctx)
	}
}

// flush writes the waiting creations as one batch through the store's
// asynchronous group-commit path.
func (a *executionsActor) flush(ctx actor.Context) {
	if len(a.pending) == 0 || a.inFlight {
		return
	}
	batch := a.pending
	a.pending = nil
	a.inFlight = true
	es := make([]*messages.Execution, len(batch))
	keys := make([]string, len(batch))
	for i, p := range batch {
		es[i], keys[i] = p.exec, p.dedupeKey
	}
	self, root := ctx.Self(), a.sys.actors.Root
	a.sys.store.CreateExecutionsAsync(es, keys, func(outcomes []messages.CreateOutcome, err error) {
		root.Send(self, &createBatchDone{batch: batch, outcomes: outcomes, err: err})
	})
}

// created answers a durable batch, then sends the next one or lingers.
func (a *executionsActor) created(ctx actor.Context, msg *createBatchDone) {
	a.inFlight = false
	var spawn []*messages.Execution
	for i, p := range msg.batch {
		var reply any
		switch {
		case msg.err != nil:
			reply = msg.err
			a.releaseRunner(p.exec.ID)
		case msg.outcomes[i].Err != nil:
			reply = msg.outcomes[i].Err
			a.releaseRunner(p.exec.ID)
		default:
			o := msg.outcomes[i]
			if !o.Duplicate && !o.Execution.Status.Terminal() {
				x := o.Execution
				// Spawned after the answers below leave (the answers are
				// durable already); any later message for it reaches this
				// actor after this handler, so after the spawn.
				spawn = append(spawn, x)
				if x.Status == messages.ExecQueued {
					// Announced before the creator hears of it, so a
					// claim sent after the answer finds it in the queue.
					a.sys.announceQueued(ctx, x, true)
				}
				if p.attended && x.RunnerID != nil {
					a.sys.notifyRunners(ctx, &messages.ExecutionAssigned{RunnerID: *x.RunnerID,
						ExecutionID: x.ID, Status: x.Status})
				}
			}
			reply = p.reply(o.Execution, o.Duplicate)
		}
		if p.sender != nil {
			ctx.Send(p.sender, reply)
		}
	}
	// The actor shares the record the creator's answer carries: nothing
	// changes a record in place (every transition makes a new one with
	// copyExecution), and a queued execution's actor then keeps no second
	// copy alive.
	for _, x := range spawn {
		a.spawnActor(ctx, x, true)
	}
	// The callers just answered are likely to come back with more: wait
	// for them briefly so they share the next commit.
	a.target = len(msg.batch) + len(a.pending)
	if len(msg.batch) <= 1 || len(a.pending) >= a.target {
		a.flush(ctx)
		return
	}
	a.lingering = true
	a.lingerGen++
	gen, self, root := a.lingerGen, ctx.Self(), a.sys.actors.Root
	time.AfterFunc(createLingerMax, func() { root.Send(self, &createLinger{gen: gen}) })
}

// notifyRunners sends a notification to the runners actor, when there is one.
func (s *System) notifyRunners(ctx actor.Context, msg any) {
	if pid, ok := s.pids[childRunners]; ok {
		ctx.Send(pid, msg)
	}
}

// copyExecution returns a copy of e whose pointer fields are not shared: a
// transition changes the copy and commits it as the new state, so a record
// already sent out (or shared with an answer) is never changed in place.
func copyExecution(e *messages.Execution) *messages.Execution {
	c := *e
	if e.RunnerID != nil {
		v := *e.RunnerID
		c.RunnerID = &v
	}
	if e.Error != nil {
		v := *e.Error
		c.Error = &v
	}
	if e.Logs != nil {
		v := *e.Logs
		c.Logs = &v
	}
	if e.Metrics != nil {
		m := *e.Metrics
		c.Metrics = &m
	}
	return &c
}

// finishedReply is the answer of a finished execution to msg (nil for none).
func finishedReply(e *messages.Execution, msg any) any {
	switch m := msg.(type) {
	case *messages.StopExecution:
		return messages.Errorf(messages.CodeInvalidTransition, "the execution is already %s", e.Status)
	case *messages.ReportStatus:
		if err := checkReport(e, m); err != nil {
			return err
		}
		if m.Status == e.Status {
			return e
		}
		return messages.Errorf(messages.CodeInvalidTransition, "the execution is already %s", e.Status)
	case *messages.RunnerLost:
		return e
	case *assignExecution:
		return &assignResult{ID: e.ID, Err: messages.Errorf(messages.CodeInvalidTransition, "the execution is %s", e.Status)}
	}
	return nil
}

// checkReport checks who reports and what: only the assigned runner, and
// never QUEUED or ASSIGNED.
func checkReport(e *messages.Execution, m *messages.ReportStatus) error {
	if e.RunnerID == nil || *e.RunnerID != m.RunnerID {
		return messages.Errorf(messages.CodeForbidden, "the execution is not assigned to this runner")
	}
	switch m.Status {
	case messages.ExecQueued, messages.ExecAssigned:
		return messages.Invalid("a runner may not report %s", m.Status)
	}
	if !m.Status.Valid() {
		return messages.Invalid("status must be RUNNING, COMPLETED, FAILED or STOPPED")
	}
	return nil
}

// executionActor owns the state machine of one active execution.
//
// Handles: *assignExecution (QUEUED → ASSIGNED), *messages.ReportStatus,
// *messages.StopExecution, *messages.RunnerLost, *expireQueued. Sends:
// *execEnqueued/*execDequeued to the dispatcher, *messages.ExecutionReleased
// and *messages.StopRequested to runners, *passivate to its parent when it
// reaches a terminal state. State: the execution (every transition is
// durable before it is answered or announced), never changed in place —
// each transition makes a new record (copyExecution) — so the record may be
// shared with answers already sent. Timers: none (the dispatcher drives the
// queue timeout).
type executionActor struct {
	sys  *System
	id   string
	exec *messages.Execution
	done bool
	// quiet: the supervisor has announced the new execution to the
	// dispatcher itself (before answering its creator).
	quiet bool
}

// Receive implements actor.Actor.
func (a *executionActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		if a.id == "" { // restarted: the name is the execution id
			self := ctx.Self().Id
			a.id = self[strings.LastIndexByte(self, '/')+1:]
		}
		if a.exec == nil {
			e, err := a.sys.store.GetExecution(a.id)
			if err != nil {
				panic(err)
			}
			if e == nil {
				ctx.Send(ctx.Parent(), &passivate{ID: a.id})
				a.done = true
				return
			}
			e.Logs = nil
			a.exec = e
		}
		switch {
		case a.exec.Status.Terminal():
			a.done = true
			ctx.Send(ctx.Parent(), &passivate{ID: a.id})
		case a.exec.Status == messages.ExecQueued && !a.quiet:
			a.announceQueued(ctx, false)
		}
		return
	}
	if _, ok := ctx.Message().(actor.SystemMessage); ok {
		return
	}
	if a.exec == nil {
		respondIfAsked(ctx, messages.NotFound("execution"))
		return
	}
	if a.done {
		if reply := finishedReply(a.exec, ctx.Message()); reply != nil {
			respondIfAsked(ctx, reply)
		}
		return
	}
	switch msg := ctx.Message().(type) {
	case *assignExecution:
		ctx.Respond(a.assign(ctx, msg))
	case *unassignExecution:
		a.unassign(ctx, msg)
	case *messages.ReportStatus:
		respondIfAsked(ctx, a.report(ctx, msg))
	case *messages.StopExecution:
		respondIfAsked(ctx, a.stop(ctx, msg))
	case *messages.RunnerLost:
		respondIfAsked(ctx, a.runnerLost(ctx, msg))
	case *expireQueued:
		a.expire(ctx)
	}
}

func (a *executionActor) announceQueued(ctx actor.Context, counted bool) {
	a.sys.announceQueued(ctx, a.exec, counted)
}

// announceQueued tells the dispatcher that e is QUEUED. counted: add it to
// the queue-depth gauge now, before the caller answers anyone.
func (s *System) announceQueued(ctx actor.Context, e *messages.Execution, counted bool) {
	pid, ok := s.pids[childDispatcher]
	if !ok {
		return
	}
	if counted {
		s.gauges.QueueDepth[queueRank(e.Priority)].Add(1)
	}
	ctx.Send(pid, &execEnqueued{ID: e.ID, Priority: e.Priority, EnqueuedAt: e.EnqueuedAt, Counted: counted})
}

func (a *executionActor) announceDequeued(ctx actor.Context) {
	if pid, ok := a.sys.pids[childDispatcher]; ok {
		ctx.Send(pid, &execDequeued{ID: a.exec.ID})
	}
}

// commit makes next durable and, on success, the actor's state; a terminal
// state passivates the actor.
func (a *executionActor) commit(ctx actor.Context, next *messages.Execution, expect messages.ExecutionStatus,
	logs string, audit *messages.AuditEntry) error {
	next.UpdatedAt = messages.TimeOf(a.sys.Now())
	if err := a.sys.store.SaveExecution(next, expect, logs, executionEffects(a.exec, next, audit)); err != nil {
		return err
	}
	a.sys.execFigures.observeTransition(a.exec, next)
	a.exec = next
	if next.Status.Terminal() {
		a.done = true
		ctx.Send(ctx.Parent(), &passivate{ID: a.id})
	}
	return nil
}

// reply is the state sent out: the record itself, since transitions replace
// it instead of changing it.
func (a *executionActor) reply() *messages.Execution { return a.exec }

func (a *executionActor) assign(ctx actor.Context, msg *assignExecution) *assignResult {
	if a.exec.Status != messages.ExecQueued {
		return &assignResult{ID: a.id, Err: messages.Errorf(messages.CodeInvalidTransition, "the execution is %s", a.exec.Status)}
	}
	next := copyExecution(a.exec)
	runner := msg.RunnerID
	next.Status, next.RunnerID, next.AssignedAt = messages.ExecAssigned, &runner, messages.TimeOf(a.sys.Now())
	next.StopRequested = false
	if err := a.commit(ctx, next, messages.ExecQueued, "", nil); err != nil {
		return &assignResult{ID: a.id, Err: err}
	}
	return &assignResult{ID: a.id, Execution: a.reply()}
}

// unassign returns an execution still ASSIGNED to msg.RunnerID (and not
// started) to the queue, without counting an attempt: the runner never
// learnt of it.
func (a *executionActor) unassign(ctx actor.Context, msg *unassignExecution) {
	if a.exec.Status != messages.ExecAssigned || a.exec.RunnerID == nil || *a.exec.RunnerID != msg.RunnerID {
		return
	}
	next := copyExecution(a.exec)
	next.Status, next.RunnerID, next.AssignedAt, next.EnqueuedAt = messages.ExecQueued, nil, 0, messages.TimeOf(a.sys.Now())
	if err := a.commit(ctx, next, messages.ExecAssigned, "", nil); err != nil {
		a.sys.cfg.Logger.Warn("unassign not recorded", "execution", a.id, "err", err)
		return
	}
	a.sys.notifyRunners(ctx, &messages.ExecutionReleased{RunnerID: msg.RunnerID, ExecutionID: a.id, Status: messages.ExecQueued})
	a.announceQueued(ctx, true)
}

func (a *executionActor) report(ctx actor.Context, msg *messages.ReportStatus) any {
	if err := checkReport(a.exec, msg); err != nil {
		return err
	}
	if !messages.CanTransition(a.exec.Status, msg.Status) {
		return messages.Errorf(messages.CodeInvalidTransition, "cannot go from %s to %s", a.exec.Status, msg.Status)
	}
	now := messages.TimeOf(a.sys.Now())
	next := copyExecution(a.exec)
	next.Status = msg.Status
	if a.exec.Status == messages.ExecAssigned && msg.Status == messages.ExecRunning {
		next.StartedAt = now
	}
	if msg.Metrics != nil {
		m := messages.ExecutionMetrics{}
		if next.Metrics != nil {
			m = *next.Metrics
		}
		if msg.Metrics.CPUAvg != nil {
			m.CPUAvg = msg.Metrics.CPUAvg
		}
		if msg.Metrics.CPUPeak != nil {
			m.CPUPeak = msg.Metrics.CPUPeak
		}
		if msg.Metrics.MemAvgMB != nil {
			m.MemAvgMB = msg.Metrics.MemAvgMB
		}
		if msg.Metrics.MemPeakMB != nil {
			m.MemPeakMB = msg.Metrics.MemPeakMB
		}
		next.Metrics = &m
	}
	if msg.Error != nil {
		v := *msg.Error
		next.Error = &v
	}
	if msg.Status.Terminal() {
		next.CompletedAt = now
	}
	logs := ""
	if msg.Logs != nil {
		logs = *msg.Logs
	}
	if err := a.commit(ctx, next, "", logs, nil); err != nil {
		return err
	}
	if next.Status.Terminal() {
		a.sys.notifyRunners(ctx, &messages.ExecutionReleased{RunnerID: msg.RunnerID, ExecutionID: a.id, Status: next.Status})
	}
	return a.reply()
}

func (a *executionActor) stop(ctx actor.Context, msg *messages.StopExecution) any {
	audit := a.sys.auditEntry(msg.Origin, messages.AuditExecutionStopped, "execution", a.id, "")
	switch a.exec.Status {
	case messages.ExecQueued, messages.ExecAssigned:
		prev := a.exec.Status
		next := copyExecution(a.exec)
		next.Status, next.CompletedAt = messages.ExecStopped, messages.TimeOf(a.sys.Now())
		if err := a.commit(ctx, next, "", "", audit); err != nil {
			return err
		}
		if prev == messages.ExecQueued {
			a.announceDequeued(ctx)
		} else if next.RunnerID != nil {
			a.sys.notifyRunners(ctx, &messages.ExecutionReleased{RunnerID: *next.RunnerID, ExecutionID: a.id, Status: next.Status})
		}
		return a.reply()
	case messages.ExecRunning:
		if !a.exec.StopRequested {
			next := copyExecution(a.exec)
			next.StopRequested = true
			if err := a.commit(ctx, next, "", "", audit); err != nil {
				return err
			}
		}
		if a.exec.RunnerID != nil {
			a.sys.notifyRunners(ctx, &messages.StopRequested{RunnerID: *a.exec.RunnerID, ExecutionID: a.id})
		}
		return a.reply()
	}
	return messages.Errorf(messages.CodeInvalidTransition, "the execution is already %s", a.exec.Status)
}

func (a *executionActor) runnerLost(ctx actor.Context, msg *messages.RunnerLost) any {
	if a.exec.RunnerID == nil || (msg.RunnerID != "" && *a.exec.RunnerID != msg.RunnerID) {
		return a.reply() // no longer that runner's work
	}
	reason := msg.Reason
	if reason == "" {
		reason = "the runner was lost"
	}
	now := messages.TimeOf(a.sys.Now())
	runner := *a.exec.RunnerID
	next := copyExecution(a.exec)
	next.Error = &reason
	requeue := a.exec.Status == messages.ExecAssigned && a.exec.Attempt < 2
	if requeue {
		next.Status, next.RunnerID, next.Attempt, next.EnqueuedAt, next.AssignedAt = messages.ExecQueued, nil, 2, now, 0
	} else {
		next.Status, next.CompletedAt = messages.ExecFailed, now
	}
	details := fmt.Sprintf("%s → %s: %s", a.exec.Status, next.Status, reason)
	audit := a.sys.auditEntry(messages.Origin{ActorType: messages.ActorSystem}, messages.AuditExecutionStale, "execution", a.id, details)
	if err := a.commit(ctx, next, "", "", audit); err != nil {
		return err
	}
	a.sys.notifyRunners(ctx, &messages.ExecutionReleased{RunnerID: runner, ExecutionID: a.id, Status: next.Status})
	if requeue {
		a.announceQueued(ctx, true)
	}
	return a.reply()
}

func (a *executionActor) expire(ctx actor.Context) {
	timeout := a.sys.cfg.QueueTimeout
	if a.exec.Status != messages.ExecQueued || timeout <= 0 {
		return
	}
	now := a.sys.Now()
	if now.Sub(a.exec.EnqueuedAt.Std()) < timeout {
		return
	}
	reason := "no runner available within " + formatTimeout(timeout)
	next := copyExecution(a.exec)
	next.Status, next.CompletedAt, next.Error = messages.ExecFailed, messages.TimeOf(now), &reason
	audit := a.sys.auditEntry(messages.Origin{ActorType: messages.ActorSystem}, messages.AuditExecutionStale, "execution", a.id, reason)
	if err := a.commit(ctx, next, messages.ExecQueued, "", audit); err != nil {
		a.sys.cfg.Logger.Warn("queue timeout not recorded", "execution", a.id, "err", err)
		return
	}
	a.announceDequeued(ctx)
}

// formatTimeout prints a duration without trailing zero units (30m, 1h30m).
func formatTimeout(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
