package httpd

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// maxPollWait is the longest long poll (the OpenAPI document).
const maxPollWait = 60

// pollMargin is how much longer than its wait a poll may take to answer.
const pollMargin = 10 * time.Second

// idlePollBody is the answer of a poll with nothing to do and nothing to
// stop: the hot path writes it without encoding anything.
var idlePollBody = []byte(`{"hasWork":false,"stopExecutionIds":[]}` + "\n")

// runnerRegisterBody is the body of POST /api/runners/register.
type runnerRegisterBody struct {
	Name   *string              `json:"name"`
	Type   *messages.RunnerType `json:"type"`
	Labels []string             `json:"labels"`
}

// runnerPatchBody is the body of PATCH /api/runners/:id.
type runnerPatchBody struct {
	Labels []string `json:"labels"`
}

// machineCredentials are a runner's key and secret, in authenticate,
// heartbeat and poll bodies.
type machineCredentials struct {
	MachineKey    *string `json:"machineKey"`
	MachineSecret *string `json:"machineSecret"`
}

// heartbeatBody is the body of POST /api/runners/heartbeat.
type heartbeatBody struct {
	machineCredentials
	IPAddress *string         `json:"ipAddress"`
	Metrics   json.RawMessage `json:"metrics"`
}

// attendedBody is the body of POST /api/runners/executions.
type attendedBody struct {
	WorkflowID *string         `json:"workflowId"`
	Input      json.RawMessage `json:"input"`
}

// workItem is the execution a poll hands to a runner.
type workItem struct {
	ID           string          `json:"id"`
	WorkflowID   string          `json:"workflowId"`
	WorkflowName string          `json:"workflowName"`
	VersionID    string          `json:"versionId"`
	GraphJSON    string          `json:"graphJson"`
	Input        json.RawMessage `json:"input"`
	// Assets repeats the answer's assets (for runners that keep only the execution).
	Assets messages.AssetBundle `json:"assets,omitempty"`
}

// pollAnswer is the unwrapped answer of a poll.
type pollAnswer struct {
	HasWork          bool      `json:"hasWork"`
	Execution        *workItem `json:"execution,omitempty"`
	StopExecutionIDs []string  `json:"stopExecutionIds"`
	// Assets are the values of the assets the execution's version
	// references (docs/api.md, "Assets"): only in the answer that hands the
	// execution over, only when it references some.
	Assets messages.AssetBundle `json:"assets,omitempty"`
}

func (s *Server) registerRunner(ctx *fasthttp.RequestCtx, r *request) error {
	var b runnerRegisterBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("name", b.Name); err != nil {
		return err
	}
	name, err := messages.CleanName(*b.Name, maxDisplayName)
	if err != nil {
		return err
	}
	typ := messages.RunnerUnattended
	if b.Type != nil {
		typ = *b.Type
		if !messages.ValidRunnerType(typ) {
			return messages.Invalid("type must be ATTENDED or UNATTENDED")
		}
	}
	labels, err := messages.NormalizeLabels("labels", b.Labels)
	if err != nil {
		return err
	}
	res, err := messages.Ask(s.core, &messages.RegisterRunner{Name: name, Type: typ, Labels: labels, Origin: r.origin()})
	if err != nil {
		return err
	}
	NoStore(ctx)
	writeJSON(ctx, fasthttp.StatusCreated, res)
	return nil
}

// credentialsRunner authenticates machine credentials and returns the
// runner id and its secret epoch. Missing or wrong credentials are 401.
func (s *Server) credentialsRunner(c machineCredentials) (string, int64, error) {
	if c.MachineKey == nil || c.MachineSecret == nil || *c.MachineKey == "" || *c.MachineSecret == "" {
		return "", 0, messages.Errorf(messages.CodeUnauthorized, "a runner token or machineKey and machineSecret are required")
	}
	return s.core.RunnerByCredentials(*c.MachineKey, *c.MachineSecret)
}

func (s *Server) authenticateRunner(ctx *fasthttp.RequestCtx, r *request) error {
	var b machineCredentials
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if b.MachineKey == nil || b.MachineSecret == nil {
		return messages.Invalid("machineKey and machineSecret are required")
	}
	id, epoch, err := s.credentialsRunner(b)
	if err != nil {
		return err
	}
	text, c, err := s.tokens.issue(kindRunner, id, epoch, runnerTokenTTL)
	if err != nil {
		return err
	}
	runner := s.core.Runner(id)
	if runner == nil {
		return messages.Errorf(messages.CodeUnauthorized, "invalid machine key or secret")
	}
	NoStore(ctx)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"token": text, "expiresAt": messages.TimeOf(c.ExpiresAt.Time), "runner": runner,
	})
	return nil
}

func (s *Server) runnerHeartbeat(ctx *fasthttp.RequestCtx, r *request) error {
	var b heartbeatBody
	if err := decodeOptionalJSON(ctx, &b); err != nil {
		return err
	}
	id := r.runner
	if id == "" {
		var err error
		if id, _, err = s.credentialsRunner(b.machineCredentials); err != nil {
			return err
		}
	}
	ip := r.ip()
	if b.IPAddress != nil && strings.TrimSpace(*b.IPAddress) != "" {
		a, err := parseIPAddress(*b.IPAddress)
		if err != nil {
			return err
		}
		ip = a
	}
	var metrics json.RawMessage
	if m := bytes.TrimSpace(b.Metrics); len(m) > 0 && !bytes.Equal(m, []byte("null")) {
		if m[0] != '{' {
			return messages.Invalid("field \"metrics\" must be an object")
		}
		if err := checkHostMetrics(m); err != nil {
			return err
		}
		metrics = append(json.RawMessage(nil), m...)
	}
	res, err := messages.Ask(s.core, &messages.Heartbeat{RunnerID: id, IPAddress: ip, Metrics: metrics})
	if err != nil {
		return runnerGoneIs401(err)
	}
	writeJSON(ctx, fasthttp.StatusOK, res)
	return nil
}

// pollWait reads ?wait=N (seconds, 0..60).
func pollWait(ctx *fasthttp.RequestCtx) (time.Duration, error) {
	raw := ctx.QueryArgs().Peek("wait")
	if raw == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 || n > maxPollWait {
		return 0, messages.Invalid("wait must be an integer from 0 to %d (seconds)", maxPollWait)
	}
	return time.Duration(n) * time.Second, nil
}

// runnerPoll hands a runner its work. The idle poll (nothing queued,
// nothing to stop) is answered from the runners' published state without
// an actor round trip or an allocation; everything else asks the runner's
// actor, which claims from the dispatcher and may hold the poll for ?wait.
func (s *Server) runnerPoll(ctx *fasthttp.RequestCtx, r *request) error {
	wait, err := pollWait(ctx)
	if err != nil {
		return err
	}
	id := r.runner
	if id == "" {
		var b machineCredentials
		if err := decodeOptionalJSON(ctx, &b); err != nil {
			return err
		}
		if id, _, err = s.credentialsRunner(b); err != nil {
			return err
		}
	}
	if wait == 0 && s.core.RunnerIdle(id) {
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentTypeBytes(contentTypeJSON)
		ctx.SetBody(idlePollBody)
		return nil
	}
	// A poll that waits parks without its goroutine when the actor says
	// so (parked.go); the answer is then written when it comes.
	p := s.newParkedPoll(ctx, id, wait)
	cmd := &messages.PollWork{RunnerID: id, Wait: wait}
	if p != nil {
		cmd.Waiter = p
	}
	reply, err := messages.AskTimeout(s.core, cmd, wait+pollMargin)
	if err == nil && reply.Parked && p != nil {
		s.park(ctx, p)
		return nil
	}
	if p != nil {
		p.abandon()
	}
	if err != nil {
		var me *messages.Error
		if errors.As(err, &me) {
			return runnerGoneIs401(err)
		}
		// The runner actor did not answer in time: nothing was handed out.
		s.log.Warn("poll unanswered", "runner", id, "err", err)
		reply = &messages.PollReply{}
	}
	return s.writePollReply(ctx, r, id, reply)
}

// writePollReply writes the answer of runner id's poll (the handler's, or
// a parked poll's when its answer comes).
func (s *Server) writePollReply(ctx *fasthttp.RequestCtx, r *request, id string, reply *messages.PollReply) error {
	ans := pollAnswer{StopExecutionIDs: reply.StopExecutionIDs}
	if ans.StopExecutionIDs == nil {
		ans.StopExecutionIDs = []string{}
	}
	if e := reply.Execution; e != nil {
		// The hand-over: the graph and the assets it references (handlers_assets.go).
		graph, bundle, err := s.handOver(e, id, r.ip())
		switch code := messages.ErrorCode(err); {
		case code == messages.CodeForbidden || code == messages.CodeNotFound:
			// No longer this runner's (stopped or taken back meanwhile): no work.
			e = nil
		case err != nil:
			return err
		}
		if e != nil {
			input := e.Input
			if len(input) == 0 {
				input = json.RawMessage("null")
			}
			ans.HasWork = true
			ans.Execution = &workItem{ID: e.ID, WorkflowID: e.WorkflowID, WorkflowName: e.Workflow.Name,
				VersionID: e.VersionID, GraphJSON: graph, Input: input}
			if bundle != nil {
				noStore(ctx)
				ans.Assets, ans.Execution.Assets = bundle, bundle
			}
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, ans)
	return nil
}

var contentTypeJSON = []byte("application/json")

// runnerGoneIs401 turns the NOT_FOUND of a runner deleted after its request
// was authenticated into the 401 its next request gets anyway.
func runnerGoneIs401(err error) error {
	if messages.ErrorCode(err) == messages.CodeNotFound {
		return messages.Errorf(messages.CodeUnauthorized, "runner token is no longer valid")
	}
	return err
}

func (s *Server) runnerStartExecution(ctx *fasthttp.RequestCtx, r *request) error {
	runner := s.core.Runner(r.runner)
	if runner == nil {
		return messages.Errorf(messages.CodeUnauthorized, "runner token is no longer valid")
	}
	if runner.Type != messages.RunnerAttended {
		return messages.Errorf(messages.CodeForbidden, "only ATTENDED runners start their own executions")
	}
	var b attendedBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("workflowId", b.WorkflowID); err != nil {
		return err
	}
	var input json.RawMessage
	if m := bytes.TrimSpace(b.Input); len(m) > 0 && !bytes.Equal(m, []byte("null")) {
		if err := messages.CheckJSONDepth("input", m); err != nil {
			return err
		}
		input = append(json.RawMessage(nil), m...)
	}
	res, err := messages.Ask(s.core, &messages.StartAttended{RunnerID: r.runner, WorkflowID: strings.TrimSpace(*b.WorkflowID),
		Input: input, Origin: r.origin()})
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"execution": res})
	return nil
}

func (s *Server) runnerProcesses(ctx *fasthttp.RequestCtx, r *request) error {
	procs, err := s.store.RunnerProcesses()
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"processes": procs})
	return nil
}

func (s *Server) listRunners(ctx *fasthttp.RequestCtx, r *request) error {
	page, err := pageOf(ctx)
	if err != nil {
		return err
	}
	var f messages.RunnerFilter
	if v := ctx.QueryArgs().Peek("status"); len(v) > 0 {
		f.Status = messages.RunnerStatus(v)
		if !messages.ValidRunnerStatus(f.Status) {
			return messages.Invalid("status must be ONLINE, OFFLINE or BUSY")
		}
	}
	if v := ctx.QueryArgs().Peek("type"); len(v) > 0 {
		f.Type = messages.RunnerType(v)
		if !messages.ValidRunnerType(f.Type) {
			return messages.Invalid("type must be ATTENDED or UNATTENDED")
		}
	}
	for _, v := range ctx.QueryArgs().PeekMulti("label") {
		// label=a&label=b and label=a,b alike: the runner has them all.
		for _, l := range strings.Split(string(v), ",") {
			if l = strings.TrimSpace(l); l != "" {
				f.Labels = append(f.Labels, l)
			}
		}
	}
	if f.Labels != nil {
		if f.Labels, err = messages.NormalizeLabels("label", f.Labels); err != nil {
			return err
		}
	}
	if f.Status != "" || f.Type != "" || len(f.Labels) > 0 {
		// A filter needs every runner's live status: the runners
		// supervisor's registry has them, storage would decode them all.
		list, total := s.core.ListRunners(f, page)
		writeList(ctx, "runners", list, page, total)
		return nil
	}
	list, total, err := s.store.ListRunners(f, page)
	if err != nil {
		return err
	}
	out := make([]*messages.Runner, 0, len(list))
	for _, stored := range list {
		// The live record has the latest heartbeat (storage may lag by
		// up to the flush interval).
		if live := s.core.Runner(stored.ID); live != nil {
			stored = live
		}
		out = append(out, stored)
	}
	writeList(ctx, "runners", out, page, total)
	return nil
}

func (s *Server) getRunner(ctx *fasthttp.RequestCtx, r *request) error {
	runner := s.core.Runner(pathParam(ctx, "id"))
	if runner == nil {
		return messages.NotFound("runner")
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"runner": runner})
	return nil
}

// patchRunner replaces a runner's labels (ADMIN): {"labels": [...]}.
func (s *Server) patchRunner(ctx *fasthttp.RequestCtx, r *request) error {
	var b runnerPatchBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if b.Labels == nil {
		return messages.Invalid("labels is required (an array; [] removes every label)")
	}
	return answerWrapped(s, ctx, fasthttp.StatusOK, "runner", &messages.SetRunnerLabels{
		ID: pathParam(ctx, "id"), Labels: b.Labels, Origin: r.origin()})
}

func (s *Server) regenerateRunnerSecret(ctx *fasthttp.RequestCtx, r *request) error {
	res, err := messages.Ask(s.core, &messages.RegenerateSecret{ID: pathParam(ctx, "id"), Origin: r.origin()})
	if err != nil {
		return err
	}
	NoStore(ctx)
	writeJSON(ctx, fasthttp.StatusOK, res)
	return nil
}

func (s *Server) deleteRunner(ctx *fasthttp.RequestCtx, r *request) error {
	return answerSuccess(s, ctx, &messages.DeleteRunner{ID: pathParam(ctx, "id"), Origin: r.origin()})
}

// parseIPAddress checks a runner's reported ipAddress: an IPv4 or IPv6
// address without a zone (the text is shown to people on every runner
// page, so nothing else may pass). It answers the address's canonical form.
func parseIPAddress(text string) (string, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(text))
	if err != nil || a.Zone() != "" {
		return "", messages.Invalid("ipAddress must be an IPv4 or IPv6 address")
	}
	return a.String(), nil
}

// hostMetricFields are the heartbeat metrics the API reference names; each
// must be a number of at least 0 when present. Other fields are the
// runner's own and kept as sent.
var hostMetricFields = []string{"cpu", "memTotalMB", "memUsedMB", "memUsage"}

// checkHostMetrics refuses a heartbeat whose named metrics have the wrong
// type (a wrong type is a 400 like everywhere else).
func checkHostMetrics(m json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(m, &fields); err != nil {
		return messages.Invalid("field \"metrics\" must be an object")
	}
	for _, name := range hostMetricFields {
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			continue
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || f < 0 {
			return messages.Invalid("field \"metrics.%s\" must be a number of at least 0", name)
		}
	}
	return nil
}
