package httpd

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// maxDedupeKey bounds an Idempotency-Key or dedupeKey.
const maxDedupeKey = 200

// dedupeKey is the request's idempotency key: the body's dedupeKey when
// given (bodyKey non-nil), else the Idempotency-Key header; trimmed, and
// at most maxDedupeKey characters. Creations and webhooks read it alike.
func dedupeKey(ctx *fasthttp.RequestCtx, bodyKey *string) (string, error) {
	key := string(bytes.TrimSpace(ctx.Request.Header.Peek("Idempotency-Key")))
	if bodyKey != nil {
		key = strings.TrimSpace(*bodyKey)
	}
	if len(key) > maxDedupeKey {
		return "", messages.Invalid("the idempotency key must be at most %d characters", maxDedupeKey)
	}
	return key, nil
}

type createExecutionBody struct {
	WorkflowID *string            `json:"workflowId"`
	Priority   *messages.Priority `json:"priority"`
	Input      json.RawMessage    `json:"input"`
	DedupeKey  *string            `json:"dedupeKey"`
	// RunnerLabels overrides the workflow's (an empty list: any runner).
	RunnerLabels []string `json:"runnerLabels"`
}

// writeExecutionReply answers an actor's reply that holds an execution.
func writeExecutionReply(ctx *fasthttp.RequestCtx, e *messages.Execution) {
	writeExecution(ctx, fasthttp.StatusOK, e)
}

// withLogs is the answer of a stop or a status report: the execution as its
// actor holds it (actors keep no logs, so memory follows the work, not the
// log text) with its stored log, as GET /api/executions/:id shows it.
func (s *Server) withLogs(e *messages.Execution) (*messages.Execution, error) {
	if e.Logs != nil {
		return e, nil
	}
	logs, err := s.store.ExecutionLogs(e.ID)
	if err != nil || logs == nil {
		return e, err
	}
	c := *e // the actor's record is shared: never changed in place
	c.Logs = logs
	return &c, nil
}

// executionListItem is an execution as lists show it: without input and logs.
type executionListItem struct{ e *messages.Execution }

// MarshalJSON writes the summary form (no reflection).
func (i executionListItem) MarshalJSON() ([]byte, error) {
	return i.e.AppendSummaryJSON(make([]byte, 0, 512)), nil
}

// createExecution queues a run of a workflow's published version (ADMIN,
// DEVELOPER, OPERATOR): 201 {"execution"}, or 200 with the first execution
// for an Idempotency-Key (or dedupeKey) seen in the last 24 h.
func (s *Server) createExecution(ctx *fasthttp.RequestCtx, r *request) error {
	var b createExecutionBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("workflowId", b.WorkflowID); err != nil {
		return err
	}
	prio := messages.PriorityNormal
	if b.Priority != nil {
		if b.Priority.Rank() < 0 {
			return messages.Invalid("priority must be LOW, NORMAL or HIGH")
		}
		prio = *b.Priority
	}
	key, err := dedupeKey(ctx, b.DedupeKey)
	if err != nil {
		return err
	}
	var input json.RawMessage
	if t := bytes.TrimSpace(b.Input); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if err := messages.CheckJSONDepth("input", t); err != nil {
			return err
		}
		input = append(json.RawMessage(nil), t...)
	}
	userID := r.user.ID
	created, err := messages.Ask(s.core, &messages.CreateExecution{
		WorkflowID: strings.TrimSpace(*b.WorkflowID), Priority: prio, Input: input,
		TriggeredBy: &userID, DedupeKey: key, RunnerLabels: b.RunnerLabels, Origin: r.origin(),
	})
	if err != nil {
		return err
	}
	status := fasthttp.StatusCreated
	if created.Duplicate {
		status = fasthttp.StatusOK
	}
	writeExecution(ctx, status, created.Execution)
	return nil
}

// listExecutions pages executions newest first, filtered by workflowId,
// runnerId, triggerId, status and a createdAt range (any user).
func (s *Server) listExecutions(ctx *fasthttp.RequestCtx, _ *request) error {
	page, err := pageOf(ctx)
	if err != nil {
		return err
	}
	args := ctx.QueryArgs()
	f := messages.ExecutionFilter{
		WorkflowID: string(args.Peek("workflowId")),
		RunnerID:   string(args.Peek("runnerId")),
		Status:     messages.ExecutionStatus(args.Peek("status")),
		TriggerID:  string(args.Peek("triggerId")),
	}
	if f.TriggerID != "" && f.WorkflowID == "" {
		// A trigger belongs to one workflow: walk that workflow's index.
		if t, err := s.store.GetTrigger(f.TriggerID); err != nil {
			return err
		} else if t != nil {
			f.WorkflowID = t.WorkflowID
		}
	}
	if f.Status != "" && !f.Status.Valid() {
		return messages.Invalid("status must be one of QUEUED, ASSIGNED, RUNNING, COMPLETED, FAILED, STOPPED")
	}
	if f.From, err = queryFrom(ctx); err != nil {
		return err
	}
	if f.To, err = queryTo(ctx); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.From > f.To {
		return messages.Invalid("from must not be after to")
	}
	list, total, err := s.store.ListExecutions(f, page)
	if err != nil {
		return err
	}
	items := make([]executionListItem, len(list))
	for i, e := range list {
		items[i] = executionListItem{e: e}
	}
	writeList(ctx, "executions", items, page, total)
	return nil
}

// executionStats answers the status counters, unwrapped (any user).
func (s *Server) executionStats(ctx *fasthttp.RequestCtx, _ *request) error {
	st, err := s.store.ExecutionStats()
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, st)
	return nil
}

// getExecution reads one execution with its logs (any user).
func (s *Server) getExecution(ctx *fasthttp.RequestCtx, _ *request) error {
	e, err := s.store.GetExecution(pathParam(ctx, "id"))
	if err != nil {
		return err
	}
	if e == nil {
		return messages.NotFound("execution")
	}
	if e.Status == messages.ExecQueued {
		if e.Waiting, err = s.core.Waiting(e); err != nil {
			return err
		}
	}
	writeExecution(ctx, fasthttp.StatusOK, e)
	return nil
}

// stopExecution stops an execution (ADMIN, DEVELOPER, OPERATOR): QUEUED and
// ASSIGNED stop at once, RUNNING gets stopRequested.
func (s *Server) stopExecution(ctx *fasthttp.RequestCtx, r *request) error {
	res, err := messages.Ask(s.core, &messages.StopExecution{ID: pathParam(ctx, "id"), Origin: r.origin()})
	if err != nil {
		return err
	}
	if res, err = s.withLogs(res); err != nil {
		return err
	}
	writeExecutionReply(ctx, res)
	return nil
}

type reportStatusBody struct {
	Status  *messages.ExecutionStatus  `json:"status"`
	Logs    *string                    `json:"logs"`
	Metrics *messages.ExecutionMetrics `json:"metrics"`
	Error   *string                    `json:"error"`
}

// reportStatus is a runner's report on an execution assigned to it (runner
// token only).
func (s *Server) reportStatus(ctx *fasthttp.RequestCtx, r *request) error {
	var b reportStatusBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if b.Status == nil {
		return messages.Invalid("status is required")
	}
	if !b.Status.Valid() {
		return messages.Invalid("status must be RUNNING, COMPLETED, FAILED or STOPPED")
	}
	if *b.Status == messages.ExecQueued || *b.Status == messages.ExecAssigned {
		return messages.Invalid("a runner may not report %s", *b.Status)
	}
	if b.Metrics != nil {
		if err := b.Metrics.Validate(); err != nil {
			return err
		}
	}
	res, err := messages.Ask(s.core, &messages.ReportStatus{
		ExecutionID: pathParam(ctx, "id"), RunnerID: r.runner, Status: *b.Status,
		Logs: b.Logs, Metrics: b.Metrics, Error: b.Error, Origin: r.origin(),
	})
	if err != nil {
		return err
	}
	if res, err = s.withLogs(res); err != nil {
		return err
	}
	writeExecutionReply(ctx, res)
	return nil
}
