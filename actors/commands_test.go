package actors

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// Every command the actors route declares its reply (messages/command.go)
// or is a notice, and every declared reply is what the real actors answer:
// each command is run through the whole tree with messages.Ask, which
// fails when the answer is not of the declared type. A command whose
// answer drifts, a routed type that declares nothing, or a declared command
// this test does not run all fail here.

// routedTypes are the messages types route (system.go) sends to an owner.
func routedTypes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "system.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "route" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, x := range cc.List {
					if sel, ok := x.(*ast.StarExpr).X.(*ast.SelectorExpr); ok {
						names = append(names, sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
	if len(names) < 40 {
		t.Fatalf("route lists %d types: the parse missed them", len(names))
	}
	sort.Strings(names)
	return names
}

// declared lists the messages types with a Replies method (commands) and
// with a Told method (notices), from messages/command.go.
func declared(t *testing.T) (commands, notices []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../messages/command.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		recv := fn.Recv.List[0].Type.(*ast.StarExpr).X.(*ast.Ident).Name
		switch fn.Name.Name {
		case "Replies":
			commands = append(commands, recv)
		case "Told":
			notices = append(notices, recv)
		}
	}
	sort.Strings(commands)
	sort.Strings(notices)
	return commands, notices
}

func TestEveryRoutedCommandDeclaresItsReply(t *testing.T) {
	commands, notices := declared(t)
	both := append(slices.Clone(commands), notices...)
	sort.Strings(both)
	if routed := routedTypes(t); !slices.Equal(routed, slices.Compact(slices.Clone(both))) || len(both) != len(routed) {
		t.Fatalf("route sends %v;\ncommand.go declares replies of %v and notices %v (each routed type exactly once)", routed, commands, notices)
	}
}

// commandRun asks commands through the real tree and records which ones
// were answered with their declared type.
type commandRun struct {
	e        *execEnv
	answered map[string]bool
}

func askTyped[R any](c *commandRun, cmd messages.Command[R]) R {
	c.e.t.Helper()
	return askTypedTimeout(c, cmd, 10*time.Second)
}

func askTypedTimeout[R any](c *commandRun, cmd messages.Command[R], timeout time.Duration) R {
	c.e.t.Helper()
	r, err := messages.AskTimeout(c.e.sys, cmd, timeout)
	if err != nil {
		c.e.t.Fatalf("%T: %v", cmd, err)
	}
	if v := reflect.ValueOf(r); !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		c.e.t.Fatalf("%T answered nil", cmd)
	}
	c.answered[reflect.TypeOf(cmd).Elem().Name()] = true
	return r
}

func TestEveryCommandAnswersItsDeclaredReply(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError) // every delivery fails: it can be retried
	}))
	defer hook.Close()
	e := startTestEnv(t, testDate, withConfig(func(c *Config) { c.OutboundAllowLoopback = true }))
	c := &commandRun{e: e, answered: map[string]bool{}}
	now := e.clock.Now()

	// License and accounts.
	askTyped(c, &messages.ActivateLicense{Text: e.license("a@example.com", 365*24*time.Hour, 0, messages.LicenseLimits{})})
	askTyped(c, &messages.ValidateLicense{})
	askTyped(c, &messages.ReplaceLicense{Text: e.license("a@example.com", 400*24*time.Hour, 0, messages.LicenseLimits{})})
	admin := askTyped(c, &messages.Bootstrap{Email: "a@example.com", Name: "A", PasswordHash: "h"})
	user := askTyped(c, &messages.CreateUser{Email: "b@example.com", Name: "B", Role: messages.RoleOperator, PasswordHash: "h"})
	name := "Bee"
	askTyped(c, &messages.UpdateUser{ID: user.ID, Name: &name})
	askTyped(c, &messages.ChangePassword{UserID: user.ID, PasswordHash: "h2"})
	askTyped(c, &messages.RevokeToken{TokenID: "token-1", ExpiresAt: messages.TimeOf(now.Add(time.Hour))})
	if gate := askTyped(c, &messages.BeginLogin{Email: admin.Email}); reflect.TypeOf(gate) != reflect.TypeOf(&messages.Ack{}) {
		t.Fatalf("an unthrottled login answered %T", gate)
	}
	askTyped(c, &messages.RecordLogin{UserID: admin.ID, Email: admin.Email, Success: true})
	askTyped(c, &messages.RecordAudit{Entry: *e.sys.AuditEntry(messages.Origin{ActorType: messages.ActorSystem}, "test", "system", "", "")})
	key := messages.NewAPIKeyText()
	k := askTyped(c, &messages.CreateAPIKey{UserID: admin.ID, Name: "k", Role: messages.RoleAdmin,
		ExpiresAt: messages.TimeOf(now.Add(24 * time.Hour)), Hash: messages.HashAPIKey(key), Prefix: key[:messages.APIKeyPrefixLen]})
	askTyped(c, &messages.RevokeAPIKey{ID: k.ID, Requester: admin.ID, AsAdmin: true})

	// Workflows, triggers and assets.
	wf := askTyped(c, &messages.CreateWorkflow{Name: "typed"})
	desc := "d"
	askTyped(c, &messages.UpdateWorkflow{ID: wf.ID, Description: &desc})
	askTyped(c, &messages.SaveDraft{WorkflowID: wf.ID, GraphJSON: `{"nodes":[{"id":"a","type":"start"}],"edges":[]}`})
	askTyped(c, &messages.PublishLatest{WorkflowID: wf.ID})
	gone := askTyped(c, &messages.CreateWorkflow{Name: "gone"})
	askTyped(c, &messages.DeleteWorkflow{ID: gone.ID})
	trig := askTyped(c, &messages.CreateTrigger{WorkflowID: wf.ID, Type: messages.TriggerWebhook, Config: `{}`, Enabled: true})
	on := true
	askTyped(c, &messages.UpdateTrigger{ID: trig.ID, Enabled: &on})
	fired := askTyped(c, &messages.FireWebhook{TriggerID: trig.ID, Body: []byte(`{"n":1}`)})
	if _, ok := fired.(*messages.ExecutionCreated); !ok {
		t.Fatalf("a webhook answered %T", fired)
	}
	askTyped(c, &messages.DeleteTrigger{ID: trig.ID})
	value := "v"
	asset := askTyped(c, &messages.CreateAsset{Name: "typed", Type: messages.AssetText, Value: &value})
	askTyped(c, &messages.UpdateAsset{ID: asset.ID, Description: &desc})
	askTyped(c, &messages.DeleteAsset{ID: asset.ID})

	// Runners and executions: the webhook's execution is claimed straight
	// from the dispatcher, the next one polled by a runner, a third stopped
	// while queued; then the queue is empty.
	run := askTyped(c, &messages.RegisterRunner{Name: "typed-1"})
	askTyped(c, &messages.Heartbeat{RunnerID: run.ID})
	askTyped(c, &messages.SetRunnerLabels{ID: run.ID, Labels: []string{}})
	askTyped(c, &messages.RegenerateSecret{ID: run.ID})
	if got := askTyped(c, &messages.ClaimWork{RunnerID: "claimer"}); reflect.TypeOf(got) != reflect.TypeOf(&messages.Execution{}) {
		t.Fatalf("a claim with work queued answered %T", got)
	}
	created := askTyped(c, &messages.CreateExecution{WorkflowID: wf.ID})
	if w := askTyped(c, &messages.ExplainWaiting{ID: created.Execution.ID}); w.Position != 1 {
		t.Fatalf("waiting: %+v", w)
	}
	poll := askTyped(c, &messages.PollWork{RunnerID: run.ID})
	if poll.Execution == nil || poll.Execution.ID != created.Execution.ID {
		t.Fatalf("poll: %+v", poll)
	}
	askTyped(c, &messages.HandOverAssets{ExecutionID: poll.Execution.ID, RunnerID: run.ID})
	askTyped(c, &messages.ReportStatus{ExecutionID: poll.Execution.ID, RunnerID: run.ID, Status: messages.ExecRunning})
	queued := askTyped(c, &messages.CreateExecution{WorkflowID: wf.ID})
	askTyped(c, &messages.StopExecution{ID: queued.Execution.ID})
	if got := askTyped(c, &messages.ClaimWork{RunnerID: "claimer-2"}); reflect.TypeOf(got) != reflect.TypeOf(&messages.NoWork{}) {
		t.Fatalf("a claim on an empty queue answered %T", got)
	}
	att := askTyped(c, &messages.RegisterRunner{Name: "typed-2", Type: messages.RunnerAttended})
	askTyped(c, &messages.Heartbeat{RunnerID: att.ID})
	askTyped(c, &messages.StartAttended{RunnerID: att.ID, WorkflowID: wf.ID})
	askTyped(c, &messages.DeleteRunner{ID: att.ID}) // its running execution fails first

	// Subscriptions and deliveries (the target refuses: the delivery fails
	// and can be retried).
	sub := askTyped(c, &messages.CreateSubscription{URL: hook.URL, Events: []string{"*"}})
	askTyped(c, &messages.UpdateSubscription{ID: sub.ID, Change: messages.SubscriptionChange{Description: &desc}})
	askTyped(c, &messages.RotateSubscriptionSecret{ID: sub.ID})
	d := askTypedTimeout(c, &messages.TestSubscription{ID: sub.ID}, 20*time.Second)
	askTypedTimeout(c, &messages.RetryDelivery{SubscriptionID: sub.ID, DeliveryID: d.ID}, 20*time.Second)
	askTyped(c, &messages.DeleteSubscription{ID: sub.ID})

	commands, _ := declared(t)
	var missed []string
	for _, name := range commands {
		if !c.answered[name] {
			missed = append(missed, name)
		}
	}
	if len(missed) > 0 {
		t.Fatalf("commands never run here (add them above): %v", missed)
	}
}
