package actors

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func TestLicenseAndStateLifecycle(t *testing.T) {
	e := startTestEnv(t, testDate)
	if s := e.sys.State(); s != messages.StateUnactivated {
		t.Fatalf("state %s", s)
	}
	if _, err := e.ask(&messages.Bootstrap{Email: "a@example.com", PasswordHash: "h"}); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("bootstrap before activation: %v", err)
	}
	res, err := e.ask(&messages.ActivateLicense{Text: e.license("a@example.com", 48*time.Hour, 1, messages.LicenseLimits{Users: 2})})
	if err != nil || res.(*messages.LicenseStatus).Status != messages.LicenseActive {
		t.Fatalf("activate: %v %v", res, err)
	}
	if _, err := e.ask(&messages.ActivateLicense{Text: e.license("a@example.com", time.Hour, 0, messages.LicenseLimits{})}); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("second activation: %v", err)
	}
	if s := e.sys.State(); s != messages.StateActivated {
		t.Fatalf("state %s", s)
	}
	if _, err := e.ask(&messages.Bootstrap{Email: "b@example.com", PasswordHash: "h"}); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("bootstrap with another email: %v", err)
	}
	res, err = e.ask(&messages.Bootstrap{Email: "A@example.com", Name: "A", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	admin := res.(*messages.User)
	if admin.Role != messages.RoleAdmin || e.sys.State() != messages.StateBootstrap {
		t.Fatalf("bootstrap: %+v %s", admin, e.sys.State())
	}
	// Users limit 2: one more user fits, the next does not.
	if _, err := e.ask(&messages.CreateUser{Email: "u@example.com", Role: messages.RoleOperator, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ask(&messages.CreateUser{Email: "v@example.com", Role: messages.RoleOperator, PasswordHash: "h"}); messages.ErrorCode(err) != messages.CodeLicenseLimit {
		t.Fatalf("over the limit: %v", err)
	}
	// The clock moves the license through grace into expiry; nothing else.
	e.clock.Advance(49 * time.Hour)
	if st := e.sys.LicenseStatus(); st.Status != messages.LicenseGrace || st.DaysRemaining != 0 {
		t.Fatalf("grace: %+v", st)
	}
	e.clock.Advance(24 * time.Hour)
	if st := e.sys.LicenseState(); st != messages.LicenseExpired {
		t.Fatalf("expired: %s", st)
	}
	if err := e.sys.CheckCanCreate(); messages.ErrorCode(err) != messages.CodeLicenseExpired {
		t.Fatalf("create while expired: %v", err)
	}
	// A renewal for someone else is refused; for the licensee it works.
	if _, err := e.ask(&messages.ReplaceLicense{Text: e.license("x@example.com", time.Hour, 0, messages.LicenseLimits{})}); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("foreign renewal: %v", err)
	}
	if _, err := e.ask(&messages.ReplaceLicense{Text: e.license("a@example.com", 24*time.Hour, 0, messages.LicenseLimits{})}); err != nil {
		t.Fatal(err)
	}
	// Everything survives a restart (and is rehydrated in Started).
	e.restart()
	if e.sys.State() != messages.StateBootstrap || e.sys.LicenseState() != messages.LicenseActive || e.sys.Census().Users.Load() != 2 {
		t.Fatalf("after restart: %s %s %d", e.sys.State(), e.sys.LicenseState(), e.sys.Census().Users.Load())
	}
	if u := e.sys.User(admin.ID); u == nil || u.Email != "A@example.com" {
		t.Fatalf("user after restart: %+v", u)
	}
}

func TestSessionsRevocationAndEpochs(t *testing.T) {
	e := startTestEnv(t, testDate)
	if _, err := e.ask(&messages.ActivateLicense{Text: e.license("a@example.com", 48*time.Hour, 0, messages.LicenseLimits{})}); err != nil {
		t.Fatal(err)
	}
	res, _ := e.ask(&messages.Bootstrap{Email: "a@example.com", PasswordHash: "h"})
	u := res.(*messages.User)
	if _, err := e.sys.Session(u.ID, "tok1", u.SessionEpoch); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ask(&messages.RevokeToken{TokenID: "tok1", ExpiresAt: messages.TimeOf(e.clock.Now().Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Session(u.ID, "tok1", u.SessionEpoch); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("revoked token: %v", err)
	}
	// A password change kills other tokens of the old epoch but keeps the changing one.
	if _, err := e.ask(&messages.ChangePassword{UserID: u.ID, PasswordHash: "h2", KeepTokenID: "tok2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Session(u.ID, "tok2", u.SessionEpoch); err != nil {
		t.Fatalf("changing token died: %v", err)
	}
	if _, err := e.sys.Session(u.ID, "tok3", u.SessionEpoch); err == nil {
		t.Fatal("old-epoch token survived")
	}
	e.restart()
	if _, err := e.sys.Session(u.ID, "tok1", u.SessionEpoch+1); err == nil {
		t.Fatal("revocation lost on restart")
	}
	if _, err := e.sys.Session(u.ID, "tok2", u.SessionEpoch); err != nil {
		t.Fatalf("survivor lost on restart: %v", err)
	}
	// Revocations end with the token's own expiry.
	e.clock.Advance(2 * time.Hour)
	if e.sys.TokenRevoked("tok1") {
		t.Fatal("an expired revocation still counts")
	}
	// Disabling takes effect on the next check.
	other, err := e.ask(&messages.CreateUser{Email: "o@example.com", Role: messages.RoleAdmin, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	o := other.(*messages.User)
	disabled := true
	if _, err := e.ask(&messages.UpdateUser{ID: o.ID, Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Session(o.ID, "t", o.SessionEpoch); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("disabled user: %v", err)
	}
	// Enabling them again does not bring their old sessions back, also
	// after a restart; a new login (the live epoch) works.
	enabled := false
	res, err = e.ask(&messages.UpdateUser{ID: o.ID, Disabled: &enabled})
	if err != nil {
		t.Fatal(err)
	}
	live := res.(*messages.User)
	if _, err := e.sys.Session(o.ID, "t", o.SessionEpoch); messages.ErrorCode(err) != messages.CodeUnauthorized {
		t.Fatalf("a session from before the disable came back: %v", err)
	}
	if _, err := e.sys.Session(o.ID, "t2", live.SessionEpoch); err != nil {
		t.Fatalf("a session started after the enable: %v", err)
	}
	e.restart()
	if _, err := e.sys.Session(o.ID, "t", o.SessionEpoch); err == nil {
		t.Fatal("a session from before the disable came back after a restart")
	}
	// A role change keeps the session (the role is read per request).
	role := messages.RoleOperator
	if _, err := e.ask(&messages.UpdateUser{ID: o.ID, Role: &role}); err != nil {
		t.Fatal(err)
	}
	if u, err := e.sys.Session(o.ID, "t2", live.SessionEpoch); err != nil || u.Role != messages.RoleOperator {
		t.Fatalf("after a role change: %+v %v", u, err)
	}
}

// TestRecordLoginIsDurableWhenAnswered: a login attempt's audit entry (and a
// successful one's lastLoginAt) is stored when RecordLogin answers, so the
// login answer that waits for it never leaves before its record.
func TestRecordLoginIsDurableWhenAnswered(t *testing.T) {
	e := startTestEnv(t, testDate)
	if _, err := e.ask(&messages.ActivateLicense{Text: e.license("a@example.com", 48*time.Hour, 0, messages.LicenseLimits{})}); err != nil {
		t.Fatal(err)
	}
	res, _ := e.ask(&messages.Bootstrap{Email: "a@example.com", PasswordHash: "h"})
	u := res.(*messages.User)
	if _, err := e.ask(&messages.RecordLogin{Email: "nobody@example.com", Success: false}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ask(&messages.RecordLogin{UserID: u.ID, Email: u.Email, Success: true}); err != nil {
		t.Fatal(err)
	}
	entries, _, err := e.store.ListAudit(messages.Page{Page: 1, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range entries {
		seen[a.Action] = true
	}
	if !seen[messages.AuditLoginFailed] || !seen[messages.AuditLoginSucceeded] {
		t.Fatalf("audit right after the answers: %v", seen)
	}
	stored, err := e.store.GetUser(u.ID)
	if err != nil || stored == nil || stored.LastLoginAt.IsZero() {
		t.Fatalf("lastLoginAt not stored: %+v %v", stored, err)
	}
}
