package actors

import (
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// accountsView is the accounts actor's published snapshot of every user.
// Users are few (licensed per seat), so a copy-on-write map is cheaper for
// the per-request session check than a storage read.
type accountsView struct {
	byID map[string]*messages.User
}

// revokedSet holds revoked token ids until they expire. Only the accounts
// actor writes it; request handlers read it.
type revokedSet struct{ m sync.Map } // token id → time.Time expiry

// accountsActor owns users and sessions.
//
// Handles: *messages.Bootstrap, *messages.CreateUser, *messages.UpdateUser,
// *messages.ChangePassword, *messages.RevokeToken, *messages.RecordLogin,
// *messages.RecordAudit, *messages.BeginLogin, *messages.AbandonLogin, and
// the API keys' *messages.CreateAPIKey, *messages.RevokeAPIKey,
// *messages.APIKeyUsedFromNewAddress (apikeys.go).
// Sends: replies, and *messages.EndStreams to events after a logout, a
// disabling or a password change. State: users (published as
// accountsView), revoked token ids, Census.Users, failed-login counts per
// email (in memory), API keys (published as apiKeysView). Timers: the API
// keys' last-use flush (apikeys.go).
type accountsActor struct {
	sys *System
	// throttle counts failed logins per email (login_throttle.go).
	throttle *loginThrottle
	// flush is the armed timer of the periodic lastUsedAt flush.
	flush *flushTimer
}

// Receive implements actor.Actor.
func (a *accountsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.throttle = newLoginThrottle(a.sys.cfg.LoginMaxFailures)
		if err := a.load(); err != nil {
			panic(err)
		}
		if err := a.loadAPIKeys(); err != nil {
			panic(err)
		}
		a.startAPIKeyFlush(ctx)
		reportReady(ctx, childAccounts)
	case *actor.Stopping, *actor.Restarting:
		a.stopAPIKeyFlush()
	case *apiKeysTick:
		if msg.timer == a.flush { // not a tick of a timer stopped meanwhile
			a.flushAPIKeyUse()
			a.startAPIKeyFlush(ctx)
		}
	case *messages.CreateAPIKey:
		ctx.Respond(a.createAPIKey(msg))
	case *messages.RevokeAPIKey:
		reply := a.revokeAPIKey(msg)
		ctx.Respond(reply)
		if _, ok := reply.(*messages.Ack); ok {
			// Streams opened with the key carry its id as their session.
			a.sys.endStreams(ctx, &messages.EndStreams{TokenID: msg.ID, Reason: "API key revoked"})
		}
	case *messages.APIKeyUsedFromNewAddress:
		a.keyUsedFromNewAddress(msg)
	case *messages.Bootstrap:
		ctx.Respond(a.bootstrap(msg))
	case *messages.CreateUser:
		ctx.Respond(a.create(msg))
	case *messages.UpdateUser:
		reply := a.update(msg)
		ctx.Respond(reply)
		if u, ok := reply.(*messages.User); ok && u.Disabled {
			a.sys.endStreams(ctx, &messages.EndStreams{UserID: u.ID, Reason: "user disabled"})
		}
	case *messages.ChangePassword:
		reply := a.changePassword(msg)
		ctx.Respond(reply)
		if u, ok := reply.(*messages.User); ok {
			a.sys.endStreams(ctx, &messages.EndStreams{UserID: u.ID, Except: msg.KeepTokenID, Reason: "password changed"})
		}
	case *messages.RevokeToken:
		reply := a.revoke(msg)
		ctx.Respond(reply)
		if _, ok := reply.(*messages.Ack); ok {
			a.sys.endStreams(ctx, &messages.EndStreams{TokenID: msg.TokenID, Reason: "logged out"})
		}
	case *messages.RecordLogin:
		a.throttle.end(msg.Email, msg.Success, false, a.sys.Now())
		var reply any = &messages.Ack{}
		if err := a.recordLogin(msg); err != nil {
			reply = err
		}
		respondIfAsked(ctx, reply)
	case *messages.BeginLogin:
		ctx.Respond(a.beginLogin(msg))
	case *messages.AbandonLogin:
		a.throttle.end(msg.Email, false, true, a.sys.Now())
	case *messages.RecordAudit:
		var reply any = &messages.Ack{}
		e := msg.Entry
		if err := a.sys.store.AppendAudit(&e); err != nil {
			reply = err
		}
		if ctx.Sender() != nil {
			ctx.Respond(reply)
		}
	}
}

func (a *accountsActor) load() error {
	users, err := a.sys.store.AllUsers()
	if err != nil {
		return err
	}
	view := &accountsView{byID: make(map[string]*messages.User, len(users))}
	for _, u := range users {
		view.byID[u.ID] = u
	}
	a.sys.accounts.Store(view)
	a.sys.census.Users.Store(int64(len(users)))
	revoked, err := a.sys.store.RevokedTokens(a.sys.Now())
	if err != nil {
		return err
	}
	for id, exp := range revoked {
		a.sys.revoked.m.Store(id, exp)
	}
	return nil
}

// put publishes a new snapshot with u replaced or added.
func (a *accountsActor) put(u *messages.User) {
	old := a.sys.accounts.Load()
	next := &accountsView{byID: make(map[string]*messages.User, len(old.byID)+1)}
	for k, v := range old.byID {
		next.byID[k] = v
	}
	next.byID[u.ID] = u
	a.sys.accounts.Store(next)
	a.sys.census.Users.Store(int64(len(next.byID)))
}

func (a *accountsActor) newUser(email, name string, role messages.Role, hash string) *messages.User {
	now := messages.TimeOf(a.sys.Now())
	return &messages.User{
		ID: messages.NewID(a.sys.Now()), Email: strings.TrimSpace(email), Name: strings.TrimSpace(name), Role: role,
		CreatedAt: now, UpdatedAt: now, PasswordHash: hash, SessionEpoch: 1,
	}
}

func (a *accountsActor) bootstrap(msg *messages.Bootstrap) any {
	switch a.sys.State() {
	case messages.StateUnactivated:
		return messages.Errorf(messages.CodeConflict, "activate a license first")
	case messages.StateActivated:
	default:
		return messages.Errorf(messages.CodeConflict, "the system is already bootstrapped")
	}
	if !strings.EqualFold(strings.TrimSpace(msg.Email), a.sys.LicenseEmail()) {
		return messages.Invalid("the first admin's email must be the licensee's email")
	}
	u := a.newUser(msg.Email, msg.Name, messages.RoleAdmin, msg.PasswordHash)
	u.LastLoginAt = u.CreatedAt // bootstrap logs the admin in
	audit := a.sys.auditEntry(messages.Origin{ActorType: messages.ActorUser, ActorID: u.ID, IP: msg.Origin.IP},
		messages.AuditBootstrap, "user", u.ID, u.Email)
	if err := a.sys.store.CreateUser(u, audit); err != nil {
		return err
	}
	a.put(u)
	return u
}

func (a *accountsActor) create(msg *messages.CreateUser) any {
	if err := a.sys.CheckLimit("users", a.sys.LicenseLimits().Users, a.sys.census.Users.Load()); err != nil {
		return err
	}
	u := a.newUser(msg.Email, msg.Name, msg.Role, msg.PasswordHash)
	audit := a.sys.auditEntry(msg.Origin, messages.AuditUserCreated, "user", u.ID, u.Email+" "+string(u.Role))
	if err := a.sys.store.CreateUser(u, audit); err != nil {
		return err
	}
	a.put(u)
	return u
}

// activeAdmins counts enabled admins other than except.
func (a *accountsActor) activeAdmins(except string) int {
	n := 0
	for id, u := range a.sys.accounts.Load().byID {
		if id != except && u.Role == messages.RoleAdmin && !u.Disabled {
			n++
		}
	}
	return n
}

func (a *accountsActor) update(msg *messages.UpdateUser) any {
	cur := a.sys.accounts.Load().byID[msg.ID]
	if cur == nil {
		return messages.NotFound("user")
	}
	u := *cur
	var changes []string
	if msg.Name != nil {
		u.Name = strings.TrimSpace(*msg.Name)
		changes = append(changes, "name")
	}
	if msg.Role != nil {
		u.Role = *msg.Role
		changes = append(changes, "role="+string(u.Role))
	}
	if msg.Disabled != nil {
		u.Disabled = *msg.Disabled
		if u.Disabled {
			changes = append(changes, "disabled")
			if !cur.Disabled {
				// Every session of theirs ends for good: enabling them
				// again does not bring the old tokens back.
				u.SessionEpoch++
				u.EpochSurvivor = ""
			}
		} else {
			changes = append(changes, "enabled")
		}
	}
	// An installation must keep one enabled admin: otherwise nobody could
	// manage it again short of editing the database.
	if cur.Role == messages.RoleAdmin && !cur.Disabled && (u.Role != messages.RoleAdmin || u.Disabled) &&
		a.activeAdmins(u.ID) == 0 {
		return messages.Errorf(messages.CodeConflict, "cannot demote or disable the last enabled admin")
	}
	u.UpdatedAt = messages.TimeOf(a.sys.Now())
	audit := a.sys.auditEntry(msg.Origin, messages.AuditUserUpdated, "user", u.ID, strings.Join(changes, ","))
	if err := a.sys.store.SaveUser(&u, audit); err != nil {
		return err
	}
	a.put(&u)
	return &u
}

func (a *accountsActor) changePassword(msg *messages.ChangePassword) any {
	cur := a.sys.accounts.Load().byID[msg.UserID]
	if cur == nil {
		return messages.NotFound("user")
	}
	u := *cur
	u.PasswordHash = msg.PasswordHash
	u.SessionEpoch++
	u.EpochSurvivor = msg.KeepTokenID
	u.UpdatedAt = messages.TimeOf(a.sys.Now())
	audit := a.sys.auditEntry(msg.Origin, messages.AuditPasswordChanged, "user", u.ID, "")
	if err := a.sys.store.SaveUser(&u, audit); err != nil {
		return err
	}
	a.put(&u)
	return &u
}

func (a *accountsActor) revoke(msg *messages.RevokeToken) any {
	exp := msg.ExpiresAt.Std()
	audit := a.sys.auditEntry(msg.Origin, messages.AuditLogout, "user", msg.Origin.ActorID, "")
	if err := a.sys.store.RevokeToken(msg.TokenID, exp, audit); err != nil {
		return err
	}
	a.sys.revoked.m.Store(msg.TokenID, exp)
	return &messages.Ack{}
}

// recordLogin writes a login attempt's audit entry (and a user's
// lastLoginAt) durably; the login answer waits for it.
func (a *accountsActor) recordLogin(msg *messages.RecordLogin) error {
	action := messages.AuditLoginFailed
	if msg.Success {
		action = messages.AuditLoginSucceeded
	}
	o := msg.Origin
	if msg.UserID != "" {
		o.ActorType, o.ActorID = messages.ActorUser, msg.UserID
	}
	audit := a.sys.auditEntry(o, action, "user", msg.UserID, msg.Email)
	if cur := a.sys.accounts.Load().byID[msg.UserID]; msg.Success && cur != nil {
		u := *cur
		u.LastLoginAt = messages.TimeOf(a.sys.Now())
		if err := a.sys.store.SaveUser(&u, audit); err != nil {
			a.sys.cfg.Logger.Error("record login", "err", err)
			return err
		}
		a.put(&u)
		return nil
	}
	if err := a.sys.store.AppendAudit(audit); err != nil {
		a.sys.cfg.Logger.Error("record login", "err", err)
		return err
	}
	return nil
}

// User returns the current snapshot of a user (nil when none). The value is
// shared and must not be mutated.
func (s *System) User(id string) *messages.User {
	return s.accounts.Load().byID[id]
}

// Session checks a user token's claims against the live user: the user
// exists and is enabled, the token's epoch is current (or it is the token
// that changed the password) and it was not revoked. It returns the user.
func (s *System) Session(userID, tokenID string, epoch int64) (*messages.User, error) {
	u := s.User(userID)
	if u == nil {
		return nil, messages.Errorf(messages.CodeUnauthorized, "session is no longer valid")
	}
	if u.Disabled {
		return nil, messages.Errorf(messages.CodeUnauthorized, "this account is disabled")
	}
	if epoch != u.SessionEpoch && tokenID != u.EpochSurvivor {
		return nil, messages.Errorf(messages.CodeUnauthorized, "session is no longer valid")
	}
	if s.TokenRevoked(tokenID) {
		return nil, messages.Errorf(messages.CodeUnauthorized, "session has ended")
	}
	return u, nil
}

// TokenRevoked reports whether a token id was revoked and has not expired.
func (s *System) TokenRevoked(tokenID string) bool {
	v, ok := s.revoked.m.Load(tokenID)
	return ok && s.Now().Before(v.(time.Time))
}
