package loadgen

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeServer is a tiny in-memory stand-in for the orchestrator: just enough
// of the API's endpoints for the scenarios, with the same shapes.
type fakeServer struct {
	mu         sync.Mutex
	seq        int
	runners    map[string]*fakeRunner // by token
	runnerByID map[string]*fakeRunner
	secrets    map[string]string // machineKey -> secret
	keys       map[string]string // machineKey -> runner id
	execs      map[string]*fakeExec
	order      []string // creation order
	queue      []string
	triggers   map[string]string // trigger id -> workflow id
	published  map[string]bool
	// idempotency maps workflow id + "/" + Idempotency-Key to an execution.
	idempotency map[string]string
	waiters     chan struct{} // closed and replaced when work is queued

	// doubleAssign makes the fake hand every execution to two runners, to
	// prove the checks catch it.
	doubleAssign bool
	// ignorePriority makes the queue plain first in first out.
	ignorePriority bool
}

type fakeRunner struct {
	id, name, status, current string
	beatAt                    string
}

type fakeExec struct {
	ID          string          `json:"id"`
	WorkflowID  string          `json:"workflowId"`
	RunnerID    *string         `json:"runnerId"`
	TriggerID   *string         `json:"triggerId"`
	Status      string          `json:"status"`
	Priority    string          `json:"priority"`
	StartedAt   *string         `json:"startedAt"`
	CompletedAt *string         `json:"completedAt"`
	Input       json.RawMessage `json:"input,omitempty"`
}

func newFakeServer() *fakeServer {
	return &fakeServer{
		runners: map[string]*fakeRunner{}, runnerByID: map[string]*fakeRunner{}, secrets: map[string]string{},
		keys: map[string]string{}, execs: map[string]*fakeExec{}, triggers: map[string]string{},
		published: map[string]bool{}, waiters: make(chan struct{}), idempotency: map[string]string{},
	}
}

// start serves the fake on a loopback port until the test ends.
func (f *fakeServer) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: f.handle}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func (f *fakeServer) nextID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%06d", prefix, f.seq)
}

func reply(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(v)
	ctx.SetBody(b)
}

func (f *fakeServer) runnerFor(ctx *fasthttp.RequestCtx) *fakeRunner {
	tok := strings.TrimPrefix(string(ctx.Request.Header.Peek("Authorization")), "Bearer ")
	return f.runners[tok]
}

func (f *fakeServer) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	method := string(ctx.Method())
	var in map[string]any
	_ = json.Unmarshal(ctx.PostBody(), &in)
	str := func(k string) string { s, _ := in[k].(string); return s }
	now := time.Now().UTC().Format(time.RFC3339)

	if strings.HasPrefix(path, "/api/runners/poll") {
		f.poll(ctx)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case path == "/api/health":
		reply(ctx, 200, map[string]string{"status": "ok"})
	case path == "/api/license/activate":
		if str("license") != fakeLicense {
			reply(ctx, 400, map[string]string{"error": "bad license", "code": "VALIDATION_ERROR"})
			return
		}
		reply(ctx, 200, map[string]any{"activated": true, "status": "ACTIVE"})
	case path == "/api/auth/bootstrap":
		if str("email") != loadEmail || str("password") == "" {
			reply(ctx, 400, map[string]string{"error": "bad bootstrap", "code": "VALIDATION_ERROR"})
			return
		}
		ctx.Response.Header.Set("Set-Cookie", "token=admin; Path=/; HttpOnly; SameSite=Lax")
		reply(ctx, 201, map[string]any{"user": map[string]string{"id": "u1"}})
	case path == "/api/auth/login":
		ctx.Response.Header.Set("Set-Cookie", "token=admin; Path=/; HttpOnly")
		reply(ctx, 200, map[string]any{"user": map[string]string{"id": "u1"}})
	case path == "/api/workflows" && method == "POST":
		id := f.nextID("wf")
		reply(ctx, 201, map[string]any{"workflow": map[string]string{"id": id}})
	case strings.HasSuffix(path, "/draft"):
		reply(ctx, 201, map[string]any{"version": map[string]string{"id": f.nextID("v")}})
	case strings.HasSuffix(path, "/publish"):
		f.published[strings.Split(path, "/")[3]] = true
		reply(ctx, 200, map[string]any{"version": map[string]string{}})
	case path == "/api/runners/register":
		id, key := f.nextID("r"), f.nextID("FC-")
		f.secrets[key], f.keys[key] = "s"+key, id
		f.runnerByID[id] = &fakeRunner{id: id, name: str("name"), status: "OFFLINE"}
		reply(ctx, 201, map[string]string{"id": id, "name": str("name"), "machineKey": key, "machineSecret": "s" + key, "type": "UNATTENDED"})
	case path == "/api/runners/authenticate":
		key := str("machineKey")
		if f.secrets[key] == "" || f.secrets[key] != str("machineSecret") {
			reply(ctx, 401, map[string]string{"error": "bad credentials", "code": "UNAUTHORIZED"})
			return
		}
		tok := "rt-" + key
		f.runners[tok] = f.runnerByID[f.keys[key]]
		reply(ctx, 200, map[string]any{"token": tok, "expiresAt": now, "runner": map[string]string{"id": f.keys[key]}})
	case path == "/api/runners/heartbeat":
		r := f.runnerFor(ctx)
		if r == nil {
			reply(ctx, 401, map[string]string{"error": "no", "code": "UNAUTHORIZED"})
			return
		}
		if r.current == "" {
			r.status = "ONLINE"
		}
		r.beatAt = now
		reply(ctx, 200, map[string]any{"status": r.status, "ttlSeconds": 120, "stopExecutionIds": []string{}})
	case strings.HasPrefix(path, "/api/runners/") && method == "GET":
		r := f.runnerByID[strings.TrimPrefix(path, "/api/runners/")]
		if r == nil {
			reply(ctx, 404, map[string]string{"error": "no", "code": "NOT_FOUND"})
			return
		}
		reply(ctx, 200, map[string]any{"runner": map[string]any{"id": r.id, "status": r.status, "lastHeartbeatAt": r.beatAt}})
	case path == "/api/runners" && method == "GET":
		n := 0
		for _, r := range f.runnerByID {
			if s := string(ctx.QueryArgs().Peek("status")); s == "" || s == r.status {
				n++
			}
		}
		reply(ctx, 200, map[string]any{"runners": []any{}, "pagination": map[string]int{"total": n}})
	case path == "/api/executions" && method == "POST":
		wf := str("workflowId")
		if !f.published[wf] {
			reply(ctx, 409, map[string]string{"error": "no", "code": "NO_PUBLISHED_VERSION"})
			return
		}
		key := string(ctx.Request.Header.Peek("Idempotency-Key"))
		if id, seen := f.idempotency[wf+"/"+key]; seen && key != "" {
			reply(ctx, 200, map[string]any{"execution": f.execs[id]})
			return
		}
		x := f.enqueue(wf, str("priority"), nil, nil)
		if key != "" {
			f.idempotency[wf+"/"+key] = x.ID
		}
		reply(ctx, 201, map[string]any{"execution": x})
	case path == "/api/executions/stats":
		st := map[string]int{"total": len(f.execs)}
		for _, s := range executionStatuses {
			st[strings.ToLower(s)] = 0
		}
		for _, x := range f.execs {
			st[strings.ToLower(x.Status)]++
		}
		reply(ctx, 200, st)
	case path == "/api/executions" && method == "GET":
		n := 0
		for _, x := range f.execs {
			q := ctx.QueryArgs()
			if s := string(q.Peek("status")); s != "" && s != x.Status {
				continue
			}
			if w := string(q.Peek("workflowId")); w != "" && w != x.WorkflowID {
				continue
			}
			n++
		}
		reply(ctx, 200, map[string]any{"executions": []any{}, "pagination": map[string]int{"page": 1, "limit": 1, "total": n}})
	case strings.HasSuffix(path, "/status") && strings.HasPrefix(path, "/api/executions/"):
		r := f.runnerFor(ctx)
		x := f.execs[strings.Split(path, "/")[3]]
		if r == nil || x == nil || x.RunnerID == nil || *x.RunnerID != r.id {
			reply(ctx, 403, map[string]string{"error": "not yours", "code": "FORBIDDEN"})
			return
		}
		switch {
		case str("status") == "RUNNING" && x.Status == "ASSIGNED":
			x.Status, x.StartedAt = "RUNNING", &now
		case str("status") == "COMPLETED" && x.Status == "RUNNING":
			x.Status, x.CompletedAt = "COMPLETED", &now
			r.current, r.status = "", "ONLINE"
		default:
			reply(ctx, 409, map[string]string{"error": "bad transition", "code": "INVALID_TRANSITION"})
			return
		}
		reply(ctx, 200, map[string]any{"execution": x})
	case strings.HasPrefix(path, "/api/executions/"):
		x := f.execs[strings.TrimPrefix(path, "/api/executions/")]
		if x == nil {
			reply(ctx, 404, map[string]string{"error": "no", "code": "NOT_FOUND"})
			return
		}
		reply(ctx, 200, map[string]any{"execution": x})
	case path == "/api/triggers":
		id := f.nextID("trg")
		f.triggers[id] = str("workflowId")
		var config struct {
			Secret string `json:"secret"`
		}
		_ = json.Unmarshal([]byte(str("config")), &config)
		f.secrets[id] = config.Secret
		reply(ctx, 201, map[string]any{"trigger": map[string]string{"id": id}})
	case strings.HasPrefix(path, "/api/triggers/webhook/"):
		id := strings.TrimPrefix(path, "/api/triggers/webhook/")
		wf, ok := f.triggers[id]
		if !ok {
			reply(ctx, 404, map[string]string{"error": "no", "code": "NOT_FOUND"})
			return
		}
		if secret := f.secrets[id]; secret != "" &&
			string(ctx.Request.Header.Peek("X-Exekra-Signature")) != webhookSignature(secret, ctx.PostBody()) {
			reply(ctx, 401, map[string]string{"error": "bad signature", "code": "UNAUTHORIZED"})
			return
		}
		x := f.enqueue(wf, "", &id, append(json.RawMessage(nil), ctx.PostBody()...))
		reply(ctx, 200, map[string]any{"success": true, "executionId": x.ID})
	default:
		reply(ctx, 404, map[string]string{"error": "unknown path " + path, "code": "NOT_FOUND"})
	}
}

// enqueue creates a QUEUED execution and wakes long polls; f.mu is held.
func (f *fakeServer) enqueue(wf, priority string, trigger *string, input json.RawMessage) *fakeExec {
	if priority == "" {
		priority = "NORMAL"
	}
	x := &fakeExec{ID: f.nextID("ex"), WorkflowID: wf, TriggerID: trigger, Status: "QUEUED", Priority: priority, Input: input}
	f.execs[x.ID] = x
	f.order = append(f.order, x.ID)
	// HIGH before NORMAL before LOW, first in first out within a priority.
	weight := map[string]int{"HIGH": 0, "NORMAL": 1, "LOW": 2}
	at := len(f.queue)
	for at > 0 && !f.ignorePriority && weight[f.execs[f.queue[at-1]].Priority] > weight[priority] {
		at--
	}
	f.queue = append(f.queue[:at], append([]string{x.ID}, f.queue[at:]...)...)
	close(f.waiters)
	f.waiters = make(chan struct{})
	return x
}

// poll hands out the head of the queue, holding up to ?wait= seconds.
func (f *fakeServer) poll(ctx *fasthttp.RequestCtx) {
	wait := time.Duration(ctx.QueryArgs().GetUintOrZero("wait")) * time.Second
	deadline := time.Now().Add(wait)
	for {
		f.mu.Lock()
		r := f.runnerFor(ctx)
		if r == nil {
			f.mu.Unlock()
			reply(ctx, 401, map[string]string{"error": "no", "code": "UNAUTHORIZED"})
			return
		}
		if r.current != "" { // same assignment again
			x := f.execs[r.current]
			f.mu.Unlock()
			reply(ctx, 200, map[string]any{"hasWork": true, "execution": map[string]string{"id": x.ID, "workflowId": x.WorkflowID}})
			return
		}
		if len(f.queue) > 0 {
			x := f.execs[f.queue[0]]
			if !f.doubleAssign || x.Status == "ASSIGNED" {
				f.queue = f.queue[1:]
			}
			id := r.id
			x.Status, x.RunnerID, r.current, r.status = "ASSIGNED", &id, x.ID, "BUSY"
			f.mu.Unlock()
			reply(ctx, 200, map[string]any{"hasWork": true, "execution": map[string]string{"id": x.ID, "workflowId": x.WorkflowID}})
			return
		}
		ch := f.waiters
		f.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			reply(ctx, 200, map[string]any{"hasWork": false, "stopExecutionIds": []string{}})
			return
		}
		select {
		case <-ch:
		case <-time.After(left):
		}
	}
}
