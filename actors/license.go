package actors

import (
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// licenseView is the license actor's published snapshot. It is immutable:
// the actor replaces it whole.
type licenseView struct {
	license       *messages.License // nil when none is stored
	invalidReason string            // set when the stored license no longer verifies
	validatedAt   time.Time
}

// licenseActor owns the license.
//
// Handles: *messages.ActivateLicense, *messages.ReplaceLicense,
// *messages.ValidateLicense, *ping. Sends: replies; *licenseRenewed to the
// dispatcher after a renewal or validation (work held back while the
// license was EXPIRED or INVALID may go out). State: the license
// (published as licenseView). Timers: none — the standing (ACTIVE, GRACE,
// EXPIRED) is computed from the clock whenever it is read.
type licenseActor struct {
	sys *System
}

// Receive implements actor.Actor.
func (a *licenseActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if err := a.load(); err != nil {
			panic(err) // the supervisor restarts us; Start reports the failure
		}
		reportReady(ctx, childLicense)
	case *messages.ActivateLicense:
		ctx.Respond(a.activate(msg))
	case *messages.ReplaceLicense:
		ctx.Respond(a.replace(msg))
		a.wakeDispatcher(ctx)
	case *messages.ValidateLicense:
		ctx.Respond(a.validate(msg))
		a.wakeDispatcher(ctx)
	}
}

// load rehydrates the license from storage and re-verifies it.
func (a *licenseActor) load() error {
	text, err := a.sys.store.License()
	if err != nil {
		return err
	}
	a.publish(text)
	return nil
}

// publish verifies text with the configured key and publishes the result. A
// stored license that no longer verifies (the key changed) is INVALID.
func (a *licenseActor) publish(text string) {
	view := &licenseView{validatedAt: a.sys.Now()}
	if text != "" {
		lic, err := messages.ParseLicense(text, a.sys.cfg.LicenseKey)
		if err != nil {
			view.license = unverifiedClaims(text)
			view.invalidReason = messages.ErrorMessage(err)
		} else {
			view.license = lic
		}
	}
	a.sys.license.Store(view)
}

// wakeDispatcher tells the dispatcher that a new license view is
// published: work it held back while the license was EXPIRED or INVALID
// may go out now.
func (a *licenseActor) wakeDispatcher(ctx actor.Context) {
	if pid, ok := a.sys.pids[childDispatcher]; ok {
		ctx.Send(pid, &licenseRenewed{})
	}
}

// unverifiedClaims keeps what a stored but no longer verifiable license
// claims, for display; the license is INVALID all the same.
func unverifiedClaims(text string) *messages.License {
	if l, err := messages.DecodeLicenseUnverified(text); err == nil {
		return l
	}
	return &messages.License{}
}

// parseForActivation verifies a new license text and refuses one that is
// expired beyond its grace period.
func (a *licenseActor) parseForActivation(text string) (*messages.License, error) {
	lic, err := messages.ParseLicense(text, a.sys.cfg.LicenseKey)
	if err != nil {
		return nil, err
	}
	if lic.StateAt(a.sys.Now()) == messages.LicenseExpired {
		return nil, messages.Invalid("license expired on %s and its grace period is over", messages.TimeOf(lic.Expiry()))
	}
	return lic, nil
}

func (a *licenseActor) activate(msg *messages.ActivateLicense) any {
	if a.sys.license.Load().license != nil {
		return messages.Errorf(messages.CodeConflict, "a license is already activated")
	}
	lic, err := a.parseForActivation(msg.Text)
	if err != nil {
		return err
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditLicenseActivated, "license", lic.ID, lic.Organization)
	view := &licenseView{license: lic, validatedAt: a.sys.Now()}
	if err := a.sys.store.SaveLicense(msg.Text, true, a.sys.licenseEffects(view, audit)); err != nil {
		return err
	}
	a.sys.license.Store(view)
	st := a.sys.LicenseStatus()
	return &st
}

func (a *licenseActor) replace(msg *messages.ReplaceLicense) any {
	cur := a.sys.license.Load()
	if cur.license == nil {
		return messages.Errorf(messages.CodeConflict, "no license is activated yet")
	}
	lic, err := a.parseForActivation(msg.Text)
	if err != nil {
		return err
	}
	if cur.invalidReason == "" && !strings.EqualFold(lic.Email, cur.license.Email) {
		return messages.Invalid("the new license is for %s, not for the current licensee", lic.Email)
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditLicenseReplaced, "license", lic.ID, lic.Organization)
	view := &licenseView{license: lic, validatedAt: a.sys.Now()}
	if err := a.sys.store.SaveLicense(msg.Text, false, a.sys.licenseEffects(view, audit)); err != nil {
		return err
	}
	a.sys.license.Store(view)
	st := a.sys.LicenseStatus()
	return &st
}

func (a *licenseActor) validate(msg *messages.ValidateLicense) any {
	text, err := a.sys.store.License()
	if err != nil {
		return err
	}
	if text == "" {
		return messages.Errorf(messages.CodeConflict, "no license is activated")
	}
	a.publish(text)
	st := a.sys.LicenseStatus()
	audit := a.sys.auditEntry(msg.Origin, messages.AuditLicenseValidated, "license", st.LicenseID, string(st.Status))
	if err := a.sys.store.AppendAudit(audit); err != nil {
		return err
	}
	return &st
}

// LicenseState is the license's standing now (INVALID when none is stored).
func (s *System) LicenseState() messages.LicenseState { return s.licenseStateOf(s.license.Load()) }

func (s *System) licenseStateOf(v *licenseView) messages.LicenseState {
	switch {
	case v.license == nil || v.invalidReason != "":
		return messages.LicenseInvalid
	}
	return v.license.StateAt(s.Now())
}

// LicenseLimits are the stored license's limits (zero when none).
func (s *System) LicenseLimits() messages.LicenseLimits {
	if l := s.license.Load().license; l != nil {
		return l.Limits
	}
	return messages.LicenseLimits{}
}

// LicenseEmail is the licensee's email ("" when none).
func (s *System) LicenseEmail() string {
	if l := s.license.Load().license; l != nil {
		return l.Email
	}
	return ""
}

// CheckCanCreate answers LICENSE_EXPIRED when the license is EXPIRED or
// INVALID (creating executions, runners, users and publishing are refused
// then), else nil.
func (s *System) CheckCanCreate() error {
	switch st := s.LicenseState(); st {
	case messages.LicenseExpired, messages.LicenseInvalid:
		return messages.Errorf(messages.CodeLicenseExpired, "the license is %s: renew it to create new things", st)
	}
	return nil
}

// CheckLimit answers LICENSE_LIMIT when one more of a thing would pass the
// limit (0 = unlimited), after CheckCanCreate.
func (s *System) CheckLimit(kind string, limit int, current int64) error {
	if err := s.CheckCanCreate(); err != nil {
		return err
	}
	return checkLimitOnly(kind, limit, current)
}

// checkLimitOnly is CheckLimit without the license standing: docs/api.md, "Conventions" lists
// what an EXPIRED or INVALID license refuses (executions, runners, users,
// publishing), and workflows are not on the list — only their limit holds.
func checkLimitOnly(kind string, limit int, current int64) error {
	if limit > 0 && current >= int64(limit) {
		return messages.Errorf(messages.CodeLicenseLimit, "the license allows %d %s", limit, kind)
	}
	return nil
}

// LicenseStatus is the status object of every license endpoint, computed now.
func (s *System) LicenseStatus() messages.LicenseStatus { return s.licenseStatusOf(s.license.Load()) }

// licenseStatusOf is the status object of license view v, computed now.
func (s *System) licenseStatusOf(v *licenseView) messages.LicenseStatus {
	usage := messages.LicenseUsage{
		Runners:   int(s.census.Runners.Load()),
		Users:     int(s.census.Users.Load()),
		Workflows: int(s.census.Workflows.Load()),
	}
	if v.license == nil {
		return messages.LicenseStatus{Activated: false, Status: messages.LicenseInvalid, Usage: usage}
	}
	now := s.Now()
	l := v.license
	st := messages.LicenseStatus{
		Activated:     true,
		Status:        s.licenseStateOf(v),
		LicenseID:     l.ID,
		Licensee:      l.Email,
		Organization:  l.Organization,
		IssuedAt:      messages.Time(l.IssuedAt * 1000),
		ExpiresAt:     messages.TimeOf(l.Expiry()),
		DaysRemaining: l.DaysRemaining(now),
		GraceDays:     l.GraceDays,
		GraceEndsAt:   messages.TimeOf(l.GraceEnd()),
		Limits:        l.Limits,
		Usage:         usage,
		InvalidReason: v.invalidReason,
		ValidatedAt:   messages.TimeOf(v.validatedAt),
	}
	if l.ExpiresAt == 0 {
		st.ExpiresAt, st.GraceEndsAt, st.IssuedAt = 0, 0, 0
	}
	if st.Status == messages.LicenseGrace {
		if d := l.GraceEnd().Sub(now); d > 0 {
			st.GraceDaysRemaining = int((d + 24*time.Hour - 1) / (24 * time.Hour))
		}
	}
	return st
}

// State is the system state of docs/api.md, "Conventions", derived from what exists.
func (s *System) State() messages.SystemState {
	switch {
	case s.license.Load().license == nil:
		return messages.StateUnactivated
	case s.census.Users.Load() == 0:
		return messages.StateActivated
	case s.census.Runners.Load() == 0:
		return messages.StateBootstrap
	}
	return messages.StateOperational
}

// auditEntry builds an audit entry stamped now.
func (s *System) auditEntry(o messages.Origin, action, targetType, targetID, details string) *messages.AuditEntry {
	now := s.Now()
	actorType := o.ActorType
	if actorType == "" {
		actorType = messages.ActorAnonymous
		if o.ActorID != "" {
			actorType = messages.ActorUser
		}
	}
	return &messages.AuditEntry{
		ID: messages.NewID(now), Action: action, ActorType: actorType, ActorID: o.ActorID,
		TargetType: targetType, TargetID: targetID, IP: o.IP, Details: details, CreatedAt: messages.TimeOf(now),
	}
}

// AuditEntry builds an audit entry stamped now, for the actors of later
// features and for handlers that record an event.
func (s *System) AuditEntry(o messages.Origin, action, targetType, targetID, details string) *messages.AuditEntry {
	return s.auditEntry(o, action, targetType, targetID, details)
}
