package actors

import (
	"strings"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// The per-account login throttle (docs/security.md), owned by the accounts
// actor: after max failed logins in a row for one email, from any
// addresses, that email's logins are refused for a minute, doubling with
// every further failure up to 15 minutes, whatever the password. Emails
// that name no user are counted alike (an answer must not tell whether an
// account exists). A successful login resets the count.
//
// The counts live in memory only: a restart forgets them (the audit log
// keeps every attempt). An attacker cannot restart the server, and a
// durable write per failed login already happens for its audit entry.

// Throttle timings.
const (
	loginLockFirst = time.Minute
	loginLockMax   = 15 * time.Minute
	// loginTrackMax bounds the emails tracked at once. When full, the
	// counts of emails that are not locked are forgotten first.
	loginTrackMax = 100_000
)

// loginFailures is what the throttle knows of one email.
type loginFailures struct {
	failures    int       // failed logins in a row
	lockedUntil time.Time // refused until then (zero: not locked)
	inflight    int       // attempts let through and not yet decided
	lastBegin   time.Time // when the last attempt was let through
}

// inflightExpiry is how long an attempt counts as in flight at most: a
// login whose verdict never came (its caller timed out) must not hold the
// email back for ever.
const inflightExpiry = time.Minute

// loginThrottle counts failed logins per email. Only the accounts actor
// uses it (no lock).
type loginThrottle struct {
	max     int // failures before the lock; 0 = off
	entries map[string]*loginFailures
}

func newLoginThrottle(max int) *loginThrottle {
	return &loginThrottle{max: max, entries: map[string]*loginFailures{}}
}

// loginKey is how the throttle names an email: as storage compares them.
func loginKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// lockFor is how long the lock lasts after the failure that brought the
// count to failures (≥ max): 1 minute, doubling, at most 15.
func (t *loginThrottle) lockFor(failures int) time.Duration {
	extra := failures - t.max
	if extra >= 4 { // 16 min > 15: no shift beyond the cap
		return loginLockMax
	}
	return min(loginLockFirst<<extra, loginLockMax)
}

// begin decides whether a login for email may be tried at now. When it
// may, the attempt is in flight until end; otherwise it answers how long to
// wait. While an email is one failure away from its lock (or past it),
// attempts go one at a time, so concurrent guesses cannot overshoot the
// limit.
func (t *loginThrottle) begin(email string, now time.Time) (wait time.Duration, ok bool) {
	if t.max <= 0 {
		return 0, true
	}
	key := loginKey(email)
	e := t.entries[key]
	if e == nil {
		t.makeRoom(now)
		e = &loginFailures{}
		t.entries[key] = e
	}
	if now.Before(e.lockedUntil) {
		return e.lockedUntil.Sub(now), false
	}
	if e.inflight > 0 && now.Sub(e.lastBegin) > inflightExpiry {
		e.inflight = 0
	}
	if e.failures+e.inflight >= t.max && e.inflight > 0 {
		return time.Second, false // decided in a moment
	}
	e.inflight++
	e.lastBegin = now
	return 0, true
}

// end records the verdict of an attempt: a failure counts (and locks at
// max), a success resets the email. abandoned attempts count neither way.
func (t *loginThrottle) end(email string, success, abandoned bool, now time.Time) {
	if t.max <= 0 {
		return
	}
	key := loginKey(email)
	e := t.entries[key]
	if e == nil {
		if success || abandoned {
			return
		}
		t.makeRoom(now)
		e = &loginFailures{}
		t.entries[key] = e
	}
	if e.inflight > 0 {
		e.inflight--
	}
	switch {
	case abandoned:
	case success:
		e.failures, e.lockedUntil = 0, time.Time{}
	default:
		e.failures++
		if e.failures >= t.max {
			e.lockedUntil = now.Add(t.lockFor(e.failures))
		}
	}
	if e.failures == 0 && e.inflight == 0 {
		delete(t.entries, key)
	}
}

// makeRoom keeps the tracked emails under loginTrackMax: when full, it
// forgets the emails that are neither locked nor being tried, then, if
// still over 90 %, any that are not being tried.
func (t *loginThrottle) makeRoom(now time.Time) {
	if len(t.entries) < loginTrackMax {
		return
	}
	for k, e := range t.entries {
		if e.inflight == 0 && !now.Before(e.lockedUntil) {
			delete(t.entries, k)
		}
	}
	for k, e := range t.entries {
		if len(t.entries) < loginTrackMax*9/10 {
			break
		}
		if e.inflight == 0 {
			delete(t.entries, k)
		}
	}
}

// beginLogin answers BeginLogin: *Ack, or *LoginThrottled after the refusal
// is on the audit log.
func (a *accountsActor) beginLogin(msg *messages.BeginLogin) any {
	wait, ok := a.throttle.begin(msg.Email, a.sys.Now())
	if ok {
		return &messages.Ack{}
	}
	o := msg.Origin
	uid := ""
	if u := a.userByEmail(msg.Email); u != nil {
		uid = u.ID
	}
	audit := a.sys.auditEntry(o, messages.AuditLoginThrottled, "user", uid,
		msg.Email+" retryAfter="+wait.Round(time.Second).String())
	if err := a.sys.store.AppendAudit(audit); err != nil {
		a.sys.cfg.Logger.Error("record throttled login", "err", err)
		return err
	}
	return &messages.LoginThrottled{RetryAfter: wait}
}

// userByEmail finds a live user by email (nil when none).
func (a *accountsActor) userByEmail(email string) *messages.User {
	key := loginKey(email)
	for _, u := range a.sys.accounts.Load().byID {
		if loginKey(u.Email) == key {
			return u
		}
	}
	return nil
}
