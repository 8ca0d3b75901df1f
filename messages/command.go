package messages

import (
	"fmt"
	"time"
)

// Command is a command to the actor that owns its records, answered with a
// reply of type R or an error. Every command type declares its reply with a
// Replies method (below), so Ask's callers get R from the compiler instead
// of asserting on an untyped answer; the actors' tests run every command
// through the real actors and check that the answer has the declared type
// (actors/commands_test.go).
type Command[R any] interface {
	// Replies names the reply type; it is never called.
	Replies(R)
}

// Notice is a message to an owner actor that the HTTP layer never waits
// on: sent with Tell, or between actors (where it may carry the answer of
// the command that caused it).
type Notice interface {
	// Told marks the type; it is never called.
	Told()
}

// Asker sends a command to its owner and waits for the untyped answer (an
// error answer comes back as the error). actors.System implements it; use
// it through Ask and AskTimeout, which type the answer.
type Asker interface {
	Ask(cmd any) (any, error)
	AskTimeout(cmd any, timeout time.Duration) (any, error)
}

// Ask sends cmd through a and answers its reply, typed. An answer of
// another type than cmd declares is a programming error, returned as an
// error (an internal error to an HTTP client) instead of a panic.
func Ask[R any](a Asker, cmd Command[R]) (R, error) {
	res, err := a.Ask(cmd)
	return typedReply[R](cmd, res, err)
}

// AskTimeout is Ask with an explicit timeout (long polls, deliveries).
func AskTimeout[R any](a Asker, cmd Command[R], timeout time.Duration) (R, error) {
	res, err := a.AskTimeout(cmd, timeout)
	return typedReply[R](cmd, res, err)
}

func typedReply[R any](cmd any, res any, err error) (R, error) {
	var zero R
	if err != nil {
		return zero, err
	}
	r, ok := res.(R)
	if !ok {
		return zero, fmt.Errorf("messages: %T answered %T, not %T as it declares", cmd, res, zero)
	}
	return r, nil
}

// LoginGate is BeginLogin's reply: *Ack (go ahead) or *LoginThrottled.
type LoginGate interface{ loginGate() }

func (*Ack) loginGate()            {}
func (*LoginThrottled) loginGate() {}

// WebhookAnswer is FireWebhook's reply: *ExecutionCreated or
// *WebhookThrottled.
type WebhookAnswer interface{ webhookAnswer() }

func (*ExecutionCreated) webhookAnswer() {}
func (*WebhookThrottled) webhookAnswer() {}

// ClaimAnswer is ClaimWork's reply: the *Execution assigned to the runner,
// or *NoWork.
type ClaimAnswer interface{ claimAnswer() }

func (*Execution) claimAnswer() {}
func (*NoWork) claimAnswer()    {}

// The replies of the commands, grouped by owner (docs/api.md names the
// endpoints that send them).

func (*ActivateLicense) Replies(*LicenseStatus) {}
func (*ReplaceLicense) Replies(*LicenseStatus)  {}
func (*ValidateLicense) Replies(*LicenseStatus) {}

func (*Bootstrap) Replies(*User)      {}
func (*CreateUser) Replies(*User)     {}
func (*UpdateUser) Replies(*User)     {}
func (*ChangePassword) Replies(*User) {}
func (*RevokeToken) Replies(*Ack)     {}
func (*RecordLogin) Replies(*Ack)     {}
func (*RecordAudit) Replies(*Ack)     {}
func (*BeginLogin) Replies(LoginGate) {}
func (*CreateAPIKey) Replies(*APIKey) {}
func (*RevokeAPIKey) Replies(*Ack)    {}

func (*CreateWorkflow) Replies(*Workflow)        {}
func (*UpdateWorkflow) Replies(*Workflow)        {}
func (*DeleteWorkflow) Replies(*WorkflowDeleted) {}
func (*SaveDraft) Replies(*Version)              {}
func (*PublishLatest) Replies(*Version)          {}

func (*CreateTrigger) Replies(*Trigger)    {}
func (*UpdateTrigger) Replies(*Trigger)    {}
func (*DeleteTrigger) Replies(*Ack)        {}
func (*FireWebhook) Replies(WebhookAnswer) {}

func (*CreateAsset) Replies(*Asset)          {}
func (*UpdateAsset) Replies(*Asset)          {}
func (*DeleteAsset) Replies(*Ack)            {}
func (*HandOverAssets) Replies(*AssetBundle) {}

func (*CreateExecution) Replies(*ExecutionCreated) {}
func (*StartAttended) Replies(*Execution)          {}
func (*StopExecution) Replies(*Execution)          {}
func (*ReportStatus) Replies(*Execution)           {}

func (*ClaimWork) Replies(ClaimAnswer)   {}
func (*ExplainWaiting) Replies(*Waiting) {}

func (*CreateSubscription) Replies(*Subscription)       {}
func (*UpdateSubscription) Replies(*Subscription)       {}
func (*DeleteSubscription) Replies(*Ack)                {}
func (*RotateSubscriptionSecret) Replies(*Subscription) {}
func (*TestSubscription) Replies(*Delivery)             {}
func (*RetryDelivery) Replies(*Delivery)                {}

func (*RegisterRunner) Replies(*RunnerCredentials)   {}
func (*RegenerateSecret) Replies(*RunnerCredentials) {}
func (*DeleteRunner) Replies(*Ack)                   {}
func (*Heartbeat) Replies(*HeartbeatReply)           {}
func (*PollWork) Replies(*PollReply)                 {}
func (*SetRunnerLabels) Replies(*Runner)             {}

// The notices.

func (*AbandonLogin) Told()             {}
func (*APIKeyUsedFromNewAddress) Told() {}
func (*RunnerLost) Told()               {}
func (*CancelClaim) Told()              {}
func (*RelabelClaim) Told()             {}
func (*EndStreams) Told()               {}
func (*ExecutionAssigned) Told()        {}
func (*ExecutionReleased) Told()        {}
func (*StopRequested) Told()            {}
