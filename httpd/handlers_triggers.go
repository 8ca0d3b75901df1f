package httpd

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

type triggerBody struct {
	WorkflowID *string               `json:"workflowId"`
	Type       *messages.TriggerType `json:"type"`
	Config     json.RawMessage       `json:"config"`
	Enabled    *bool                 `json:"enabled"`
	Priority   *messages.Priority    `json:"priority"`
}

// configText turns a trigger's config into the configuration's JSON text,
// as the client sent it (docs/api.md, "Conventions"): a JSON string is its content exactly,
// an object its compact form in the client's key order; absent or null is
// "{}".
func configText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "{}", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", messages.Invalid("config must be a JSON string or object")
		}
		return s, nil
	case '{':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return "", messages.Invalid("config must be a JSON string or object")
		}
		return b.String(), nil
	}
	return "", messages.Invalid("config must be a JSON string or object")
}

func checkPriority(p *messages.Priority) error {
	if p != nil && p.Rank() < 0 {
		return messages.Invalid("priority must be HIGH, NORMAL or LOW")
	}
	return nil
}

// createTrigger creates a schedule or webhook trigger (ADMIN, DEVELOPER).
func (s *Server) createTrigger(ctx *fasthttp.RequestCtx, r *request) error {
	var b triggerBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("workflowId", b.WorkflowID); err != nil {
		return err
	}
	if b.Type == nil {
		return messages.Invalid("type is required (SCHEDULE or WEBHOOK)")
	}
	if *b.Type != messages.TriggerSchedule && *b.Type != messages.TriggerWebhook {
		return messages.Invalid("type must be SCHEDULE or WEBHOOK")
	}
	if err := checkPriority(b.Priority); err != nil {
		return err
	}
	cfg, err := configText(b.Config)
	if err != nil {
		return err
	}
	enabled := true
	if b.Enabled != nil {
		enabled = *b.Enabled
	}
	return answerWrapped(s, ctx, fasthttp.StatusCreated, "trigger", &messages.CreateTrigger{
		WorkflowID: *b.WorkflowID, Type: *b.Type, Config: cfg, Enabled: enabled, Priority: b.Priority, Origin: r.origin(),
	})
}

// listTriggers pages the triggers newest first (filters workflowId, type).
func (s *Server) listTriggers(ctx *fasthttp.RequestCtx, _ *request) error {
	page, err := pageOf(ctx)
	if err != nil {
		return err
	}
	args := ctx.QueryArgs()
	f := messages.TriggerFilter{
		WorkflowID: string(args.Peek("workflowId")),
		Type:       messages.TriggerType(strings.ToUpper(string(args.Peek("type")))),
	}
	if f.Type != "" && f.Type != messages.TriggerSchedule && f.Type != messages.TriggerWebhook {
		return messages.Invalid("type must be SCHEDULE or WEBHOOK")
	}
	items, total, err := s.store.ListTriggers(f, page)
	if err != nil {
		return err
	}
	writeList(ctx, "triggers", items, page, total)
	return nil
}

// getTrigger answers one trigger.
func (s *Server) getTrigger(ctx *fasthttp.RequestCtx, _ *request) error {
	t, err := s.store.GetTrigger(pathParam(ctx, "id"))
	if err != nil {
		return err
	}
	if t == nil {
		return messages.NotFound("trigger")
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"trigger": t})
	return nil
}

// updateTrigger changes a trigger's config and/or enabled flag (PUT and PATCH).
func (s *Server) updateTrigger(ctx *fasthttp.RequestCtx, r *request) error {
	var b triggerBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := checkPriority(b.Priority); err != nil {
		return err
	}
	cmd := &messages.UpdateTrigger{ID: pathParam(ctx, "id"), Enabled: b.Enabled, Priority: b.Priority, Origin: r.origin()}
	if len(bytes.TrimSpace(b.Config)) > 0 {
		cfg, err := configText(b.Config)
		if err != nil {
			return err
		}
		cmd.Config = &cfg
	}
	if cmd.Config == nil && cmd.Enabled == nil && cmd.Priority == nil {
		return messages.Invalid("give at least one of config, enabled")
	}
	return answerWrapped(s, ctx, fasthttp.StatusOK, "trigger", cmd)
}

// deleteTrigger removes a trigger; it stops firing at once (ADMIN).
func (s *Server) deleteTrigger(ctx *fasthttp.RequestCtx, r *request) error {
	return answerSuccess(s, ctx, &messages.DeleteTrigger{ID: pathParam(ctx, "id"), Origin: r.origin()})
}

// fireWebhook is the public webhook of a WEBHOOK trigger: the trigger's
// actor checks it (enabled, signature, rate limit, published version) and
// the executions owner answers once the execution is durable.
func (s *Server) fireWebhook(ctx *fasthttp.RequestCtx, r *request) error {
	// The raw body, untrimmed: the HMAC is over the bytes as received
	// (docs/api.md, "Conventions"), a body of only whitespace included.
	var body []byte
	if b := ctx.PostBody(); len(b) > 0 {
		body = append([]byte(nil), b...) // fasthttp reuses its buffers
	}
	key, err := dedupeKey(ctx, nil) // a webhook's body is its input: only the header counts
	if err != nil {
		s.observeWebhook(nil, err)
		return err
	}
	res, err := messages.Ask(s.core, &messages.FireWebhook{
		TriggerID: pathParam(ctx, "id"),
		Body:      body,
		Signature: string(ctx.Request.Header.Peek("X-Exekra-Signature")),
		DedupeKey: key,
		IP:        r.ip(),
	})
	s.observeWebhook(res, err)
	if err != nil {
		return err
	}
	switch v := res.(type) {
	case *messages.ExecutionCreated:
		writeWebhookAccepted(ctx, v.Execution.ID)
		return nil
	case *messages.WebhookThrottled:
		secs := int((v.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
		return messages.Errorf(messages.CodeRateLimited, "this webhook's rate limit is reached: retry in %d s", secs)
	}
	return messages.Errorf(messages.CodeInternal, "unexpected webhook answer")
}
