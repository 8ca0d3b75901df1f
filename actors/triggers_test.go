package actors

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// trigStore is the real store with executions' statuses faked.
type trigStore struct {
	*storage.Store
	mu     sync.Mutex
	status map[string]messages.ExecutionStatus
}

func (s *trigStore) GetExecution(id string) (*messages.Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.status[id]
	if !ok {
		return nil, nil
	}
	return &messages.Execution{ID: id, Status: st}, nil
}

func (s *trigStore) set(id string, st messages.ExecutionStatus) {
	s.mu.Lock()
	s.status[id] = st
	s.mu.Unlock()
}

// fakeExecutions answers CreateExecution like the executions owner and
// remembers what it got.
type fakeExecutions struct {
	mu    sync.Mutex
	got   []*messages.CreateExecution
	store *trigStore
}

func (f *fakeExecutions) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*messages.CreateExecution); ok {
		if w, _ := f.store.GetWorkflow(m.WorkflowID); w == nil || w.PublishedVersionID == "" {
			ctx.Respond(messages.Errorf(messages.CodeNoPublished, "no published version"))
			return
		}
		f.mu.Lock()
		f.got = append(f.got, m)
		id := "exec-" + string(rune('a'+len(f.got)-1))
		f.mu.Unlock()
		f.store.set(id, messages.ExecQueued)
		ctx.Respond(&messages.ExecutionCreated{Execution: &messages.Execution{ID: id, WorkflowID: m.WorkflowID, Input: m.Input}})
	}
}

func (f *fakeExecutions) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.got) }

// trigParent hosts the triggers supervisor as a child (it ignores childReady).
// trigParent stands in for the orchestrator: it spawns the triggers
// supervisor and closes ready once that has rehydrated (childReady).
type trigParent struct {
	props *actor.Props
	ready chan struct{}
}

func (p *trigParent) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.SpawnNamed(p.props, childTriggers)
	case *childReady:
		select {
		case <-p.ready:
		default:
			close(p.ready)
		}
	}
}

type trigEnv struct {
	t     *testing.T
	clock *testClock
	store *trigStore
	sys   *System
	exec  *fakeExecutions
	sup   *actor.PID
}

func newTrigEnv(t *testing.T) *trigEnv {
	t.Helper()
	st, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &trigEnv{t: t, clock: &testClock{now: time.Date(2026, 11, 27, 10, 2, 0, 0, time.UTC)},
		store: &trigStore{Store: st, status: map[string]messages.ExecutionStatus{}}}
	as := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	e.sys = &System{cfg: Config{Now: e.clock.Now, AfterFunc: e.clock.AfterFunc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AskTimeout: 5 * time.Second}, store: e.store, actors: as, pids: map[string]*actor.PID{}}
	e.sys.license.Store(&licenseView{})
	e.exec = &fakeExecutions{store: e.store}
	execPID := as.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return e.exec }))
	sup := actor.PropsFromProducer(func() actor.Actor { return &triggersActor{sys: e.sys, exec: execPID} })
	ready := make(chan struct{})
	parent, err := as.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &trigParent{props: sup, ready: ready} }), "orchestrator")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("triggers supervisor did not start")
	}
	e.sup = as.NewLocalPID(parent.Id + "/" + childTriggers)
	t.Cleanup(func() {
		_ = as.Root.PoisonFuture(parent).Wait()
		as.Shutdown()
		_ = st.Close()
	})
	return e
}

func (e *trigEnv) ask(cmd any) (any, error) {
	e.t.Helper()
	res, err := e.sys.actors.Root.RequestFuture(e.sup, cmd, 5*time.Second).Result()
	if err != nil {
		return nil, err
	}
	if err, ok := res.(error); ok {
		return nil, err
	}
	return res, nil
}

// workflow creates a workflow, published when asked.
func (e *trigEnv) workflow(published bool) string {
	e.t.Helper()
	now := e.clock.Now()
	w := &messages.Workflow{ID: messages.NewID(now), Name: "wf", CreatedAt: messages.TimeOf(now)}
	if err := e.store.CreateWorkflow(w, nil); err != nil {
		e.t.Fatal(err)
	}
	if published {
		e.publish(w.ID)
	}
	return w.ID
}

func (e *trigEnv) publish(wf string) {
	e.t.Helper()
	now := e.clock.Now()
	if _, err := e.store.SaveDraft(&messages.Version{ID: messages.NewID(now), WorkflowID: wf, GraphJSON: "{}"}, nil); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.PublishLatest(wf, messages.TimeOf(now), nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *trigEnv) create(cmd *messages.CreateTrigger) *messages.Trigger {
	e.t.Helper()
	res, err := e.ask(cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.(*messages.Trigger)
}

// waitResult waits (bounded, real time) until the stored trigger's
// lastResult is want.
func (e *trigEnv) waitResult(id, want string) *messages.Trigger {
	e.t.Helper()
	var tr *messages.Trigger
	eventually(e.t, "trigger lastResult "+want, func() bool {
		var err error
		if tr, err = e.store.GetTrigger(id); err != nil {
			e.t.Fatal(err)
		}
		return tr != nil && tr.LastResult == want
	})
	return tr
}

// settle waits until the trigger's timer is re-armed after a fire.
func (e *trigEnv) settle(timers int) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("%d pending timers", timers), func() bool { return e.clock.pending() == timers })
}

func TestTriggerScheduleFiresOnFakeClock(t *testing.T) {
	e := newTrigEnv(t)
	wf := e.workflow(true)
	tr := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerSchedule, Config: `{"cron":"*/5 * * * *","priority":"HIGH"}`, Enabled: true})
	if want := time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC); tr.NextRunAt.Std() != want {
		t.Fatalf("nextRunAt %v, want %v", tr.NextRunAt.Std(), want)
	}
	e.settle(1)
	e.clock.Advance(2 * time.Minute) // 10:04: not yet
	if e.exec.count() != 0 {
		t.Fatal("fired early")
	}
	e.clock.Advance(time.Minute) // 10:05
	got := e.waitResult(tr.ID, "queued exec-a")
	if got.LastFiredAt.Std() != time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC) ||
		got.NextRunAt.Std() != time.Date(2026, 11, 27, 10, 10, 0, 0, time.UTC) {
		t.Fatalf("after fire: %+v", got)
	}
	m := e.exec.got[0]
	if m.WorkflowID != wf || m.Priority != messages.PriorityHigh || m.TriggerID == nil || *m.TriggerID != tr.ID || m.TriggeredBy != nil {
		t.Fatalf("CreateExecution = %+v", m)
	}
	// The previous run is still QUEUED: the next fire is skipped.
	e.settle(1)
	e.clock.Advance(5 * time.Minute)
	e.waitResult(tr.ID, "skipped: previous run still queued")
	if e.exec.count() != 1 {
		t.Fatalf("duplicate fire sent: %d", e.exec.count())
	}
	// Once it runs, the next fire queues again.
	e.store.set("exec-a", messages.ExecRunning)
	e.settle(1)
	e.clock.Advance(5 * time.Minute)
	e.waitResult(tr.ID, "queued exec-b")

	// Disabled: no timer, no fires, no nextRunAt.
	off := false
	res, err := e.ask(&messages.UpdateTrigger{ID: tr.ID, Enabled: &off})
	if err != nil || !res.(*messages.Trigger).NextRunAt.IsZero() {
		t.Fatalf("disable: %+v %v", res, err)
	}
	e.settle(0)
	e.clock.Advance(time.Hour)
	if e.exec.count() != 2 {
		t.Fatal("a disabled trigger fired")
	}
	// Re-enabled with another cron: rebuilt at once.
	on, cfg := true, `{"cron":"0 12 * * *"}`
	res, err = e.ask(&messages.UpdateTrigger{ID: tr.ID, Enabled: &on, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	if next := res.(*messages.Trigger).NextRunAt.Std(); next != time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) {
		t.Fatalf("rebuilt nextRunAt %v", next)
	}
	e.settle(1)
	// Deleted: the timer is cancelled at once.
	if _, err := e.ask(&messages.DeleteTrigger{ID: tr.ID}); err != nil {
		t.Fatal(err)
	}
	e.settle(0)
	e.clock.Advance(24 * time.Hour)
	if e.exec.count() != 2 {
		t.Fatal("a deleted trigger fired")
	}
	if _, err := e.ask(&messages.UpdateTrigger{ID: tr.ID, Enabled: &on}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("update deleted: %v", err)
	}
}

func TestTriggerNoPublishedVersionAndTimezone(t *testing.T) {
	e := newTrigEnv(t)
	wf := e.workflow(false)
	tr := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerSchedule,
		Config: `{"cron":"0 9 * * *","timezone":"America/New_York"}`, Enabled: true})
	// 09:00 in New York in November is 14:00 UTC.
	if want := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC); tr.NextRunAt.Std() != want {
		t.Fatalf("nextRunAt %v, want %v", tr.NextRunAt.Std(), want)
	}
	e.settle(1)
	e.clock.Advance(4 * time.Hour)
	e.waitResult(tr.ID, "skipped: no published version")
	if e.exec.count() != 0 {
		t.Fatal("queued without a published version")
	}
	e.publish(wf)
	e.settle(1)
	e.clock.Advance(24 * time.Hour)
	e.waitResult(tr.ID, "queued exec-a")

	// Deleting the workflow (the workflows actor tells the supervisor) stops it.
	ids, err := e.store.DeleteWorkflow(wf, nil)
	if err != nil || len(ids) != 1 {
		t.Fatalf("delete workflow: %v %v", ids, err)
	}
	e.sys.actors.Root.Send(e.sup, &triggersRemoved{ids: ids})
	e.settle(0)
}

func TestTriggerWebhookChecks(t *testing.T) {
	e := newTrigEnv(t)
	wf := e.workflow(true)
	hook := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerWebhook,
		Config: `{"secret":"k","rateLimit":2}`, Enabled: true})
	if hook.HasSecret != true || hook.WebhookPath != WebhookPathPrefix+hook.ID || hook.Config != `{"rateLimit":2}` {
		t.Fatalf("webhook = %+v", hook)
	}
	sig := func(body string) string {
		m := hmac.New(sha256.New, []byte("k"))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	body := `{"x":1}`
	for _, c := range []struct {
		name string
		msg  *messages.FireWebhook
		code messages.Code
	}{
		{"unknown", &messages.FireWebhook{TriggerID: "nope"}, messages.CodeNotFound},
		{"no signature", &messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body)}, messages.CodeUnauthorized},
		{"bad signature", &messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body), Signature: sig("other")}, messages.CodeUnauthorized},
		{"not hex", &messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body), Signature: "sha256=zz"}, messages.CodeUnauthorized},
		{"bad json", &messages.FireWebhook{TriggerID: hook.ID, Body: []byte("{x"), Signature: sig("{x")}, messages.CodeValidation},
	} {
		if _, err := e.ask(c.msg); messages.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	// Good calls are forwarded with the caller as sender: the answer comes
	// from the executions owner.
	for i := 0; i < 2; i++ {
		res, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body), Signature: sig(body), DedupeKey: "d"})
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := res.(*messages.ExecutionCreated); !ok || string(c.Execution.Input) != body {
			t.Fatalf("reply %+v", res)
		}
	}
	if m := e.exec.got[0]; m.DedupeKey != "d" || m.TriggerID == nil || *m.TriggerID != hook.ID || m.TriggeredBy != nil {
		t.Fatalf("CreateExecution = %+v", m)
	}
	// Rate limit: 2 per minute → the third waits 30 s.
	res, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body), Signature: sig(body)})
	th, ok := res.(*messages.WebhookThrottled)
	if err != nil || !ok || th.RetryAfter != 30*time.Second {
		t.Fatalf("throttle: %+v %v", res, err)
	}
	e.clock.Advance(30 * time.Second)
	if res, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body), Signature: sig(body)}); err != nil {
		t.Fatal(err)
	} else if _, ok := res.(*messages.ExecutionCreated); !ok {
		t.Fatalf("after refill: %+v", res)
	}
	// Disabled → FORBIDDEN; a schedule → VALIDATION_ERROR; unpublished → NO_PUBLISHED_VERSION.
	off := false
	if _, err := e.ask(&messages.UpdateTrigger{ID: hook.ID, Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body), Signature: sig(body)}); messages.ErrorCode(err) != messages.CodeForbidden {
		t.Fatalf("disabled: %v", err)
	}
	sched := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerSchedule, Config: `{"cron":"@hourly"}`, Enabled: true})
	if _, err := e.ask(&messages.FireWebhook{TriggerID: sched.ID}); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("schedule as webhook: %v", err)
	}
	open := e.create(&messages.CreateTrigger{WorkflowID: e.workflow(false), Type: messages.TriggerWebhook, Config: `{}`, Enabled: true})
	if _, err := e.ask(&messages.FireWebhook{TriggerID: open.ID}); messages.ErrorCode(err) != messages.CodeNoPublished {
		t.Fatalf("unpublished: %v", err)
	}
}

func TestParseTriggerConfig(t *testing.T) {
	tests := []struct {
		name   string
		typ    messages.TriggerType
		config string
		ok     bool
	}{
		{"five fields", messages.TriggerSchedule, `{"cron":"*/15 8-18 * * MON-FRI"}`, true},
		{"descriptor", messages.TriggerSchedule, `{"cron":"@weekly"}`, true},
		{"every", messages.TriggerSchedule, `{"cron":"@every 90s"}`, true},
		{"every second", messages.TriggerSchedule, `{"cron":"@every 1s"}`, true},
		{"every zero", messages.TriggerSchedule, `{"cron":"@every 0s"}`, false},
		{"every negative", messages.TriggerSchedule, `{"cron":"@every -1h"}`, false},
		{"every nanosecond", messages.TriggerSchedule, `{"cron":"@every 1ns"}`, false},
		{"schedule with a secret", messages.TriggerSchedule, `{"cron":"@daily","secret":"s"}`, false},
		{"zone", messages.TriggerSchedule, `{"cron":"0 0 * * *","timezone":"Asia/Tokyo"}`, true},
		{"six fields", messages.TriggerSchedule, `{"cron":"0 0 0 * * *"}`, false},
		{"garbage", messages.TriggerSchedule, `{"cron":"every day"}`, false},
		{"missing cron", messages.TriggerSchedule, `{}`, false},
		{"bad zone", messages.TriggerSchedule, `{"cron":"@daily","timezone":"Nowhere/City"}`, false},
		{"tz prefix", messages.TriggerSchedule, `{"cron":"CRON_TZ=UTC 0 0 * * *"}`, false},
		{"bad priority", messages.TriggerSchedule, `{"cron":"@daily","priority":"ASAP"}`, false},
		{"not an object", messages.TriggerWebhook, `"x"`, false},
		{"webhook empty", messages.TriggerWebhook, `{}`, true},
		{"webhook rate", messages.TriggerWebhook, `{"rateLimit":60,"secret":"s"}`, true},
		{"webhook rate fraction", messages.TriggerWebhook, `{"rateLimit":1.5}`, false},
		{"webhook secret number", messages.TriggerWebhook, `{"secret":5}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := parseNewTriggerConfig(tt.typ, tt.config, "")
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && messages.ErrorCode(err) != messages.CodeValidation {
				t.Fatalf("code %s", messages.ErrorCode(err))
			}
			if err == nil && tt.typ == messages.TriggerWebhook && set.public == tt.config && set.secret != "" {
				t.Fatal("the public config keeps the secret")
			}
		})
	}
	// Rules added later refuse new configs only: stored ones still load.
	for _, c := range []string{`{"cron":"@every 0s"}`, `{"cron":"@daily","secret":"s"}`} {
		if _, err := parseTriggerConfig(messages.TriggerSchedule, c, ""); err != nil {
			t.Fatalf("stored config %s no longer loads: %v", c, err)
		}
	}
	// A config without "secret" keeps the old one; "" clears it.
	if set, _ := parseTriggerConfig(messages.TriggerWebhook, `{"rateLimit":1}`, "old"); set.secret != "old" {
		t.Fatalf("kept secret %q", set.secret)
	}
	if set, _ := parseTriggerConfig(messages.TriggerWebhook, `{"secret":""}`, "old"); set.secret != "" {
		t.Fatalf("cleared secret %q", set.secret)
	}
}

// TestTriggerWebhookInvalidUTF8 checks docs/api.md, "Details clients depend on": a webhook body that is not
// valid UTF-8 is invalid JSON (encoding/json alone lets it through inside a
// string), refused before anything is sent to the executions owner.
func TestTriggerWebhookInvalidUTF8(t *testing.T) {
	e := newTrigEnv(t)
	wf := e.workflow(true)
	hook := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerWebhook, Config: `{}`, Enabled: true})
	for _, body := range []string{"{\"a\":\"\xff\xfe\"}", "\"\xc3\x28\"", "[\"\xed\xa0\x80\"]", " {\"a\":\"\xf4\x90\x80\x80\"} "} {
		_, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(body)})
		if messages.ErrorCode(err) != messages.CodeValidation {
			t.Errorf("body %q: %v, want VALIDATION_ERROR", body, err)
		}
	}
	if n := e.exec.count(); n != 0 {
		t.Fatalf("%d executions requested for invalid UTF-8 bodies", n)
	}
	if _, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(`{"a":"Zoë ✓"}`)}); err != nil {
		t.Fatalf("valid UTF-8: %v", err)
	}
}

// TestTriggerWebhookSignsRawBody checks docs/api.md, "Conventions": the HMAC is over the raw
// body, whitespace included; a blank body is no input.
func TestTriggerWebhookSignsRawBody(t *testing.T) {
	e := newTrigEnv(t)
	wf := e.workflow(true)
	hook := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerWebhook, Config: `{"secret":"k"}`, Enabled: true})
	sig := func(body string) string {
		m := hmac.New(sha256.New, []byte("k"))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	for _, c := range []struct{ body, input string }{
		{" ", ""}, {"\r\n\t", ""}, {" {\"a\":1}\n", `{"a":1}`},
	} {
		res, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(c.body), Signature: sig(c.body)})
		if err != nil {
			t.Fatalf("body %q: %v", c.body, err)
		}
		if got := res.(*messages.ExecutionCreated).Execution.Input; string(got) != c.input || (c.input == "" && got != nil) {
			t.Fatalf("body %q: input %q, want %q", c.body, got, c.input)
		}
	}
	if _, err := e.ask(&messages.FireWebhook{TriggerID: hook.ID, Body: []byte(" "), Signature: sig("")}); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("signature of the trimmed body: %v, want UNAUTHORIZED", err)
	}
}

// TestTriggerConfigKeptAsSent checks docs/api.md, "Conventions": the config comes back as the
// client sent it, except that a webhook's write-only secret is taken out
// (the rest compacted, in its order, keys spelt as sent).
func TestTriggerConfigKeptAsSent(t *testing.T) {
	for _, c := range []struct {
		typ          messages.TriggerType
		config, want string
	}{
		{messages.TriggerSchedule, `{"cron": "0 9 * * 1-5"}`, `{"cron": "0 9 * * 1-5"}`},
		{messages.TriggerSchedule, "{\"timezone\":\"UTC\",\n \"cron\":\"@daily\" } ", "{\"timezone\":\"UTC\",\n \"cron\":\"@daily\" } "},
		{messages.TriggerWebhook, `{"rateLimit": 5, "zeta": {"b": 1, "a": [1, 2]}}`, `{"rateLimit": 5, "zeta": {"b": 1, "a": [1, 2]}}`},
		{messages.TriggerWebhook, `{"secret":"s"}`, `{}`},
		{messages.TriggerWebhook, `{ "secret" : null }`, `{}`},
		{messages.TriggerWebhook, `{"rateLimit": 5, "secret": "s", "priority": "HIGH"}`, `{"rateLimit":5,"priority":"HIGH"}`},
		{messages.TriggerWebhook, `{"secret": "s", "z\u00e9": {"b": 1, "a": [1, 2]}, "a":1}`, `{"z\u00e9":{"b":1,"a":[1,2]},"a":1}`},
		{messages.TriggerWebhook, `{"secr\u0065t": "s", "x": "secret", "secret": "t"}`, `{"x":"secret"}`},
	} {
		set, err := parseTriggerConfig(c.typ, c.config, "")
		if err != nil {
			t.Fatalf("%s: %v", c.config, err)
		}
		if set.public != c.want {
			t.Errorf("%s: public %q, want %q", c.config, set.public, c.want)
		}
	}
	// The actor answers and stores the text so.
	e := newTrigEnv(t)
	wf := e.workflow(false)
	tr := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerSchedule, Config: `{"cron": "0 9 * * 1-5"}`, Enabled: true})
	got, err := e.store.GetTrigger(tr.ID)
	if err != nil || tr.Config != `{"cron": "0 9 * * 1-5"}` || got.Config != tr.Config {
		t.Fatalf("answered %q, stored %+v %v", tr.Config, got, err)
	}
}

// TestTriggerConfigUpdateKeepsPriority checks that a config update keeps
// the trigger's priority unless the update (top-level or in the config)
// sets one, and that schedule fires use the kept priority.
func TestTriggerConfigUpdateKeepsPriority(t *testing.T) {
	e := newTrigEnv(t)
	wf := e.workflow(true)
	high, normal := messages.PriorityHigh, messages.PriorityNormal
	hook := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerWebhook, Config: `{"rateLimit":10}`, Enabled: true, Priority: &high})
	cfg := func(s string) *string { return &s }
	for i, c := range []struct {
		msg  *messages.UpdateTrigger
		want messages.Priority
	}{
		{&messages.UpdateTrigger{Config: cfg(`{"rateLimit":20}`)}, messages.PriorityHigh},
		{&messages.UpdateTrigger{Config: cfg(`{"rateLimit":20,"priority":null}`)}, messages.PriorityHigh},
		{&messages.UpdateTrigger{Config: cfg(`{"rateLimit":20,"priority":"low"}`)}, messages.PriorityLow},
		{&messages.UpdateTrigger{Config: cfg(`{}`)}, messages.PriorityLow},
		{&messages.UpdateTrigger{Config: cfg(`{"priority":"LOW"}`), Priority: &normal}, messages.PriorityNormal},
	} {
		c.msg.ID = hook.ID
		res, err := e.ask(c.msg)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		stored, err := e.store.GetTrigger(hook.ID)
		if err != nil || res.(*messages.Trigger).Priority != c.want || stored.Priority != c.want {
			t.Fatalf("step %d: answered %s, stored %+v %v, want %s", i, res.(*messages.Trigger).Priority, stored, err, c.want)
		}
	}
	sched := e.create(&messages.CreateTrigger{WorkflowID: wf, Type: messages.TriggerSchedule, Config: `{"cron":"*/5 * * * *"}`, Enabled: true, Priority: &high})
	if _, err := e.ask(&messages.UpdateTrigger{ID: sched.ID, Config: cfg(`{"cron":"*/10 * * * *"}`)}); err != nil {
		t.Fatal(err)
	}
	e.settle(1)
	e.clock.Advance(8 * time.Minute) // 10:10
	e.waitResult(sched.ID, "queued exec-a")
	if p := e.exec.got[0].Priority; p != messages.PriorityHigh {
		t.Fatalf("schedule fired with priority %s, want HIGH", p)
	}
}

// gatedDispatcher runs an actor's mailbox only once open is closed, so a
// test can queue messages before the actor handles Started.
type gatedDispatcher struct{ open chan struct{} }

func (d gatedDispatcher) Schedule(fn func()) { go func() { <-d.open; fn() }() }
func (d gatedDispatcher) Throughput() int    { return 300 }

// A trigger actor that finds its record gone when it starts (a restart
// after a delete) answers the requests already in its mailbox NOT_FOUND
// and stops; it stopped at once before, leaving them to dead letters (a
// 500 for an HTTP caller).
func TestTriggerActorOfADeletedTriggerAnswersItsMailbox(t *testing.T) {
	e := newTrigEnv(t)
	gate := gatedDispatcher{open: make(chan struct{})}
	root := e.sys.actors.Root
	pid := root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &triggerActor{sys: e.sys, id: "deleted-trigger"} },
		actor.WithDispatcher(gate)))
	on := true
	update := root.RequestFuture(pid, &messages.UpdateTrigger{ID: "deleted-trigger", Enabled: &on}, 5*time.Second)
	fire := root.RequestFuture(pid, &messages.FireWebhook{TriggerID: "deleted-trigger", Body: []byte(`{}`)}, 5*time.Second)
	close(gate.open)
	for name, f := range map[string]*actor.Future{"update": update, "webhook": fire} {
		res, err := f.Result()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e, ok := res.(error); !ok || messages.ErrorCode(e) != messages.CodeNotFound {
			t.Fatalf("%s answered %T %v, want NOT_FOUND", name, res, res)
		}
	}
	if err := root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
}
