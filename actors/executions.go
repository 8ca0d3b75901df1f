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

// Internal messages between the dispatcher, the executions registry and
// the execution actors.
type (
	// assignExecution asks an execution to become ASSIGNED to a runner.
	// Reply: *assignResult.
	assignExecution struct {
		ID       string
		RunnerID string
		Seq      uint64 // the claim's number, echoed in the result
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
		Seq       uint64
		Execution *messages.Execution
		Err       error
	}
	// expireQueued tells a QUEUED execution that its queue time may be up;
	// the execution checks the clock itself. Reply: *expireDone.
	expireQueued struct{ ID string }
	// expireDone answers expireQueued (whatever the outcome).
	expireDone struct{ ID string }
	// execEnqueued tells the dispatcher that an execution (re-)entered the
	// queue; when answerTo is set, the dispatcher sends it answer once the
	// entry is queued (and counted).
	execEnqueued struct {
		entry    queueEntry
		answerTo *actor.PID
		answer   any
	}
	// execsCreated hands a durable batch of creations to the dispatcher:
	// the QUEUED ones enter the queue, then every creator is answered.
	execsCreated struct {
		entries  []queueEntry
		answerTo []*actor.PID
		answers  []any
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
	// passivate asks the registry to stop an idle execution actor (QUEUED,
	// finished, or unknown); finished: it reached a terminal state.
	passivate struct {
		ID       string
		PID      *actor.PID
		Finished bool
	}
)

// queueEntryOf is the queue entry of a QUEUED execution.
func queueEntryOf(e *messages.Execution) queueEntry {
	return queueEntry{ID: e.ID, Priority: e.Priority, Enqueued: e.EnqueuedAt, Labels: e.RunnerLabels}
}

// pendingCreate is one creation waiting for its batch.
type pendingCreate struct {
	exec     *messages.Execution
	prepared messages.PreparedCreation
	sender   *actor.PID
	attended bool
	reply    func(e *messages.Execution, dup bool) any
}

// createLingerMin and createLingerMax bound how long a batch of creations
// waits for the callers answered by the previous batch to come back
// (lingerFor: the time the last batch took to become durable).
const (
	createLingerMin = time.Millisecond
	createLingerMax = 10 * time.Millisecond
)

// executionsActor is the registry of execution actors: executions are
// virtual actors, addressable by id at all times and live only while they
// have work in flight (ASSIGNED or RUNNING). A QUEUED execution is an entry
// in the dispatcher's queue and nothing else.
//
// Activation and passivation (one owner, as Akka's ShardRegion): a command
// for an id without a live actor spawns execution/<id>, which loads its
// record from storage in Started; an actor that is idle after a command
// (QUEUED, finished, unknown) asks to passivate; the registry marks it
// stopping and poisons it (Poison queues behind the commands already
// forwarded, so each is answered once), buffers the commands that arrive
// for that id meanwhile, and on *actor.Terminated forgets it and
// re-activates it for the buffered commands, in their order, with their
// senders. An id is spawned only when it has no entry, and an entry goes
// only on Terminated: no id is ever live twice.
//
// Creations are written in batches, one batch in flight at a time, without
// blocking the actor: while a batch commits (fsync), new creations gather;
// when it lands, the next batch leaves at once if everyone expected is
// already back, else after at most as long as the last batch took to become
// durable (lingerFor). Busy clients thus meet in
// one commit instead of alternating between two half-full ones; a lone
// request never waits. A durable batch goes to the dispatcher, which queues
// it and answers the creators (no actor is spawned for a creation).
//
// Handles: *messages.CreateExecution, *messages.StartAttended (durable
// without blocking: *createBatchDone; *createLinger ends a wait),
// *messages.StopExecution, *messages.ReportStatus, *messages.RunnerLost,
// *assignExecution, *unassignExecution, *expireQueued (routed to
// execution/<id>, activated on demand), *passivate, *actor.Terminated,
// *actor.Stopping. Sends: *execsCreated to the dispatcher,
// *messages.ExecutionAssigned to runners (attended starts, answered by the
// runner's owner). State: the live children by id (with their buffers while
// stopping); the creations waiting for a batch; the attended runners'
// executions; Gauges.ActiveExecutions. Timers (Config.AfterFunc): the
// linger of the next batch.
type executionsActor struct {
	sys      *System
	live     map[string]*execSlot
	stopping bool // the registry itself is stopping: no re-activation

	pending   []*pendingCreate
	inFlight  bool
	lingering bool
	lingerGen uint64
	target    int           // flush the lingering batch as soon as it is this big
	flushedAt time.Time     // when the batch in flight left
	flight    time.Duration // how long the last batch took to become durable

	// attended maps a runner to the execution it runs outside the queue
	// (started by POST /api/runners/executions, or any ASSIGNED/RUNNING one
	// found at start), and attendedOf the reverse: an attended runner runs
	// one execution at a time, which this actor — where those creations
	// are serialised — enforces.
	attended   map[string]string
	attendedOf map[string]string

	// props are the children's props (childProps); handoff is the first
	// state of the child being spawned (nil: it loads from storage).
	props   *actor.Props
	handoff *messages.Execution
}

// execSlot is the registry's entry for a live execution actor.
type execSlot struct {
	pid      *actor.PID
	stopping bool              // passivation under way: commands wait in buffer
	buffer   []bufferedCommand // commands that arrived while stopping
}

// bufferedCommand is a command held for an actor being passivated.
type bufferedCommand struct {
	msg    any
	sender *actor.PID
}

// Receive implements actor.Actor.
func (a *executionsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.live = map[string]*execSlot{}
		a.sys.gauges.ActiveExecutions.Store(0)
		active, err := a.sys.store.InFlightExecutions()
		if err != nil {
			panic(err)
		}
		a.attended, a.attendedOf = map[string]string{}, map[string]string{}
		for _, e := range active {
			if e.Status == messages.ExecQueued {
				continue // the dispatcher's queue holds it
			}
			a.activate(ctx, e.ID, e)
			if e.RunnerID != nil && *e.RunnerID != "" {
				a.holdRunner(*e.RunnerID, e.ID)
			}
		}
		reportReady(ctx, childExecutions)
	case *actor.Stopping:
		a.stopping = true
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
		a.route(ctx, msg.ID)
	case *messages.ReportStatus:
		a.route(ctx, msg.ExecutionID)
	case *messages.RunnerLost:
		a.route(ctx, msg.ExecutionID)
	case *assignExecution:
		a.route(ctx, msg.ID)
	case *unassignExecution:
		a.route(ctx, msg.ID)
	case *expireQueued:
		a.route(ctx, msg.ID)
	case *passivate:
		if msg.Finished {
			a.releaseRunner(msg.ID)
		}
		if s, ok := a.live[msg.ID]; ok && !s.stopping && s.pid.Equal(msg.PID) {
			s.stopping = true
			ctx.Poison(s.pid) // after the commands already in its mailbox
		}
	case *actor.Terminated:
		a.terminated(ctx, msg.Who)
	}
}

// terminated forgets a stopped child (passivated, or given up on by
// supervision) and re-activates it for the commands buffered meanwhile.
func (a *executionsActor) terminated(ctx actor.Context, who *actor.PID) {
	id, ok := strings.CutPrefix(who.Id, ctx.Self().Id+"/")
	s, live := a.live[id]
	if !ok || !live || !s.pid.Equal(who) {
		return
	}
	delete(a.live, id)
	a.sys.gauges.ActiveExecutions.Add(-1)
	if len(s.buffer) == 0 || a.stopping {
		for _, b := range s.buffer {
			if b.sender != nil {
				ctx.Send(b.sender, ErrStopped)
			}
		}
		return
	}
	n := a.activate(ctx, id, nil)
	if n == nil {
		for _, b := range s.buffer {
			if b.sender != nil {
				ctx.Send(b.sender, fmt.Errorf("actors: execution %s could not be activated", id))
			}
		}
		return
	}
	for _, b := range s.buffer {
		if b.sender != nil {
			ctx.RequestWithCustomSender(n.pid, b.msg, b.sender)
		} else {
			ctx.Send(n.pid, b.msg)
		}
	}
}

// childProps are the props of every execution actor, made once per
// supervisor instance: one producer, one supervision strategy (it keeps no
// per-child state; restart counts live in each child) and the lock-free
// unbounded mailbox, which starts without the ring buffer the default one
// allocates (an execution actor gets a handful of messages in its life).
// The first state of a new child is handed over by the init hook, which
// protoactor runs inside SpawnNamed — on this supervisor's goroutine, so
// the handoff field needs no lock — and never on a restart: a restarted
// child starts empty and reads its execution from storage.
func (a *executionsActor) childProps() *actor.Props {
	if a.props == nil {
		sys := a.sys
		a.props = actor.PropsFromProducer(func() actor.Actor { return &executionActor{sys: sys} },
			actor.WithSupervisor(childSupervision()),
			actor.WithMailbox(actor.UnboundedLockfree()),
			actor.WithOnInit(func(ctx actor.Context) {
				x := ctx.Actor().(*executionActor)
				self := ctx.Self().Id
				x.id, x.exec, x.activated = self[strings.LastIndexByte(self, '/')+1:], a.handoff, true
			}))
	}
	return a.props
}

// activate starts the actor of execution id (e: its record when known,
// else the actor loads it). The caller has checked that id is not live.
func (a *executionsActor) activate(ctx actor.Context, id string, e *messages.Execution) *execSlot {
	a.handoff = e
	pid, err := ctx.SpawnNamed(a.childProps(), id)
	a.handoff = nil
	if err != nil {
		// Cannot happen: a name is freed before its Terminated arrives,
		// and the registry spawns only ids it has no entry for.
		a.sys.cfg.Logger.Error("execution actor not activated", "execution", id, "err", err)
		return nil
	}
	s := &execSlot{pid: pid}
	a.live[id] = s
	a.sys.gauges.ActiveExecutions.Add(1)
	return s
}

// route delivers the current command to the actor of execution id,
// activating it when it is not live, or holds it while that actor is
// passivating.
func (a *executionsActor) route(ctx actor.Context, id string) {
	s, ok := a.live[id]
	if !ok {
		if s = a.activate(ctx, id, nil); s == nil {
			respondIfAsked(ctx, fmt.Errorf("actors: execution %s could not be activated", id))
			return
		}
	}
	if s.stopping {
		s.buffer = append(s.buffer, bufferedCommand{msg: ctx.Message(), sender: ctx.Sender()})
		a.sys.buffered.Add(1)
		return
	}
	ctx.Forward(s.pid)
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
	labels, err := messages.NormalizeLabels("runnerLabels", msg.RunnerLabels)
	if err != nil {
		respondIfAsked(ctx, err)
		return
	}
	now := a.sys.Now()
	ts := messages.TimeOf(now)
	e := &messages.Execution{
		ID: messages.NewID(now), WorkflowID: msg.WorkflowID, Status: messages.ExecQueued, Priority: prio,
		Input: msg.Input, TriggeredBy: msg.TriggeredBy, TriggerID: msg.TriggerID, Attempt: 1,
		EnqueuedAt: ts, CreatedAt: ts, UpdatedAt: ts, RunnerLabels: labels,
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
		// An attended start bypasses the queue: the workflow's runner
		// labels do not apply to it.
		RunnerLabels: []string{},
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
	// Prepared now, while the batch before commits: the batch's
	// transaction then only checks and puts it.
	a.pending = append(a.pending, &pendingCreate{exec: e, prepared: a.sys.store.PrepareCreation(e, dedupeKey),
		sender: ctx.Sender(), attended: attended, reply: reply})
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
	a.flushedAt = a.sys.Now()
	ps := make([]messages.PreparedCreation, len(batch))
	for i, p := range batch {
		ps[i] = p.prepared
	}
	self, root := ctx.Self(), a.sys.actors.Root
	a.sys.store.CreatePreparedAsync(ps, func(outcomes []messages.CreateOutcome, err error) {
		root.Send(self, &createBatchDone{batch: batch, outcomes: outcomes, err: err})
	})
}

// created hands a durable batch to the dispatcher (which queues it and
// answers its creators), then sends the next batch or lingers.
func (a *executionsActor) created(ctx actor.Context, msg *createBatchDone) {
	a.inFlight = false
	a.flight = a.sys.Now().Sub(a.flushedAt)
	out := &execsCreated{}
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
			x := o.Execution
			reply = p.reply(x, o.Duplicate)
			if !o.Duplicate && x.Status == messages.ExecQueued {
				out.entries = append(out.entries, queueEntryOf(x))
			}
			if !o.Duplicate && p.attended && x.RunnerID != nil && !x.Status.Terminal() {
				// The runner's owner answers the creator once the runner
				// reads BUSY.
				a.sys.notifyRunnersAnswer(ctx, &messages.ExecutionAssigned{RunnerID: *x.RunnerID,
					ExecutionID: x.ID, Status: x.Status, Answer: reply}, p.sender)
				continue
			}
		}
		if p.sender != nil {
			out.answerTo = append(out.answerTo, p.sender)
			out.answers = append(out.answers, reply)
		}
	}
	switch pid, ok := a.sys.pids[childDispatcher]; {
	case len(out.entries) > 0 && ok:
		// Queued, then answered: a poll sent after the answer finds them.
		ctx.Send(pid, out)
	default:
		for i, to := range out.answerTo {
			ctx.Send(to, out.answers[i])
		}
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
	a.sys.sendAfter(ctx.Self(), a.lingerFor(), &createLinger{gen: a.lingerGen})
}

// notifyRunnersAnswer sends a notification that carries an Answer to the
// runners actor with the original caller as sender: the runner's owner
// answers it once the runner reads the change (read-your-writes). Without
// a runners actor the answer leaves at once.
func (s *System) notifyRunnersAnswer(ctx actor.Context, msg any, sender *actor.PID) {
	pid, ok := s.pids[childRunners]
	switch {
	case ok && sender != nil:
		ctx.RequestWithCustomSender(pid, msg, sender)
	case ok:
		ctx.Send(pid, msg)
	case sender != nil:
		ctx.Send(sender, answerOf(msg))
	}
}

// answerOf is the Answer a runner notification carries (nil for none).
func answerOf(msg any) any {
	switch m := msg.(type) {
	case *messages.ExecutionAssigned:
		return m.Answer
	case *messages.ExecutionReleased:
		return m.Answer
	case *messages.StopRequested:
		return m.Answer
	}
	return nil
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
		if m.Answer != nil {
			return m.Answer
		}
		return e
	case *assignExecution:
		return &assignResult{ID: e.ID, Seq: m.Seq, Err: messages.Errorf(messages.CodeInvalidTransition, "the execution is %s", e.Status)}
	case *expireQueued:
		return &expireDone{ID: e.ID}
	}
	return nil
}

// unknownReply is the answer to msg for an execution that does not exist.
func unknownReply(id string, msg any) any {
	switch m := msg.(type) {
	case *assignExecution:
		return &assignResult{ID: id, Seq: m.Seq, Err: messages.NotFound("execution")}
	case *expireQueued:
		return &expireDone{ID: id}
	case *unassignExecution:
		return nil
	case *messages.RunnerLost:
		if m.Answer != nil {
			return m.Answer
		}
	}
	return messages.NotFound("execution")
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

// executionActor owns the state machine of one execution while it has work
// in flight; the registry activates it on demand and it passivates when it
// is idle.
//
// Handles: *assignExecution (QUEUED → ASSIGNED), *unassignExecution,
// *messages.ReportStatus, *messages.StopExecution, *messages.RunnerLost,
// *expireQueued. Sends: *execEnqueued/*execDequeued to the dispatcher,
// *messages.ExecutionReleased and *messages.StopRequested to runners (those
// that end or stop a runner's work carry the caller's answer, which the
// runner's owner sends once applied), *passivate to its parent after a
// command that leaves it idle (QUEUED, finished, unknown). State: the
// execution (every transition is durable before it is answered or
// announced), never changed in place — each transition makes a new record
// (copyExecution) — so the record may be shared with answers already sent.
// Timers: none (the dispatcher drives the queue timeout).
type executionActor struct {
	sys  *System
	id   string
	exec *messages.Execution
	// activated: spawned by the registry (a restart by supervision starts
	// without it and reads its name).
	activated bool
	missing   bool // no such execution
	// passivating: a passivate request was sent.
	passivating bool
}

// Receive implements actor.Actor.
func (a *executionActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
		return
	case actor.SystemMessage, actor.AutoReceiveMessage:
		return
	}
	defer a.passivateIfIdle(ctx)
	if a.missing {
		if reply := unknownReply(a.id, ctx.Message()); reply != nil {
			respondIfAsked(ctx, reply)
		}
		return
	}
	if a.exec.Status.Terminal() {
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
		a.report(ctx, msg)
	case *messages.StopExecution:
		a.stop(ctx, msg)
	case *messages.RunnerLost:
		a.runnerLost(ctx, msg)
	case *expireQueued:
		a.expire(ctx)
		respondIfAsked(ctx, &expireDone{ID: a.id})
	}
}

// start loads the execution when the registry did not hand it over.
func (a *executionActor) start(ctx actor.Context) {
	if a.id == "" { // restarted by supervision: the name is the execution id
		self := ctx.Self().Id
		a.id = self[strings.LastIndexByte(self, '/')+1:]
	}
	if a.exec == nil {
		e, err := a.sys.store.GetExecution(a.id)
		if err != nil {
			panic(err)
		}
		if e == nil {
			a.missing = true
		} else {
			e.Logs = nil
			a.exec = e
		}
	}
	if !a.activated {
		// A restart has no command behind it: an idle actor leaves now.
		a.passivateIfIdle(ctx)
	}
}

// passivateIfIdle asks the registry to stop this actor when it holds no
// work in flight.
func (a *executionActor) passivateIfIdle(ctx actor.Context) {
	if a.passivating {
		return
	}
	finished := !a.missing && a.exec.Status.Terminal()
	if a.missing || finished || a.exec.Status == messages.ExecQueued {
		a.passivating = true
		ctx.Send(ctx.Parent(), &passivate{ID: a.id, PID: ctx.Self(), Finished: finished})
	}
}

// enqueue tells the dispatcher that the execution is QUEUED again; the
// dispatcher sends answer to answerTo (when set) once it is queued.
func (a *executionActor) enqueue(ctx actor.Context, answerTo *actor.PID, answer any) {
	pid, ok := a.sys.pids[childDispatcher]
	switch {
	case ok:
		ctx.Send(pid, &execEnqueued{entry: queueEntryOf(a.exec), answerTo: answerTo, answer: answer})
	case answerTo != nil:
		ctx.Send(answerTo, answer)
	}
}

func (a *executionActor) announceDequeued(ctx actor.Context) {
	if pid, ok := a.sys.pids[childDispatcher]; ok {
		ctx.Send(pid, &execDequeued{ID: a.exec.ID})
	}
}

// commit makes next durable and, on success, the actor's state (an idle
// state passivates the actor once the command is handled).
func (a *executionActor) commit(next *messages.Execution, expect messages.ExecutionStatus,
	logs string, audit *messages.AuditEntry) error {
	next.UpdatedAt = messages.TimeOf(a.sys.Now())
	// a.exec is the record as last stored: storage prepares the write
	// from it outside its writer (storage.SaveTransition).
	if err := a.sys.store.SaveTransition(a.exec, next, expect, logs, executionEffects(a.exec, next, audit)); err != nil {
		return err
	}
	a.sys.execFigures.observeTransition(a.exec, next)
	a.exec = next
	return nil
}

// reply is the state sent out: the record itself, since transitions replace
// it instead of changing it.
func (a *executionActor) reply() *messages.Execution { return a.exec }

func (a *executionActor) assign(ctx actor.Context, msg *assignExecution) *assignResult {
	if a.exec.Status != messages.ExecQueued {
		return &assignResult{ID: a.id, Seq: msg.Seq, Err: messages.Errorf(messages.CodeInvalidTransition, "the execution is %s", a.exec.Status)}
	}
	next := copyExecution(a.exec)
	runner := msg.RunnerID
	next.Status, next.RunnerID, next.AssignedAt = messages.ExecAssigned, &runner, messages.TimeOf(a.sys.Now())
	next.StopRequested = false
	if err := a.commit(next, messages.ExecQueued, "", nil); err != nil {
		return &assignResult{ID: a.id, Seq: msg.Seq, Err: err}
	}
	return &assignResult{ID: a.id, Seq: msg.Seq, Execution: a.reply()}
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
	if err := a.commit(next, messages.ExecAssigned, "", nil); err != nil {
		a.sys.cfg.Logger.Warn("unassign not recorded", "execution", a.id, "err", err)
		return
	}
	a.sys.notifyRunners(ctx, &messages.ExecutionReleased{RunnerID: msg.RunnerID, ExecutionID: a.id, Status: messages.ExecQueued})
	a.enqueue(ctx, nil, nil)
}

// report applies a runner's status report. A report that ends the
// execution is answered by the runner's owner once it has released the
// runner, so the runner reads ONLINE when the answer arrives.
func (a *executionActor) report(ctx actor.Context, msg *messages.ReportStatus) {
	if err := checkReport(a.exec, msg); err != nil {
		respondIfAsked(ctx, err)
		return
	}
	if !messages.CanTransition(a.exec.Status, msg.Status) {
		respondIfAsked(ctx, messages.Errorf(messages.CodeInvalidTransition, "cannot go from %s to %s", a.exec.Status, msg.Status))
		return
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
	if err := a.commit(next, "", logs, nil); err != nil {
		respondIfAsked(ctx, err)
		return
	}
	if next.Status.Terminal() {
		a.sys.notifyRunnersAnswer(ctx, &messages.ExecutionReleased{RunnerID: msg.RunnerID, ExecutionID: a.id,
			Status: next.Status, Answer: a.reply()}, ctx.Sender())
		return
	}
	respondIfAsked(ctx, a.reply())
}

// stop stops a QUEUED or ASSIGNED execution at once and asks a RUNNING
// one's runner to stop it. A stop that touches a runner is answered by the
// runner's owner once the runner lists the id in stopExecutionIds.
func (a *executionActor) stop(ctx actor.Context, msg *messages.StopExecution) {
	audit := a.sys.auditEntry(msg.Origin, messages.AuditExecutionStopped, "execution", a.id, "")
	switch a.exec.Status {
	case messages.ExecQueued, messages.ExecAssigned:
		prev := a.exec.Status
		next := copyExecution(a.exec)
		next.Status, next.CompletedAt = messages.ExecStopped, messages.TimeOf(a.sys.Now())
		if err := a.commit(next, "", "", audit); err != nil {
			respondIfAsked(ctx, err)
			return
		}
		if prev == messages.ExecQueued {
			a.announceDequeued(ctx)
		} else if next.RunnerID != nil {
			// The runner may already hold it: it is released and hears of
			// the stop in its next heartbeat or poll answer.
			a.sys.notifyRunnersAnswer(ctx, &messages.StopRequested{RunnerID: *next.RunnerID, ExecutionID: a.id,
				Terminal: true, Answer: a.reply()}, ctx.Sender())
			return
		}
		respondIfAsked(ctx, a.reply())
	case messages.ExecRunning:
		if !a.exec.StopRequested {
			next := copyExecution(a.exec)
			next.StopRequested = true
			if err := a.commit(next, "", "", audit); err != nil {
				respondIfAsked(ctx, err)
				return
			}
		}
		if a.exec.RunnerID != nil {
			a.sys.notifyRunnersAnswer(ctx, &messages.StopRequested{RunnerID: *a.exec.RunnerID, ExecutionID: a.id,
				Answer: a.reply()}, ctx.Sender())
			return
		}
		respondIfAsked(ctx, a.reply())
	default:
		respondIfAsked(ctx, messages.Errorf(messages.CodeInvalidTransition, "the execution is already %s", a.exec.Status))
	}
}

// runnerLost takes an execution back from a runner that is gone: ASSIGNED
// goes back to the queue once, anything else fails. A re-queued execution
// is answered by the dispatcher once it is queued again.
func (a *executionActor) runnerLost(ctx actor.Context, msg *messages.RunnerLost) {
	answer := func() any {
		if msg.Answer != nil {
			return msg.Answer
		}
		return a.reply()
	}
	if a.exec.RunnerID == nil || (msg.RunnerID != "" && *a.exec.RunnerID != msg.RunnerID) {
		respondIfAsked(ctx, answer()) // no longer that runner's work
		return
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
	if err := a.commit(next, "", "", audit); err != nil {
		respondIfAsked(ctx, err)
		return
	}
	a.sys.notifyRunners(ctx, &messages.ExecutionReleased{RunnerID: runner, ExecutionID: a.id, Status: next.Status})
	if requeue {
		a.enqueue(ctx, ctx.Sender(), answer())
		return
	}
	respondIfAsked(ctx, answer())
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
	if len(a.exec.RunnerLabels) > 0 {
		reason = "no runner with labels " + messages.FormatLabels(a.exec.RunnerLabels) + " took it within " + formatTimeout(timeout)
	}
	next := copyExecution(a.exec)
	next.Status, next.CompletedAt, next.Error = messages.ExecFailed, messages.TimeOf(now), &reason
	audit := a.sys.auditEntry(messages.Origin{ActorType: messages.ActorSystem}, messages.AuditExecutionStale, "execution", a.id, reason)
	if err := a.commit(next, messages.ExecQueued, "", audit); err != nil {
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

// lingerFor is how long a batch of creations may wait for the callers the
// last batch answered: as long as that batch took to become durable,
// between createLingerMin and createLingerMax. While the next commit would
// take longer than the callers need to come back, one full commit is worth
// the wait (64 clients meet in one commit instead of alternating between
// two half-full ones, each waiting for both); a lone request never waits.
func (a *executionsActor) lingerFor() time.Duration {
	return min(max(a.flight, createLingerMin), createLingerMax)
}
