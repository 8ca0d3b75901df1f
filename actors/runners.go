package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// childRunners is the name of the runners supervisor.
const childRunners = "runners"

// heartbeatFlushEvery is how often unflushed heartbeat timestamps and
// metrics are written (docs/api.md, "Guarantees": at most every 10 s).
const heartbeatFlushEvery = 10 * time.Second

// Runner status codes kept in runnerEntry.status.
const (
	stOffline int32 = iota
	stOnline
	stBusy
)

func statusCode(s messages.RunnerStatus) int32 {
	switch s {
	case messages.RunnerOnline:
		return stOnline
	case messages.RunnerBusy:
		return stBusy
	}
	return stOffline
}

// runnerEntry is the live, lock-free face of one runner, shared between its
// actor (the only writer of the atomics) and request handlers (readers).
type runnerEntry struct {
	id         string
	machineKey string
	typ        messages.RunnerType
	pid        *actor.PID

	epoch      atomic.Int64
	secretHash atomic.Pointer[[sha256.Size]byte]
	deleted    atomic.Bool
	started    atomic.Bool  // its actor ran Started once
	status     atomic.Int32 // stOffline, stOnline, stBusy
	stops      atomic.Int32 // pending stop requests
	hasCurrent atomic.Bool  // an execution is ASSIGNED/RUNNING on it
	lostSent   atomic.Bool  // RunnerLost sent for the current execution
	lastBeat   atomic.Int64 // unix ns of the last heartbeat (0 = never)
	offlineAt  atomic.Int64 // unix ns since when it is OFFLINE
	flushAt    atomic.Int64 // unix ns when unflushed heartbeat data is due (0 = clean)
	view       atomic.Pointer[messages.Runner]
}

// runnersView is the runners supervisor's published registry: lock-free
// reads for the per-request checks (sync.Map suits keys written once and
// read many times), written only by the supervisor.
type runnersView struct {
	byID  sync.Map // runner id → *runnerEntry
	byKey sync.Map // machine key → *runnerEntry
	// order holds every entry by id, oldest first (ids are time-ordered):
	// an immutable slice the supervisor replaces on each registration, so
	// lists page it without sorting the registry on every request.
	order atomic.Pointer[[]*runnerEntry]
}

// add publishes a new entry (supervisor only). The newest id — nearly
// always the case — is appended in place when the array has room: readers
// hold slices of the old length and never look past it, so the write is
// invisible to them until the new slice is published (copying the whole
// order per registration made 10,000 registrations allocate ~400 MB).
// An id that sorts earlier (a clock stepped back) is inserted into a copy.
func (v *runnersView) add(e *runnerEntry) {
	v.byID.Store(e.id, e)
	old := v.ordered()
	if n := len(old); n == 0 || old[n-1].id < e.id {
		next := append(old, e)
		v.order.Store(&next)
		return
	}
	pos, _ := slices.BinarySearchFunc(old, e.id, func(x *runnerEntry, id string) int { return strings.Compare(x.id, id) })
	next := slices.Insert(slices.Clip(old), pos, e) // a copy: readers keep theirs
	v.order.Store(&next)
}

// addAll publishes the entries found at start, sorted once (add per entry
// would copy the order n times).
func (v *runnersView) addAll(es []*runnerEntry) {
	order := append(slices.Clip(v.ordered()), es...)
	for _, e := range es {
		v.byID.Store(e.id, e)
	}
	slices.SortFunc(order, func(a, b *runnerEntry) int { return strings.Compare(a.id, b.id) })
	v.order.Store(&order)
}

// ordered is every entry, oldest first.
func (v *runnersView) ordered() []*runnerEntry {
	if p := v.order.Load(); p != nil {
		return *p
	}
	return nil
}

// get is the entry of a runner id (nil when none).
func (v *runnersView) get(id string) *runnerEntry {
	if e, ok := v.byID.Load(id); ok {
		return e.(*runnerEntry)
	}
	return nil
}

// each calls fn for every entry.
func (v *runnersView) each(fn func(e *runnerEntry)) {
	v.byID.Range(func(_, e any) bool {
		fn(e.(*runnerEntry))
		return true
	})
}

// runnersActor supervises one runner actor per registered runner.
//
// Handles: *messages.RegisterRunner and *runnerCreated (itself), and forwards to the runner's
// actor *messages.RegenerateSecret, *messages.SetRunnerLabels, *messages.DeleteRunner,
// *messages.Heartbeat, *messages.PollWork, *messages.ExecutionAssigned,
// *messages.ExecutionReleased, *messages.StopRequested; *runnerGone,
// *runnersTick. Sends: *runnerTick to runner actors that have something due.
// State: the runner registry (published as runnersView), Census.Runners.
// Timers: one tick (runnersTick, re-armed through Config.AfterFunc)
// checking heartbeat TTLs, the offline grace and heartbeat flushes of every
// runner from the atomics. A deleted runner's actor reports *runnerGone when
// it is done; the supervisor then drops it from the registry and poisons it
// behind everything it forwarded, and forwards nothing more to it.
type runnersActor struct {
	sys      *System
	stopTick func() bool
	pending  int // registrations on their way to disk
}

// runnerCreated reports a registration's durable write.
type runnerCreated struct {
	rec    *messages.Runner
	secret string
	sender *actor.PID
	err    error
}

// runnerGone tells the supervisor that a runner was deleted.
type runnerGone struct{ id string }

// runnersTick is the supervisor's periodic check.
type runnersTick struct{}

// Receive implements actor.Actor.
func (a *runnersActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if err := a.load(ctx); err != nil {
			panic(err)
		}
		a.startTicker(ctx)
		reportReady(ctx, childRunners)
	case *actor.Stopping, *actor.Restarting:
		if a.stopTick != nil {
			a.stopTick()
			a.stopTick = nil
		}
	case *messages.RegisterRunner:
		if err := a.register(ctx, msg); err != nil {
			ctx.Respond(err)
		}
	case *runnerCreated:
		a.created(ctx, msg)
	case *messages.RegenerateSecret:
		a.forward(ctx, msg.ID)
	case *messages.SetRunnerLabels:
		a.forward(ctx, msg.ID)
	case *messages.DeleteRunner:
		a.forward(ctx, msg.ID)
	case *messages.Heartbeat:
		a.forward(ctx, msg.RunnerID)
	case *messages.PollWork:
		a.forward(ctx, msg.RunnerID)
	case *messages.ExecutionAssigned:
		a.forward(ctx, msg.RunnerID)
	case *messages.ExecutionReleased:
		a.forward(ctx, msg.RunnerID)
	case *messages.StopRequested:
		a.forward(ctx, msg.RunnerID)
	case *runnerGone:
		// The deleted runner's actor is done: it leaves the registry, and
		// is poisoned from here, behind every command forwarded so far
		// (none is forwarded after this), so each is answered.
		if e := a.remove(msg.id); e != nil {
			ctx.Poison(e.pid)
		}
	case *runnersTick:
		a.tick(ctx)
		a.sys.runnerTicks.Add(1)
		a.startTicker(ctx)
	}
}

// forward hands a message to the runner's actor, keeping the sender. For a
// runner that is gone, a notification carrying its caller's answer is
// answered with it (the change it announces has nothing left to reach).
func (a *runnersActor) forward(ctx actor.Context, id string) {
	e := a.sys.runnerEntryOf(id)
	if e == nil || e.deleted.Load() {
		if ans := answerOf(ctx.Message()); ans != nil {
			respondIfAsked(ctx, ans)
			return
		}
		respondIfAsked(ctx, messages.NotFound("runner"))
		return
	}
	ctx.Forward(e.pid)
}

// assignmentsFromExecutions maps each runner to the active execution that
// names it (RUNNING before ASSIGNED, then the oldest). Any further active
// execution naming the same runner is returned in extra: it can only come
// from a crash mid-assignment, and is handed back as lost.
func (a *runnersActor) assignmentsFromExecutions() (work map[string]*messages.Execution, extra []*messages.Execution, err error) {
	active, err := a.sys.store.InFlightExecutions()
	if err != nil {
		return nil, nil, err
	}
	work = map[string]*messages.Execution{}
	for _, e := range active {
		if e.RunnerID == nil || *e.RunnerID == "" || (e.Status != messages.ExecAssigned && e.Status != messages.ExecRunning) {
			continue
		}
		cur := work[*e.RunnerID]
		switch {
		case cur == nil:
			work[*e.RunnerID] = e
		case e.Status == messages.ExecRunning && cur.Status != messages.ExecRunning,
			e.Status == cur.Status && e.ID < cur.ID:
			work[*e.RunnerID] = e
			extra = append(extra, cur)
		default:
			extra = append(extra, e)
		}
	}
	return work, extra, nil
}

// reconcileCurrent points r's current execution at e (nil: none) and
// reports whether that changed the record.
func reconcileCurrent(r *messages.Runner, e *messages.Execution) bool {
	switch {
	case e == nil && r.CurrentExecutionID == nil:
		return false
	case e == nil:
		r.CurrentExecutionID = nil
		return true
	case r.CurrentExecutionID != nil && *r.CurrentExecutionID == e.ID:
		return false
	}
	id := e.ID
	r.CurrentExecutionID = &id
	return true
}

func (a *runnersActor) load(ctx actor.Context) error {
	list, err := a.sys.store.AllRunners()
	if err != nil {
		return err
	}
	view := &runnersView{}
	g := &a.sys.gauges
	g.RunnersOnline.Store(0)
	g.RunnersBusy.Store(0)
	g.RunnersOffline.Store(0)
	// The executions are the truth about assignments: a crash between an
	// execution's durable ASSIGNED and its runner's record leaves the runner
	// unaware of its work, so each runner takes its current execution from
	// the active executions that name it.
	work, extra, err := a.assignmentsFromExecutions()
	if err != nil {
		return err
	}
	// Rehydrate every runner's status from its last heartbeat; the changes
	// are written together (group commit) before the tree reports ready.
	now := a.sys.Now()
	var saves sync.WaitGroup
	var saveErr atomic.Pointer[error]
	entries := make([]*runnerEntry, 0, len(list))
	for _, r := range list {
		reconciled := reconcileCurrent(r, work[r.ID])
		if rehydrateRunner(r, now, a.sys.runnerTTL()) || reconciled {
			r.UpdatedAt = messages.TimeOf(now)
			c := *r
			saves.Add(1)
			a.sys.store.SaveRunnerAsync(&c, runnerEffects(&c, nil, false), func(err error) {
				if err != nil {
					saveErr.Store(&err)
				}
				saves.Done()
			})
		}
		e := a.spawn(ctx, r)
		entries = append(entries, e)
		view.byKey.Store(r.MachineKey, e)
	}
	view.addAll(entries)
	saves.Wait()
	if p := saveErr.Load(); p != nil {
		return *p
	}
	a.sys.runnerReg.Store(view)
	a.sys.census.Runners.Store(int64(len(list)))
	for _, e := range extra {
		a.sys.Tell(&messages.RunnerLost{ExecutionID: e.ID, RunnerID: *e.RunnerID,
			Reason: "its runner held another execution after a restart; handed back"})
	}
	return nil
}

// spawn makes the entry of a stored runner and starts its actor.
func (a *runnersActor) spawn(ctx actor.Context, r *messages.Runner) *runnerEntry {
	e := &runnerEntry{id: r.ID, machineKey: r.MachineKey, typ: r.Type}
	e.epoch.Store(r.SecretEpoch)
	e.secretHash.Store(parseSecretHash(r.SecretHash))
	e.status.Store(statusCode(r.Status))
	a.sys.gaugeOf(statusCode(r.Status)).Add(1)
	e.hasCurrent.Store(r.CurrentExecutionID != nil)
	if !r.OfflineSince.IsZero() {
		e.offlineAt.Store(r.OfflineSince.Std().UnixNano())
	}
	if !r.LastHeartbeatAt.IsZero() {
		e.lastBeat.Store(r.LastHeartbeatAt.Std().UnixNano())
	}
	e.view.Store(publicRunner(r))
	initial := *r
	props := actor.PropsFromProducer(func() actor.Actor { return &runnerActor{sys: a.sys, entry: e, initial: &initial} })
	pid, err := ctx.SpawnNamed(props, r.ID)
	if err != nil {
		pid = ctx.Self() // name taken: cannot happen for unique ids
	}
	e.pid = pid
	return e
}

// register validates a registration and starts its durable write; the
// answer goes out from created once the write is done, so concurrent
// registrations share commits.
func (a *runnersActor) register(ctx actor.Context, msg *messages.RegisterRunner) error {
	if err := a.sys.CheckLimit("runners", a.sys.LicenseLimits().Runners, a.sys.census.Runners.Load()+int64(a.pending)); err != nil {
		return err
	}
	name := strings.TrimSpace(msg.Name)
	if name == "" {
		return messages.Invalid("name must not be empty")
	}
	typ := msg.Type
	if typ == "" {
		typ = messages.RunnerUnattended
	}
	if !messages.ValidRunnerType(typ) {
		return messages.Invalid("type must be ATTENDED or UNATTENDED")
	}
	labels, err := messages.NormalizeLabels("labels", msg.Labels)
	if err != nil {
		return err
	}
	now := a.sys.Now()
	secret := messages.RandomHex(32)
	r := &messages.Runner{
		ID: messages.NewID(now), Name: name, MachineKey: "FC-" + messages.RandomHex(16), Type: typ,
		Status: messages.RunnerOffline, OfflineSince: messages.TimeOf(now),
		CreatedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now),
		SecretHash: hashSecret(secret), SecretEpoch: 1, Labels: labels,
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditRunnerRegistered, "runner", r.ID, name+" "+string(typ))
	a.pending++
	self, root, sender := ctx.Self(), a.sys.actors.Root, ctx.Sender()
	a.sys.store.CreateRunnerAsync(r, runnerEffects(r, audit, false), func(err error) {
		root.Send(self, &runnerCreated{rec: r, secret: secret, sender: sender, err: err})
	})
	return nil
}

// created publishes a durable registration, starts the runner's actor and
// answers the registration.
func (a *runnersActor) created(ctx actor.Context, msg *runnerCreated) {
	a.pending--
	if msg.err != nil {
		if msg.sender != nil {
			ctx.Send(msg.sender, msg.err)
		}
		return
	}
	r := msg.rec
	e := a.spawn(ctx, r)
	v := a.sys.runnerReg.Load()
	v.add(e)
	v.byKey.Store(r.MachineKey, e)
	a.sys.census.Runners.Add(1)
	if msg.sender != nil {
		ctx.Send(msg.sender, &messages.RunnerCredentials{ID: r.ID, Name: r.Name, MachineKey: r.MachineKey, MachineSecret: msg.secret, Type: r.Type})
	}
}

// remove drops a deleted runner from the registry (its actor already
// counted it out of the census) and returns its entry (nil when none).
func (a *runnersActor) remove(id string) *runnerEntry {
	v := a.sys.runnerReg.Load()
	e := v.get(id)
	if e == nil {
		return nil
	}
	v.byID.CompareAndDelete(id, e)
	v.byKey.CompareAndDelete(e.machineKey, e)
	return e
}

// runnersTickInterval is how often the runners supervisor checks the
// runners' timers.
func (s *System) runnersTickInterval() time.Duration {
	d := time.Second
	for _, c := range []time.Duration{s.cfg.RunnerTTL / 4, s.cfg.OfflineGrace / 4, s.cfg.StaleCheckInterval} {
		if c > 0 && c < d {
			d = c
		}
	}
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// startTicker arms the next check through the system clock.
func (a *runnersActor) startTicker(ctx actor.Context) {
	a.stopTick = a.sys.sendAfter(ctx.Self(), a.sys.runnersTickInterval(), &runnersTick{})
}

// tick sends a runnerTick to every runner actor that has something due:
// an expired heartbeat, an offline grace that may have run out, or a
// heartbeat flush.
func (a *runnersActor) tick(ctx actor.Context) {
	now := a.sys.Now().UnixNano()
	ttl, grace := int64(a.sys.runnerTTL()), int64(a.sys.cfg.OfflineGrace)
	a.sys.runnerReg.Load().each(func(e *runnerEntry) {
		st := e.status.Load()
		due := false
		switch {
		case st != stOffline && now-e.lastBeat.Load() >= ttl:
			due = true
		case st == stOffline && e.hasCurrent.Load() && !e.lostSent.Load() && now-e.offlineAt.Load() >= grace:
			due = true
		}
		if f := e.flushAt.Load(); f != 0 && now >= f {
			due = true
		}
		if due {
			ctx.Send(e.pid, &runnerTick{})
		}
	})
}

// runnerTTL is the heartbeat TTL (the documented default when unset).
func (s *System) runnerTTL() time.Duration {
	if s.cfg.RunnerTTL > 0 {
		return s.cfg.RunnerTTL
	}
	return 120 * time.Second
}

// hashSecret is the stored form of a machine secret: hex SHA-256.
func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func parseSecretHash(s string) *[sha256.Size]byte {
	var h [sha256.Size]byte
	if b, err := hex.DecodeString(s); err == nil && len(b) == sha256.Size {
		copy(h[:], b)
	}
	return &h
}

// publicRunner is a copy of r without its credential fields.
func publicRunner(r *messages.Runner) *messages.Runner {
	c := *r
	c.SecretHash, c.SecretEpoch = "", 0
	c.Labels = messages.LabelsOrEmpty(c.Labels)
	return &c
}

// runnerActor owns one runner: its status, heartbeat, metrics, current
// execution and pending stop requests.
//
// Handles: *messages.Heartbeat, *messages.PollWork, *messages.RegenerateSecret,
// *messages.SetRunnerLabels (sends *messages.RelabelClaim while it claims),
// *messages.DeleteRunner, *messages.ExecutionAssigned,
// *messages.ExecutionReleased, *messages.StopRequested, the dispatcher's
// claim answers (*messages.Execution, *messages.NoWork, error), *runnerTick,
// *waiterExpired, *claimExpired, *releasePolls, *lostResult. Sends: *messages.ClaimWork
// and *messages.CancelClaim to the dispatcher, *messages.RunnerLost to the
// executions actor, *runnerGone to its parent. State: the runner record
// (published through its runnerEntry). Timers: none of its own for the
// heartbeat (the supervisor's tick reports what is due); one timer per
// claim and per joined poll as safety bounds, through Config.AfterFunc.
type runnerActor struct {
	sys     *System
	entry   *runnerEntry
	initial *messages.Runner // the record at spawn (storage after a restart)

	rec       messages.Runner
	current   *messages.Execution // the current execution when known
	curStatus messages.ExecutionStatus
	stops     []string
	stopOnce  map[string]struct{} // stops listed in one answer only
	lastFlush time.Time

	claiming bool
	wake     bool // parked polls should come back: the runner may claim now
	claimGen int
	// claimStop stops the bound of the claim in flight (once answered).
	claimStop func() bool
	waiters   []*pollWaiter
	nextWait  int
}

// pollWaiter is a poll waiting for the claim in flight, a stop request or
// its deadline. Its answer goes to pid (a caller blocked in Ask) or, for a
// poll the HTTP layer parked without a goroutine, to parked.
type pollWaiter struct {
	id     int
	pid    *actor.PID
	parked messages.PollWaiter
	stop   func() bool // stops its wait (nil when it waits for the claim); called once answered
}

// answer hands the waiter its reply.
func (w *pollWaiter) answer(ctx actor.Context, reply *messages.PollReply) {
	switch {
	case w.parked != nil:
		w.parked.PollAnswered(reply)
	case w.pid != nil:
		ctx.Send(w.pid, reply)
	}
}

// queueEmpty reports whether the dispatcher's published queue is empty (a
// claim made now most likely parks there).
func (s *System) queueEmpty() bool {
	q := &s.gauges.QueueDepth
	return q[0].Load()+q[1].Load()+q[2].Load() == 0
}

// runnerTick asks a runner actor to check its timers.
type runnerTick struct{}

// releasePolls answers a runner's parked polls with no work (shutdown).
type releasePolls struct{}

// ReleasePolls answers every parked long poll with no work at once, so a
// graceful shutdown need not wait for them (call it before the HTTP
// server's Shutdown). Work assigned meanwhile stays ASSIGNED and is handed
// out again on the runner's next poll.
func (s *System) ReleasePolls() {
	v := s.runnerReg.Load()
	if v == nil {
		return
	}
	v.each(func(e *runnerEntry) { s.actors.Root.Send(e.pid, &releasePolls{}) })
}

// claimExpired bounds a claim the dispatcher never answered.
type claimExpired struct{ gen int }

// waiterExpired ends a joined poll whose wait has passed.
type waiterExpired struct{ id int }

// lostResult is the executions actor's answer to a RunnerLost.
type lostResult struct {
	executionID string
	exec        *messages.Execution
	err         error
}

// Receive implements actor.Actor.
func (a *runnerActor) Receive(ctx actor.Context) {
	defer a.wakeWaiters(ctx)
	if a.entry != nil && a.entry.deleted.Load() {
		// Deleted: commands that reached the mailbox before the delete took
		// effect are answered "not found" (the HTTP layer makes that 401
		// for the runner's own calls), never left to time out.
		switch ctx.Message().(type) {
		case *messages.Heartbeat, *messages.PollWork, *messages.RegenerateSecret, *messages.DeleteRunner,
			*messages.SetRunnerLabels:
			respondIfAsked(ctx, messages.NotFound("runner"))
			return
		}
	}
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.load(ctx)
	case *actor.Stopping:
		a.flushNow()
	case *messages.Heartbeat:
		ctx.Respond(a.heartbeat(msg))
	case *messages.PollWork:
		a.poll(ctx, msg)
	case *messages.Execution:
		a.claimAnswered(ctx, msg)
	case *messages.NoWork:
		a.claimAnswered(ctx, nil)
	case error:
		a.claimAnswered(ctx, nil)
	case *claimExpired:
		if a.claiming && msg.gen == a.claimGen {
			a.claimAnswered(ctx, nil)
			a.cancelClaim(ctx)
		}
	case *waiterExpired:
		a.expireWaiter(ctx, msg.id)
	case *messages.RegenerateSecret:
		ctx.Respond(a.regenerate(msg))
	case *messages.SetRunnerLabels:
		ctx.Respond(a.setLabels(ctx, msg))
	case *messages.DeleteRunner:
		a.delete(ctx, msg)
	case *messages.ExecutionAssigned:
		a.assigned(msg)
		a.ack(ctx, msg.Answer)
	case *messages.ExecutionReleased:
		a.released(msg.ExecutionID)
		a.ack(ctx, msg.Answer)
	case *messages.StopRequested:
		if msg.Terminal {
			a.released(msg.ExecutionID)
		}
		a.stopRequested(ctx, msg.ExecutionID, msg.Terminal)
		a.ack(ctx, msg.Answer)
	case *runnerTick:
		a.tick(ctx)
	case *releasePolls:
		if a.claiming {
			a.claimAnswered(ctx, nil)
			a.cancelClaim(ctx)
		}
		a.answerWaiters(ctx, nil)
	case *lostResult:
		if msg.err == nil && msg.exec != nil && msg.exec.Status == messages.ExecAssigned &&
			msg.exec.RunnerID != nil && *msg.exec.RunnerID == a.rec.ID {
			return // still ours (should not happen): keep it
		}
		a.released(msg.executionID)
	}
}

// ack answers a notification once applied: with the answer it carries for
// its original caller, else an Ack.
func (a *runnerActor) ack(ctx actor.Context, answer any) {
	if answer == nil {
		answer = &messages.Ack{}
	}
	respondIfAsked(ctx, answer)
}

// load takes the record the supervisor rehydrated at spawn or, after an
// actor restart, the last durable one from storage.
func (a *runnerActor) load(ctx actor.Context) {
	r := a.initial
	if a.entry.started.Swap(true) {
		var err error
		if r, err = a.sys.store.GetRunner(a.entry.id); err != nil {
			panic(err)
		}
		if r != nil && rehydrateRunner(r, a.sys.Now(), a.sys.runnerTTL()) {
			if err := a.sys.store.SaveRunner(r, runnerEffects(r, nil, false)); err != nil {
				panic(err)
			}
		}
	}
	if r == nil {
		a.entry.deleted.Store(true)
		ctx.Send(ctx.Parent(), &runnerGone{id: a.entry.id})
		return
	}
	a.rec = *r
	a.lastFlush = a.sys.Now()
	if a.rec.CurrentExecutionID != nil {
		a.curStatus = messages.ExecAssigned // refined from storage when it matters
	}
	a.publish()
}

// rehydrateRunner sets a loaded runner's status from its last heartbeat: a
// runner whose last heartbeat is older than the TTL (or that never sent
// one) is OFFLINE. It reports whether the record changed.
func rehydrateRunner(r *messages.Runner, now time.Time, ttl time.Duration) bool {
	last := r.LastHeartbeatAt
	want := runnerStatus(!last.IsZero() && now.Sub(last.Std()) < ttl, r.CurrentExecutionID != nil)
	changed := want != r.Status
	r.Status = want
	switch {
	case want != messages.RunnerOffline:
		changed = changed || !r.OfflineSince.IsZero()
		r.OfflineSince = 0
	case r.OfflineSince.IsZero():
		changed = true
		r.OfflineSince = messages.TimeOf(now)
		if !last.IsZero() {
			r.OfflineSince = messages.TimeOf(last.Std().Add(ttl))
		}
	}
	return changed
}

// copyRec is a copy of the record for a write (writes may run later or twice).
func (a *runnerActor) copyRec() *messages.Runner {
	c := a.rec
	return &c
}

// publish pushes the record's live fields into the shared entry.
func (a *runnerActor) publish() {
	e := a.entry
	nst := statusCode(a.rec.Status)
	if old := e.status.Swap(nst); old != nst {
		a.sys.gaugeOf(old).Add(-1)
		a.sys.gaugeOf(nst).Add(1)
	}
	e.hasCurrent.Store(a.rec.CurrentExecutionID != nil)
	if !a.rec.OfflineSince.IsZero() {
		e.offlineAt.Store(a.rec.OfflineSince.Std().UnixNano())
	}
	e.stops.Store(int32(len(a.stops)))
	e.view.Store(publicRunner(&a.rec))
}

// gaugeOf is the gauge counting runners with status code st.
func (s *System) gaugeOf(st int32) *atomic.Int64 {
	switch st {
	case stOnline:
		return &s.gauges.RunnersOnline
	case stBusy:
		return &s.gauges.RunnersBusy
	}
	return &s.gauges.RunnersOffline
}

// save writes the record durably and publishes it.
func (a *runnerActor) save(audit *messages.AuditEntry) error {
	a.rec.UpdatedAt = messages.TimeOf(a.sys.Now())
	rec := a.copyRec()
	if err := a.sys.store.SaveRunner(rec, runnerStatusEffects(rec, audit, a.entry.status.Load())); err != nil {
		return err
	}
	a.entry.flushAt.Store(0)
	a.lastFlush = a.sys.Now()
	a.publish()
	return nil
}

// saveDerived publishes a change of the runner's current execution (and
// the BUSY/ONLINE status that follows from it) at once and writes it
// through the group commit without waiting. Those fields are derived from
// the executions, whose own changes are durable before they are answered,
// and a start re-derives them (assignmentsFromExecutions, rehydrateRunner):
// waiting for this write added two commits to every execution's lifecycle.
func (a *runnerActor) saveDerived(what string) {
	a.rec.UpdatedAt = messages.TimeOf(a.sys.Now())
	a.entry.flushAt.Store(0)
	a.lastFlush = a.sys.Now()
	a.publish()
	id, logger := a.rec.ID, a.sys.cfg.Logger
	// BUSY and ONLINE are both up: a runner event, never runner.online or
	// runner.offline.
	rec := a.copyRec()
	a.sys.store.SaveRunnerAsync(rec, runnerEffects(rec, nil, false), func(err error) {
		if err != nil && messages.ErrorCode(err) != messages.CodeNotFound { // deleted meanwhile
			logger.Warn(what, "runner", id, "err", err)
		}
	})
}

// runnerStatus is the status of a runner that is alive or not, with work or
// without.
func runnerStatus(alive, hasWork bool) messages.RunnerStatus {
	switch {
	case !alive:
		return messages.RunnerOffline
	case hasWork:
		return messages.RunnerBusy
	}
	return messages.RunnerOnline
}

// settle derives the status from liveness and work and saves a change.
func (a *runnerActor) settle(alive bool) error {
	want := runnerStatus(alive, a.rec.CurrentExecutionID != nil)
	if want == a.rec.Status {
		return nil
	}
	if want == messages.RunnerOffline {
		a.rec.OfflineSince = messages.TimeOf(a.sys.Now())
	} else {
		a.rec.OfflineSince = 0
	}
	a.rec.Status = want
	return a.save(nil)
}

func (a *runnerActor) alive() bool { return a.rec.Status != messages.RunnerOffline }

// stopIDs is the stopExecutionIds of an answer. Stops of executions that
// are already STOPPED (they were ASSIGNED) are listed in one answer, then
// dropped: the runner holds no work of theirs any more.
func (a *runnerActor) stopIDs() []string {
	out := make([]string, len(a.stops))
	copy(out, a.stops)
	if len(a.stopOnce) > 0 {
		a.stops = slices.DeleteFunc(a.stops, func(id string) bool {
			_, once := a.stopOnce[id]
			return once
		})
		clear(a.stopOnce)
		a.publish()
	}
	return out
}

func (a *runnerActor) heartbeat(msg *messages.Heartbeat) any {
	now := a.sys.Now()
	a.rec.LastHeartbeatAt = messages.TimeOf(now)
	a.entry.lastBeat.Store(now.UnixNano())
	if msg.IPAddress != "" {
		a.rec.IPAddress = messages.NullString(msg.IPAddress)
	}
	if msg.Metrics != nil {
		a.rec.Metrics = msg.Metrics
	}
	if a.rec.Status == messages.RunnerOffline {
		if err := a.settle(true); err != nil {
			return err
		}
		a.wake = true
	} else {
		a.rec.UpdatedAt = messages.TimeOf(now)
		if a.entry.flushAt.Load() == 0 {
			due := a.lastFlush.Add(heartbeatFlushEvery)
			if due.Before(now) {
				due = now
			}
			a.entry.flushAt.Store(due.UnixNano())
		}
		a.publish()
	}
	return &messages.HeartbeatReply{Status: a.rec.Status, TTLSeconds: int(a.sys.runnerTTL() / time.Second), StopExecutionIDs: a.stopIDs()}
}

// tick acts on what is due: TTL expiry, the offline grace, a flush.
func (a *runnerActor) tick(ctx actor.Context) {
	now := a.sys.Now()
	if a.alive() && now.Sub(a.rec.LastHeartbeatAt.Std()) >= a.sys.runnerTTL() {
		a.rec.Status = messages.RunnerOffline
		a.rec.OfflineSince = messages.TimeOf(a.rec.LastHeartbeatAt.Std().Add(a.sys.runnerTTL()))
		if a.rec.LastHeartbeatAt.IsZero() {
			a.rec.OfflineSince = messages.TimeOf(now)
		}
		if err := a.save(nil); err != nil {
			a.sys.cfg.Logger.Error("runner offline", "runner", a.rec.ID, "err", err)
		}
		if a.claiming {
			a.claimAnswered(ctx, nil)
			a.cancelClaim(ctx)
		}
	}
	if !a.alive() && a.rec.CurrentExecutionID != nil && !a.entry.lostSent.Load() &&
		now.Sub(a.rec.OfflineSince.Std()) >= a.sys.cfg.OfflineGrace {
		a.lost(ctx, *a.rec.CurrentExecutionID, "runner "+a.rec.Name+" has been offline for more than "+a.sys.cfg.OfflineGrace.String())
	}
	if f := a.entry.flushAt.Load(); f != 0 && now.UnixNano() >= f {
		a.entry.flushAt.Store(0)
		a.lastFlush = now
		rec := a.copyRec()
		a.sys.store.SaveRunnerAsync(rec, runnerEffects(rec, nil, true), func(err error) {
			if err != nil {
				a.sys.cfg.Logger.Warn("heartbeat flush", "runner", a.entry.id, "err", err)
			}
		})
	}
}

// flushNow writes unflushed heartbeat data (at shutdown).
func (a *runnerActor) flushNow() {
	if a.entry.flushAt.Load() != 0 && !a.entry.deleted.Load() {
		a.entry.flushAt.Store(0)
		rec := a.copyRec()
		_ = a.sys.store.SaveRunner(rec, runnerEffects(rec, nil, true))
	}
}

// lost tells the executions side that this runner's execution is gone.
func (a *runnerActor) lost(ctx actor.Context, execID, reason string) {
	a.entry.lostSent.Store(true)
	cmd := &messages.RunnerLost{ExecutionID: execID, RunnerID: a.rec.ID, Reason: reason}
	pid := a.sys.ownerPID(cmd)
	if pid == nil {
		return
	}
	f := ctx.RequestFuture(pid, cmd, 30*time.Second)
	self, root := ctx.Self(), a.sys.actors.Root
	go func() {
		res, err := f.Result()
		lr := &lostResult{executionID: execID, err: err}
		switch r := res.(type) {
		case *messages.Execution:
			lr.exec = r
		case error:
			lr.err = r
		}
		root.Send(self, lr)
	}()
}

// poll answers a poll: the ASSIGNED execution again when there is one
// (even while OFFLINE: it is this runner's until the stale rules take it
// back, and a lost poll answer must lose no work), no new work when OFFLINE
// or ATTENDED, else a claim on the dispatcher (one at a time; later polls
// join it).
func (a *runnerActor) poll(ctx actor.Context, msg *messages.PollWork) {
	if a.rec.CurrentExecutionID != nil {
		if e := a.currentAssigned(); e != nil {
			ctx.Respond(&messages.PollReply{Execution: e, StopExecutionIDs: a.stopIDs()})
			return
		}
		if a.rec.CurrentExecutionID != nil {
			a.answerOrPark(ctx, msg) // RUNNING: nothing new until it ends
			return
		}
	}
	if !a.alive() || a.rec.Type == messages.RunnerAttended {
		// No queued work for it: a long poll waits for a stop request or
		// its deadline, so such a runner does not spin.
		a.answerOrPark(ctx, msg)
		return
	}
	if a.claiming {
		// A claim is parked: the queue was empty when it was made.
		a.answerOrPark(ctx, msg)
		return
	}
	pid := a.sys.ownerPID(&messages.ClaimWork{})
	if pid == nil {
		ctx.Respond(&messages.PollReply{StopExecutionIDs: a.stopIDs()})
		return
	}
	a.claiming = true
	a.claimGen++
	// With work queued the dispatcher answers the claim at once: the poll
	// waits for it in its handler, as a poll without wait does.
	a.waiters = append(a.waiters, a.newWaiter(ctx, msg, a.sys.queueEmpty()))
	ctx.Request(pid, &messages.ClaimWork{RunnerID: a.rec.ID, Wait: msg.Wait, Labels: a.rec.Labels})
	a.claimStop = a.after(ctx, msg.Wait+5*time.Second, &claimExpired{gen: a.claimGen})
}

// answerOrPark answers a poll that gets no new work: at once when it has
// no wait or stop requests are pending, else it waits (joining the claim
// in flight, if any) until the claim is answered, a stop request arrives or
// its wait passes.
func (a *runnerActor) answerOrPark(ctx actor.Context, msg *messages.PollWork) {
	if msg.Wait <= 0 || len(a.stops) > 0 {
		ctx.Respond(&messages.PollReply{StopExecutionIDs: a.stopIDs()})
		return
	}
	w := a.newWaiter(ctx, msg, true)
	a.waiters = append(a.waiters, w)
	w.stop = a.after(ctx, msg.Wait, &waiterExpired{id: w.id})
}

// newWaiter makes the waiter of a poll that waits. A poll that brought a
// messages.PollWaiter (and waits) is told at once that it is parked when
// park allows: its caller holds no goroutine while it waits.
func (a *runnerActor) newWaiter(ctx actor.Context, msg *messages.PollWork, park bool) *pollWaiter {
	a.nextWait++
	w := &pollWaiter{id: a.nextWait}
	if park && msg.Waiter != nil && msg.Wait > 0 {
		w.parked = msg.Waiter
		ctx.Respond(&messages.PollReply{Parked: true})
	} else {
		w.pid = ctx.Sender()
	}
	return w
}

// after sends msg to the actor itself after d. The caller stops the timer
// once what it bounds is over, so thousands of runners long-polling leave no
// dead timers behind in the runtime's heap (each would fire into an actor
// that no longer cares, or into dead letters after a delete).
func (a *runnerActor) after(ctx actor.Context, d time.Duration, msg any) func() bool {
	return a.sys.sendAfter(ctx.Self(), d, msg)
}

// currentAssigned returns the current execution when it is still ASSIGNED
// to this runner (a repeated poll gets it again). An execution that is
// RUNNING yields nil; one that is no longer ours is released.
func (a *runnerActor) currentAssigned() *messages.Execution {
	id := *a.rec.CurrentExecutionID
	if a.curStatus == messages.ExecRunning {
		return nil
	}
	e, err := a.sys.store.GetExecution(id)
	if err != nil {
		a.sys.cfg.Logger.Error("poll: read execution", "execution", id, "err", err)
		return nil
	}
	if e == nil || e.RunnerID == nil || *e.RunnerID != a.rec.ID || e.Status.Terminal() || e.Status == messages.ExecQueued {
		a.released(id)
		a.wake = false // this poll goes on to claim
		return nil
	}
	a.curStatus = e.Status
	if e.Status == messages.ExecAssigned {
		if a.current != nil && a.current.ID == id {
			return a.current
		}
		a.current = e
		return e
	}
	return nil
}

// claimAnswered ends the claim in flight: e is the execution the dispatcher
// assigned (nil for none). An assignment that arrives after the claim was
// given up is still adopted: it is durable and the next poll returns it.
func (a *runnerActor) claimAnswered(ctx actor.Context, e *messages.Execution) {
	a.claiming = false
	if a.claimStop != nil {
		a.claimStop()
		a.claimStop = nil
	}
	if a.entry.deleted.Load() {
		// Deleted while a claim was in flight: hand back what it brought.
		if e != nil {
			a.lost(ctx, e.ID, "runner "+a.rec.Name+" was deleted")
		}
		a.answerWaiters(ctx, nil)
		ctx.Send(ctx.Parent(), &runnerGone{id: a.rec.ID})
		return
	}
	if e != nil {
		if a.rec.CurrentExecutionID != nil && *a.rec.CurrentExecutionID != e.ID {
			// Never two executions for one runner: hand the newcomer back.
			a.lost(ctx, e.ID, "runner "+a.rec.Name+" already has work")
			e = nil
		} else {
			id := e.ID
			a.current, a.curStatus = e, messages.ExecAssigned
			a.rec.CurrentExecutionID = &id
			a.entry.lostSent.Store(false)
			if a.alive() {
				a.rec.Status = messages.RunnerBusy
			}
			a.saveDerived("runner busy")
		}
	}
	a.answerWaiters(ctx, e)
}

// wakeWaiters answers parked polls with no work when the runner may claim
// now (it came back ONLINE, or its execution ended): they poll again.
func (a *runnerActor) wakeWaiters(ctx actor.Context) {
	if a.wake {
		a.wake = false
		if !a.claiming {
			a.answerWaiters(ctx, nil)
		}
	}
}

// answerWaiters answers every poll waiting for the claim with e (nil: no
// work) and the pending stop requests (none once the runner is deleted).
func (a *runnerActor) answerWaiters(ctx actor.Context, e *messages.Execution) {
	if len(a.waiters) == 0 {
		return
	}
	reply := &messages.PollReply{Execution: e, StopExecutionIDs: []string{}}
	if a.entry == nil || !a.entry.deleted.Load() {
		reply.StopExecutionIDs = a.stopIDs()
	}
	for _, w := range a.waiters {
		if w.stop != nil {
			w.stop()
		}
		w.answer(ctx, reply)
	}
	clear(a.waiters)
	a.waiters = a.waiters[:0]
}

func (a *runnerActor) expireWaiter(ctx actor.Context, id int) {
	for i, w := range a.waiters {
		if w.id == id {
			w.answer(ctx, &messages.PollReply{StopExecutionIDs: a.stopIDs()})
			a.waiters = append(a.waiters[:i], a.waiters[i+1:]...)
			return
		}
	}
}

func (a *runnerActor) cancelClaim(ctx actor.Context) {
	cmd := &messages.CancelClaim{RunnerID: a.rec.ID}
	if pid := a.sys.ownerPID(cmd); pid != nil {
		ctx.Send(pid, cmd)
	}
}

// assigned records an execution that became this runner's work outside a
// claim (attended starts).
func (a *runnerActor) assigned(msg *messages.ExecutionAssigned) {
	id := msg.ExecutionID
	a.rec.CurrentExecutionID = &id
	a.current = nil
	a.curStatus = msg.Status
	a.entry.lostSent.Store(false)
	if a.alive() {
		a.rec.Status = messages.RunnerBusy
	}
	if err := a.save(nil); err != nil {
		a.sys.cfg.Logger.Error("runner assigned", "runner", a.rec.ID, "err", err)
	}
}

// released forgets an execution that is no longer this runner's work.
func (a *runnerActor) released(execID string) {
	changed := false
	for i, id := range a.stops {
		if id == execID {
			a.stops = append(a.stops[:i], a.stops[i+1:]...)
			changed = true
			break
		}
	}
	if a.rec.CurrentExecutionID != nil && *a.rec.CurrentExecutionID == execID {
		a.rec.CurrentExecutionID = nil
		a.current, a.curStatus = nil, ""
		a.entry.lostSent.Store(false)
		a.wake = true
		if a.alive() {
			a.rec.Status = messages.RunnerOnline
		}
		a.saveDerived("runner released")
		return
	}
	if changed {
		a.publish()
	}
}

// stopRequested adds execID to the stop requests; terminal: it is already
// STOPPED (and released), so it is listed once.
func (a *runnerActor) stopRequested(ctx actor.Context, execID string, terminal bool) {
	for _, id := range a.stops {
		if id == execID {
			return
		}
	}
	a.stops = append(a.stops, execID)
	if terminal {
		if a.stopOnce == nil {
			a.stopOnce = map[string]struct{}{}
		}
		a.stopOnce[execID] = struct{}{}
	}
	if a.rec.CurrentExecutionID != nil && *a.rec.CurrentExecutionID == execID {
		a.curStatus = messages.ExecRunning
	}
	a.publish()
	// Parked polls learn it now (a claim in flight, if any, goes on).
	a.answerWaiters(ctx, nil)
}

func (a *runnerActor) regenerate(msg *messages.RegenerateSecret) any {
	secret := messages.RandomHex(32)
	prevHash, prevEpoch := a.rec.SecretHash, a.rec.SecretEpoch
	a.rec.SecretHash, a.rec.SecretEpoch = hashSecret(secret), a.rec.SecretEpoch+1
	audit := a.sys.auditEntry(msg.Origin, messages.AuditRunnerSecret, "runner", a.rec.ID, a.rec.Name)
	if err := a.save(audit); err != nil {
		a.rec.SecretHash, a.rec.SecretEpoch = prevHash, prevEpoch
		return err
	}
	a.entry.secretHash.Store(parseSecretHash(a.rec.SecretHash))
	a.entry.epoch.Store(a.rec.SecretEpoch)
	return &messages.RunnerCredentials{ID: a.rec.ID, Name: a.rec.Name, MachineKey: a.rec.MachineKey, MachineSecret: secret, Type: a.rec.Type}
}

// setLabels replaces the runner's labels. A claim of its own that is
// parked at the dispatcher is matched again with them at once (a runner
// given a label may now take work that waits for it); a claim in flight
// carries the old ones, and the next poll the new ones.
func (a *runnerActor) setLabels(ctx actor.Context, msg *messages.SetRunnerLabels) any {
	if msg.Labels == nil {
		return messages.Invalid("labels is required (an array; [] removes every label)")
	}
	labels, err := messages.NormalizeLabels("labels", msg.Labels)
	if err != nil {
		return err
	}
	prev := a.rec.Labels
	a.rec.Labels = labels
	audit := a.sys.auditEntry(msg.Origin, messages.AuditRunnerLabels, "runner", a.rec.ID, a.rec.Name+" "+messages.FormatLabels(labels))
	if err := a.save(audit); err != nil {
		a.rec.Labels = prev
		return err
	}
	if a.claiming {
		if pid := a.sys.ownerPID(&messages.RelabelClaim{}); pid != nil {
			ctx.Send(pid, &messages.RelabelClaim{RunnerID: a.rec.ID, Labels: labels})
		}
	}
	return a.entry.view.Load()
}

// delete removes the runner. Its ASSIGNED execution goes back to the queue
// and its RUNNING one fails before the delete is answered (the executions'
// owner answers it), so a read after the answer sees them.
func (a *runnerActor) delete(ctx actor.Context, msg *messages.DeleteRunner) {
	audit := a.sys.auditEntry(msg.Origin, messages.AuditRunnerDeleted, "runner", a.rec.ID, a.rec.Name)
	if err := a.sys.store.DeleteRunner(a.rec.ID, runnerDeletedEffects(&a.rec, audit, a.sys.Now())); err != nil {
		ctx.Respond(err)
		return
	}
	a.entry.deleted.Store(true)
	a.entry.flushAt.Store(0)
	a.sys.gaugeOf(a.entry.status.Load()).Add(-1)
	a.sys.census.Runners.Add(-1)
	answered := false
	if a.rec.CurrentExecutionID != nil {
		cmd := &messages.RunnerLost{ExecutionID: *a.rec.CurrentExecutionID, RunnerID: a.rec.ID,
			Reason: "runner " + a.rec.Name + " was deleted", Answer: &messages.Ack{}}
		if pid := a.sys.ownerPID(cmd); pid != nil {
			if ctx.Sender() != nil {
				ctx.RequestWithCustomSender(pid, cmd, ctx.Sender())
				answered = true
			} else {
				ctx.Send(pid, cmd)
			}
		}
	}
	if !answered {
		respondIfAsked(ctx, &messages.Ack{})
	}
	a.answerWaiters(ctx, nil)
	if a.claiming {
		// Stay until the dispatcher answers the claim (claimAnswered then
		// reports the runner gone), so an execution it assigned meanwhile
		// is handed back.
		a.cancelClaim(ctx)
		return
	}
	// The supervisor stops this actor behind the commands already
	// forwarded to it, which are answered (not found) first.
	ctx.Send(ctx.Parent(), &runnerGone{id: a.rec.ID})
}
