package messages

import (
	"encoding/json"
	"time"
)

// The commands and replies of triggers. Handlers send them to the triggers
// supervisor through System.Ask; it forwards per-trigger work to the
// trigger's own actor.

// CreateTrigger creates a trigger. Config is the configuration's JSON text.
// Reply: *Trigger. Errors: NOT_FOUND (workflow), VALIDATION_ERROR.
type CreateTrigger struct {
	WorkflowID string
	Type       TriggerType
	Config     string
	Enabled    bool
	Priority   *Priority // top-level priority, overrides the config's
	Origin     Origin
}

// UpdateTrigger changes a trigger's config and/or enabled flag; the
// schedule is rebuilt at once. Reply: *Trigger. Errors: NOT_FOUND,
// VALIDATION_ERROR.
type UpdateTrigger struct {
	ID       string
	Config   *string
	Enabled  *bool
	Priority *Priority
	Origin   Origin
}

// DeleteTrigger removes a trigger; it stops firing at once. Reply: *Ack.
// Errors: NOT_FOUND.
type DeleteTrigger struct {
	ID     string
	Origin Origin
}

// FireWebhook is a call of POST /api/triggers/webhook/:id. Body is a copy of
// the raw request body (nil when empty), Signature the X-Exekra-Signature
// header. Reply: *ExecutionCreated (sent by the executions owner once the
// execution is durable) or *WebhookThrottled. Errors: NOT_FOUND,
// VALIDATION_ERROR (not a webhook, bad JSON), FORBIDDEN (disabled),
// UNAUTHORIZED (signature), NO_PUBLISHED_VERSION.
type FireWebhook struct {
	TriggerID string
	Body      []byte
	Signature string
	DedupeKey string
	IP        string
}

// WebhookThrottled answers a FireWebhook over the trigger's rateLimit.
type WebhookThrottled struct {
	RetryAfter time.Duration
}

// TriggerRecord is a trigger with its write-only webhook secret, as the
// trigger actors read it from storage. It never leaves the server.
type TriggerRecord struct {
	Trigger *Trigger
	Secret  string
}

// TriggerChange is a stored change of a trigger's settings; nil fields are
// kept. NextRunAt and UpdatedAt are always set.
type TriggerChange struct {
	Config    *string
	Secret    *string // "" clears it
	Enabled   *bool
	Priority  *Priority
	NextRunAt Time
	UpdatedAt Time
}

// TriggerFilter selects triggers for a list (zero fields are no filter).
type TriggerFilter struct {
	WorkflowID string
	Type       TriggerType
}

// WebhookInput is the execution input of a webhook body (nil when empty).
func WebhookInput(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	return json.RawMessage(body)
}
