package actors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/robfig/cron/v3"

	"github.com/exekra/orchestrator/messages"
)

// childTriggers is the name of the triggers supervisor.
const childTriggers = "triggers"

// WebhookPathPrefix is the path of a trigger's webhook, before its id.
const WebhookPathPrefix = "/api/triggers/webhook/"

// queuedTimeout bounds how long a schedule fire waits for the executions
// owner's answer before the trigger stops treating it as in flight.
const queuedTimeout = 30 * time.Second

// cronParser reads 5-field specs and @descriptors (@daily, @every 1m, ...).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// triggersActor is the supervisor of the trigger actors.
//
// Handles: *messages.CreateTrigger (validates, writes, spawns the trigger's
// actor), *messages.UpdateTrigger and *messages.FireWebhook (forwarded to
// the trigger's actor), *messages.DeleteTrigger (writes, stops the actor),
// *triggersRemoved (from the workflows actor: stops the actors of a deleted
// workflow's triggers). Sends: replies; forwards. State: trigger id → actor
// pid. Timers: none (each trigger/<id> keeps its own).
type triggersActor struct {
	sys      *System
	children map[string]*actor.PID
	// exec overrides the executions owner (tests); nil = route's owner.
	exec *actor.PID
}

// Receive implements actor.Actor.
func (a *triggersActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.children = map[string]*actor.PID{}
		recs, err := a.sys.store.AllTriggers()
		if err != nil {
			panic(err)
		}
		for _, r := range recs {
			a.spawn(ctx, r)
		}
		reportReady(ctx, childTriggers)
	case *messages.CreateTrigger:
		ctx.Respond(a.create(ctx, msg))
	case *messages.UpdateTrigger:
		a.forward(ctx, msg.ID)
	case *messages.FireWebhook:
		a.forward(ctx, msg.TriggerID)
	case *messages.DeleteTrigger:
		ctx.Respond(a.delete(ctx, msg))
	case *triggersRemoved:
		for _, id := range msg.ids {
			if pid := a.children[id]; pid != nil {
				ctx.Poison(pid) // after the requests already in its mailbox
				delete(a.children, id)
			}
		}
	}
}

func (a *triggersActor) forward(ctx actor.Context, id string) {
	pid := a.children[id]
	if pid == nil {
		ctx.Respond(messages.NotFound("trigger"))
		return
	}
	ctx.Forward(pid)
}

func (a *triggersActor) spawn(ctx actor.Context, rec *messages.TriggerRecord) {
	exec := a.exec
	if exec == nil {
		exec = a.sys.ownerPID(&messages.CreateExecution{})
	}
	// The first start takes rec; a restart reads storage again.
	var initial atomic.Pointer[messages.TriggerRecord]
	initial.Store(rec)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &triggerActor{sys: a.sys, exec: exec, id: rec.Trigger.ID, initial: initial.Swap(nil)}
	})
	pid, err := ctx.SpawnNamed(props, rec.Trigger.ID)
	if err != nil {
		a.sys.cfg.Logger.Warn("spawn trigger failed", "trigger", logID(rec.Trigger.ID), "err", err)
		return
	}
	a.children[rec.Trigger.ID] = pid
}

func (a *triggersActor) create(ctx actor.Context, msg *messages.CreateTrigger) any {
	if msg.Type != messages.TriggerSchedule && msg.Type != messages.TriggerWebhook {
		return messages.Invalid("type must be SCHEDULE or WEBHOOK")
	}
	set, err := parseNewTriggerConfig(msg.Type, msg.Config, "")
	if err != nil {
		return err
	}
	prio := set.priority
	if msg.Priority != nil {
		if msg.Priority.Rank() < 0 {
			return messages.Invalid("priority must be HIGH, NORMAL or LOW")
		}
		prio = *msg.Priority
	}
	now := a.sys.Now()
	t := &messages.Trigger{
		ID: messages.NewID(now), WorkflowID: msg.WorkflowID, Type: msg.Type, Config: set.public,
		Enabled: msg.Enabled, Priority: prio, HasSecret: set.secret != "",
		CreatedBy: msg.Origin.ActorID, CreatedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now),
	}
	if t.Type == messages.TriggerWebhook {
		t.WebhookPath = WebhookPathPrefix + t.ID
	}
	if t.Enabled && set.schedule != nil {
		t.NextRunAt = messages.TimeOf(set.next(now))
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditTriggerCreated, "trigger", t.ID, string(t.Type)+" workflow "+t.WorkflowID)
	if err := a.sys.store.CreateTrigger(t, set.secret, messages.AuditOnly(audit)); err != nil {
		return err
	}
	a.spawn(ctx, &messages.TriggerRecord{Trigger: t, Secret: set.secret})
	return t
}

func (a *triggersActor) delete(ctx actor.Context, msg *messages.DeleteTrigger) any {
	audit := a.sys.auditEntry(msg.Origin, messages.AuditTriggerDeleted, "trigger", msg.ID, "")
	if err := a.sys.store.DeleteTrigger(msg.ID, messages.AuditOnly(audit)); err != nil {
		return err
	}
	if pid := a.children[msg.ID]; pid != nil {
		// Poison, not Stop: the updates and webhook calls already
		// forwarded to it are answered (404 once the record is gone, or
		// the execution a call made) instead of dropped unanswered.
		ctx.Poison(pid)
		delete(a.children, msg.ID)
	}
	return &messages.Ack{}
}

// logID shortens a trigger id for the logs: the id is a webhook's
// credential, so only its time-ordered prefix is logged.
func logID(id string) string {
	if len(id) > 10 {
		return id[:10] + "…"
	}
	return id
}

// ownerPID is the pid of the top-level actor that owns cmd, or nil when no
// actor owns that command type (yet).
func (s *System) ownerPID(cmd any) (pid *actor.PID) {
	defer func() {
		if recover() != nil {
			pid = nil
		}
	}()
	return s.pids[route(cmd)]
}

// triggerSettings is a parsed trigger configuration.
type triggerSettings struct {
	public string // the config's JSON text as sent, without the secret
	secret string // webhook HMAC secret ("" = none)
	// requireTimestamp refuses the plain sha256= signature form.
	requireTimestamp bool
	rateLimit        int // webhook calls per minute (0 = unlimited)
	priority         messages.Priority
	prioritySet      bool          // the config names a priority (else priority is NORMAL)
	schedule         cron.Schedule // nil for webhooks
	loc              *time.Location
	// labels: config.runnerLabels, the labels its executions need instead
	// of the workflow's (nil: not set, the workflow's apply).
	labels []string
}

// next is the schedule's first activation after now.
func (s *triggerSettings) next(now time.Time) time.Time {
	return s.schedule.Next(now.In(s.loc))
}

// parseTriggerConfig checks a trigger's config text for its type. A webhook
// config without a "secret" key keeps oldSecret; "secret": null or "" clears
// it. The public text is the config text as given (docs/api.md, "Conventions": it comes back
// as sent); a webhook's secret is write-only, so a config that names one
// comes back compacted, without it, the other members in their order.
func parseTriggerConfig(typ messages.TriggerType, text, oldSecret string) (*triggerSettings, error) {
	return parseTriggerConfigAs(typ, text, oldSecret, false)
}

// parseNewTriggerConfig is parseTriggerConfig for a create or an update,
// with the rules added after triggers were first stored (so a stored one
// that breaks them still loads and runs as before): a SCHEDULE config may
// not hold a "secret" (it would be kept and shown as config text, while
// secrets are a webhook's and write-only), and an @every interval must be
// at least 1s (the cron library rounds 0s, -1h or 1ns up to a second).
func parseNewTriggerConfig(typ messages.TriggerType, text, oldSecret string) (*triggerSettings, error) {
	return parseTriggerConfigAs(typ, text, oldSecret, true)
}

func parseTriggerConfigAs(typ messages.TriggerType, text, oldSecret string, strict bool) (*triggerSettings, error) {
	if strict {
		if err := messages.CheckJSONDepth("config", []byte(text)); err != nil {
			return nil, err
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil || obj == nil {
		return nil, messages.Invalid("config must be a JSON object (or the JSON text of one)")
	}
	set := &triggerSettings{priority: messages.PriorityNormal, loc: time.UTC, secret: oldSecret}
	str := func(key string) (string, bool, error) {
		raw, ok := obj[key]
		if !ok || bytes.Equal(raw, []byte("null")) {
			return "", ok, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", true, messages.Invalid("config.%s must be a string", key)
		}
		return s, true, nil
	}
	p, ok, err := str("priority")
	if err != nil {
		return nil, err
	}
	if ok && p != "" {
		set.priority = messages.Priority(strings.ToUpper(p))
		if set.priority.Rank() < 0 {
			return nil, messages.Invalid("config.priority must be HIGH, NORMAL or LOW")
		}
		set.prioritySet = true
	}
	if raw, ok := obj["runnerLabels"]; ok && !bytes.Equal(raw, []byte("null")) {
		var labels []string
		if err := json.Unmarshal(raw, &labels); err != nil {
			return nil, messages.Invalid("config.runnerLabels must be an array of labels")
		}
		if labels == nil {
			labels = []string{}
		}
		if set.labels, err = messages.NormalizeLabels("config.runnerLabels", labels); err != nil {
			return nil, err
		}
	}
	switch typ {
	case messages.TriggerSchedule:
		spec, _, err := str("cron")
		if err != nil {
			return nil, err
		}
		if strict {
			if _, ok := obj["secret"]; ok {
				return nil, messages.Invalid("config.secret applies to WEBHOOK triggers only")
			}
			if rest, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
				if d, err := time.ParseDuration(strings.TrimSpace(rest)); err != nil || d < time.Second {
					return nil, messages.Invalid("config.cron %q: an @every interval must be at least 1s", spec)
				}
			}
		}
		if strings.TrimSpace(spec) == "" {
			return nil, messages.Invalid("config.cron is required for a SCHEDULE trigger")
		}
		if strings.Contains(spec, "TZ=") {
			return nil, messages.Invalid("config.cron: give the zone in config.timezone")
		}
		sched, err := cronParser.Parse(strings.TrimSpace(spec))
		if err != nil {
			return nil, messages.Invalid("config.cron %q is not a valid 5-field cron expression or @descriptor: %v", spec, err)
		}
		set.schedule = sched
		tz, _, err := str("timezone")
		if err != nil {
			return nil, err
		}
		if tz != "" {
			loc, err := time.LoadLocation(tz)
			if err != nil || strings.EqualFold(tz, "local") {
				return nil, messages.Invalid("config.timezone %q is not an IANA time zone", tz)
			}
			set.loc = loc
		}
		if set.next(time.Now()).IsZero() {
			return nil, messages.Invalid("config.cron %q never fires", spec)
		}
	case messages.TriggerWebhook:
		s, ok, err := str("secret")
		if err != nil {
			return nil, err
		}
		if ok {
			set.secret = s
			public, err := withoutMember(text, "secret")
			if err != nil {
				return nil, messages.Invalid("config is not valid JSON")
			}
			set.public = public
		}
		if raw, ok := obj["requireTimestamp"]; ok && !bytes.Equal(raw, []byte("null")) {
			if err := json.Unmarshal(raw, &set.requireTimestamp); err != nil {
				return nil, messages.Invalid("config.requireTimestamp must be true or false")
			}
		}
		if strict && set.requireTimestamp && set.secret == "" {
			return nil, messages.Invalid("config.requireTimestamp needs a secret to sign with")
		}
		if raw, ok := obj["rateLimit"]; ok && !bytes.Equal(raw, []byte("null")) {
			var n float64
			if err := json.Unmarshal(raw, &n); err != nil || n < 0 || n != math.Trunc(n) || n > 1e9 {
				return nil, messages.Invalid("config.rateLimit must be a whole number of calls per minute (0 = unlimited)")
			}
			set.rateLimit = int(n)
		}
	}
	if set.public == "" {
		set.public = text
	}
	return set, nil
}

// withoutMember returns the JSON object text without its members named
// name (however the key is escaped), compacted; the other members keep
// their order and their keys' spelling.
func withoutMember(text, name string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", fmt.Errorf("config: not a JSON object")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for dec.More() {
		from := dec.InputOffset() // just after '{' or the previous value
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key, _ := tok.(string)
		// Between the previous value and the key's end: blanks, a comma, the key.
		rawKey := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text[from:dec.InputOffset()]), ","))
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return "", err
		}
		if key == name {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		if !json.Valid([]byte(rawKey)) {
			q, _ := json.Marshal(key)
			rawKey = string(q)
		}
		b.WriteString(rawKey)
		b.WriteByte(':')
		if err := json.Compact(&b, val); err != nil {
			return "", err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return "", fmt.Errorf("config: unterminated JSON object")
	}
	b.WriteByte('}')
	return b.String(), nil
}

// triggerActor is one trigger: trigger/<id>.
//
// Handles: *actor.Started (takes its record from the supervisor, or from
// storage after a restart; arms the schedule),
// *triggerTick (a schedule fire), *messages.UpdateTrigger,
// *messages.FireWebhook, and the executions owner's replies to its schedule
// fires (*messages.ExecutionCreated, error, *actor.DeadLetterResponse).
// Sends: *messages.CreateExecution to the executions owner (schedule fires
// with itself as the sender; webhook calls with the HTTP caller as the
// sender, so the durable write is not serialised here). State: the record,
// the parsed schedule, the last execution it queued, the webhook token
// bucket. A webhook's lastFiredAt/lastResult are not this actor's: they
// are written with the executions it forwards, in their creation batch
// (storage's recordWebhookFiresTx); the actor reads lastResult only for a
// schedule's duplicate check (its copy of a webhook's keeps what it
// loaded; reads and events come from storage). Timers: one
// (Config.AfterFunc) until the next activation, tagged
// with a generation and cancelled in Stopping/Restarting.
type triggerActor struct {
	sys     *System
	exec    *actor.PID
	id      string
	initial *messages.TriggerRecord // the record at spawn (nil: read storage)

	t       *messages.Trigger
	set     *triggerSettings
	gen     uint64
	cancel  func() bool
	lastRun string // execution id of the last schedule fire that queued one

	inflight   bool
	inflightAt time.Time
	firedAt    time.Time

	tokens     float64
	refilledAt time.Time
}

// triggerTick is the timer's fire of one generation of the schedule.
type triggerTick struct{ gen uint64 }

// Receive implements actor.Actor.
func (a *triggerActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *actor.Stopping, *actor.Restarting:
		a.disarm()
	case *triggerTick:
		if msg.gen == a.gen && a.t != nil {
			a.fire(ctx)
		}
	case *messages.UpdateTrigger:
		if a.t == nil {
			ctx.Respond(messages.NotFound("trigger")) // deleted: the actor is on its way out
			return
		}
		ctx.Respond(a.update(ctx, msg))
	case *messages.FireWebhook:
		if a.t == nil {
			ctx.Respond(messages.NotFound("trigger"))
			return
		}
		a.webhook(ctx, msg)
	case *messages.ExecutionCreated:
		a.fired(ctx, msg, nil)
	case *actor.DeadLetterResponse:
		a.fired(ctx, nil, messages.Errorf(messages.CodeUnavailable, "executions unavailable"))
	case error:
		a.fired(ctx, nil, msg)
	}
}

func (a *triggerActor) start(ctx actor.Context) {
	rec := a.initial
	a.initial = nil
	if rec == nil {
		var err error
		if rec, err = a.sys.store.TriggerWithSecret(a.id); err != nil {
			panic(err)
		}
	}
	if rec == nil {
		// Deleted meanwhile (found on a restart): the requests already in
		// the mailbox are answered NOT_FOUND, then the actor stops (Stop
		// would leave them to dead letters: a 500 after the ask's timeout).
		ctx.Poison(ctx.Self())
		return
	}
	a.load(rec)
	if rest, ok := strings.CutPrefix(a.t.LastResult, "queued "); ok {
		a.lastRun = rest
	}
	next := a.arm(ctx)
	if next != a.t.NextRunAt {
		a.t.NextRunAt = next
		if err := a.sys.store.RecordTriggerFire(a.id, 0, "", next, messages.Effects{}); err != nil && messages.ErrorCode(err) != messages.CodeNotFound {
			// The schedule still fires; only the shown nextRunAt is stale
			// until the next fire records it again.
			a.sys.cfg.Logger.Warn("recording a trigger's next run failed", "trigger", logID(a.id), "err", err)
		}
	}
}

func (a *triggerActor) load(r *messages.TriggerRecord) {
	t := *r.Trigger
	a.t = &t
	set, err := parseTriggerConfig(t.Type, t.Config, r.Secret)
	if err != nil {
		a.sys.cfg.Logger.Warn("trigger config unreadable: not scheduled", "trigger", logID(t.ID), "err", err)
		set = &triggerSettings{priority: t.Priority, loc: time.UTC, secret: r.Secret}
	}
	a.set = set
	a.tokens = float64(set.rateLimit)
	a.refilledAt = a.sys.Now()
}

func (a *triggerActor) afterFunc(d time.Duration, f func()) func() bool {
	return a.sys.afterFunc(d, f)
}

// arm (re)starts the timer for the next activation and returns it (0 when
// the trigger is not an enabled schedule).
func (a *triggerActor) arm(ctx actor.Context) messages.Time {
	a.disarm()
	if !a.t.Enabled || a.set.schedule == nil {
		return 0
	}
	now := a.sys.Now()
	next := a.set.next(now)
	if next.IsZero() {
		return 0
	}
	gen, self, root := a.gen, ctx.Self(), a.sys.actors.Root
	a.cancel = a.afterFunc(next.Sub(now), func() { root.Send(self, &triggerTick{gen: gen}) })
	return messages.TimeOf(next)
}

func (a *triggerActor) disarm() {
	a.gen++
	if a.cancel != nil {
		a.cancel()
		a.cancel = nil
	}
}

// fire handles one activation of the schedule: re-arm, then queue a run
// unless the previous one is still queued or nothing is published.
func (a *triggerActor) fire(ctx actor.Context) {
	now := a.sys.Now()
	next := a.arm(ctx)
	a.t.NextRunAt = next
	skip := ""
	switch {
	case a.inflight && now.Sub(a.inflightAt) < queuedTimeout:
		skip = "skipped: previous run still queued"
	case a.lastRun != "" && a.stillQueued(a.lastRun):
		skip = "skipped: previous run still queued"
	default:
		w, err := a.sys.store.GetWorkflow(a.t.WorkflowID)
		switch {
		case err != nil:
			skip = "failed: " + messages.ErrorMessage(err)
		case w == nil:
			skip = "skipped: workflow not found"
		case w.PublishedVersionID == "":
			skip = "skipped: no published version"
		}
	}
	if skip != "" {
		a.record(now, skip)
		return
	}
	if a.exec == nil {
		a.record(now, "failed: executions unavailable")
		return
	}
	id := a.id
	a.inflight, a.inflightAt, a.firedAt = true, now, now
	ctx.Request(a.exec, &messages.CreateExecution{
		WorkflowID: a.t.WorkflowID, Priority: a.t.Priority, TriggerID: &id, RunnerLabels: a.runnerLabels(),
		Origin: messages.Origin{ActorType: messages.ActorSystem, ActorID: "trigger:" + id},
	})
}

// runnerLabels is the trigger's config.runnerLabels (nil when it sets none).
func (a *triggerActor) runnerLabels() []string {
	if a.set == nil {
		return nil
	}
	return a.set.labels
}

// stillQueued reports whether execution execID is still QUEUED.
func (a *triggerActor) stillQueued(execID string) bool {
	e, err := a.sys.store.GetExecution(execID)
	return err == nil && e != nil && e.Status == messages.ExecQueued
}

// fired handles the executions owner's answer to a schedule fire.
func (a *triggerActor) fired(_ actor.Context, created *messages.ExecutionCreated, err error) {
	if !a.inflight {
		return
	}
	a.inflight = false
	var result string
	switch {
	case created != nil && created.Execution != nil:
		a.lastRun = created.Execution.ID
		result = "queued " + created.Execution.ID
	case messages.ErrorCode(err) == messages.CodeNoPublished:
		result = "skipped: no published version"
	default:
		result = "failed: " + messages.ErrorMessage(err)
	}
	a.record(a.firedAt, result)
}

// record writes a fire's result on the trigger, with its audit entry.
func (a *triggerActor) record(at time.Time, result string) {
	a.t.LastFiredAt = messages.TimeOf(at)
	a.t.LastResult = result
	audit := a.sys.auditEntry(messages.Origin{ActorType: messages.ActorSystem, ActorID: "scheduler"},
		messages.AuditTriggerFired, "trigger", a.id, result)
	if err := a.sys.store.RecordTriggerFire(a.id, messages.TimeOf(at), result, a.t.NextRunAt, messages.AuditOnly(audit)); err != nil &&
		messages.ErrorCode(err) != messages.CodeNotFound {
		a.sys.cfg.Logger.Warn("recording a trigger fire failed", "trigger", logID(a.id), "err", err)
	}
}

func (a *triggerActor) update(ctx actor.Context, msg *messages.UpdateTrigger) any {
	if msg.Config == nil && msg.Enabled == nil && msg.Priority == nil {
		return messages.Invalid("give at least one of config, enabled")
	}
	ch := messages.TriggerChange{Enabled: msg.Enabled}
	set := a.set
	var changes []string
	if msg.Config != nil {
		s, err := parseNewTriggerConfig(a.t.Type, *msg.Config, a.set.secret)
		if err != nil {
			return err
		}
		set = s
		ch.Config, ch.Secret = &s.public, &s.secret
		// A config without a priority keeps the trigger's (it may have been
		// set top-level); a top-level priority below wins over the config's.
		if s.prioritySet {
			prio := s.priority
			ch.Priority = &prio
		}
		changes = append(changes, "config")
	}
	if msg.Priority != nil {
		if msg.Priority.Rank() < 0 {
			return messages.Invalid("priority must be HIGH, NORMAL or LOW")
		}
		ch.Priority = msg.Priority
		changes = append(changes, "priority")
	}
	if msg.Enabled != nil {
		changes = append(changes, fmt.Sprintf("enabled=%v", *msg.Enabled))
	}
	enabled := a.t.Enabled
	if msg.Enabled != nil {
		enabled = *msg.Enabled
	}
	now := a.sys.Now()
	if enabled && set.schedule != nil {
		ch.NextRunAt = messages.TimeOf(set.next(now))
	}
	ch.UpdatedAt = messages.TimeOf(now)
	audit := a.sys.auditEntry(msg.Origin, messages.AuditTriggerUpdated, "trigger", a.id, strings.Join(changes, ","))
	rec, err := a.sys.store.UpdateTrigger(a.id, ch, messages.AuditOnly(audit))
	if err != nil {
		return err
	}
	a.t = rec.Trigger
	a.set = set
	if set.rateLimit > 0 && a.tokens > float64(set.rateLimit) {
		a.tokens = float64(set.rateLimit)
	}
	a.arm(ctx)
	out := *rec.Trigger
	return &out
}

// webhook checks a webhook call and forwards the CreateExecution to the
// executions owner with the caller as the sender.
func (a *triggerActor) webhook(ctx actor.Context, msg *messages.FireWebhook) {
	dedupeKey, err := a.checkWebhook(msg)
	if err != nil {
		ctx.Respond(err)
		return
	}
	if wait := a.take(); wait > 0 {
		ctx.Respond(&messages.WebhookThrottled{RetryAfter: wait})
		return
	}
	// The executions owner checks the published version inside its write
	// (NO_PUBLISHED_VERSION); no read here keeps bursts cheap.
	if a.exec == nil {
		ctx.Respond(messages.Errorf(messages.CodeUnavailable, "executions are not available"))
		return
	}
	// The signature covered the raw body; the input is its JSON value (none
	// for a blank body).
	id := a.id
	ctx.RequestWithCustomSender(a.exec, &messages.CreateExecution{
		WorkflowID: a.t.WorkflowID, Priority: a.t.Priority, Input: messages.WebhookInput(bytes.TrimSpace(msg.Body)),
		TriggerID: &id, DedupeKey: dedupeKey, RunnerLabels: a.runnerLabels(),
		Origin: messages.Origin{ActorType: messages.ActorAnonymous, ActorID: "webhook:" + id, IP: msg.IP},
	}, ctx.Sender())
}

// checkWebhook checks a webhook call and answers the dedupe key of the
// execution it makes: the caller's Idempotency-Key, or the replay key of a
// timestamped signature.
func (a *triggerActor) checkWebhook(msg *messages.FireWebhook) (dedupeKey string, err error) {
	dedupeKey = msg.DedupeKey
	if a.t.Type != messages.TriggerWebhook {
		return "", messages.Invalid("this trigger is not a WEBHOOK trigger")
	}
	if !a.t.Enabled {
		return "", messages.Errorf(messages.CodeForbidden, "this trigger is disabled")
	}
	if a.set.secret != "" {
		replayKey, err := verifyWebhookSignature(msg.Signature, msg.Body, a.set.secret, a.id, a.set.requireTimestamp, a.sys.Now())
		if err != nil {
			return "", err
		}
		if replayKey != "" {
			// A timestamped signature is the request's idempotency key: a
			// replay with any Idempotency-Key finds the first execution.
			dedupeKey = replayKey
		}
	}
	if len(bytes.TrimSpace(msg.Body)) > 0 {
		// encoding/json lets invalid UTF-8 through inside strings; docs/api.md, "Details clients depend on"
		// makes it invalid JSON, as httpd's decodeBytes does (same message).
		if !utf8.Valid(msg.Body) {
			return "", messages.Invalid("request body is not valid UTF-8")
		}
		if !json.Valid(msg.Body) {
			return "", messages.Invalid("the webhook body must be valid JSON")
		}
		// The body is the execution's input (docs/decisions.md, "Nesting").
		if err := messages.CheckJSONDepth("the webhook body", msg.Body); err != nil {
			return "", err
		}
	}
	return dedupeKey, nil
}

// take spends one token of the webhook's per-minute bucket; it returns 0 when
// allowed, else how long until a token is available.
func (a *triggerActor) take() time.Duration {
	limit := float64(a.set.rateLimit)
	if limit <= 0 {
		return 0
	}
	now := a.sys.Now()
	rate := limit / float64(time.Minute) // tokens per nanosecond
	if el := now.Sub(a.refilledAt); el > 0 {
		a.tokens = math.Min(limit, a.tokens+float64(el)*rate)
	}
	a.refilledAt = now
	if a.tokens >= 1 {
		a.tokens--
		return 0
	}
	return time.Duration((1 - a.tokens) / rate)
}
