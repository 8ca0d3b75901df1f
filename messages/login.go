package messages

import "time"

// BeginLogin asks the accounts owner whether a login for Email may be
// tried now (the per-account throttle of docs/security.md). Reply: *Ack
// when it may (the attempt is then in flight until its RecordLogin or
// AbandonLogin), *LoginThrottled when it may not (audited).
type BeginLogin struct {
	Email  string
	Origin Origin
}

// LoginThrottled refuses a login attempt: Email failed too many times in a
// row; RetryAfter is how long until it may try again.
type LoginThrottled struct {
	RetryAfter time.Duration
}

// AbandonLogin ends an attempt that BeginLogin let through and that ended
// without a verdict (a storage error before the password was checked): it
// counts neither as a failure nor as a success. No reply.
type AbandonLogin struct {
	Email string
}

// AuditLoginThrottled is the audit action of a login refused by the
// per-account throttle.
const AuditLoginThrottled = "auth.login.throttled"
