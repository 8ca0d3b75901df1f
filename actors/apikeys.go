package actors

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// API keys are owned by the accounts actor (accounts.go): it writes their
// records and publishes a copy-on-write view that request handlers read to
// authenticate a key without a storage read. A key's last use is kept in
// memory (apiKeyUse) and flushed every apiKeyFlushEvery and at shutdown, so
// using a key never costs a durable write of its own; a use from an address
// the key has not been used from is audited (one write, rare).

// apiKeyFlushEvery is how often unflushed lastUsedAt times are written.
const apiKeyFlushEvery = 10 * time.Second

// apiKeysView is the published snapshot of every key.
type apiKeysView struct {
	byHash map[string]*messages.APIKey
	byID   map[string]*messages.APIKey
}

// apiKeyUse is a key's live last use (unix ms): written by request
// handlers, flushed by the accounts actor.
type apiKeyUse struct {
	last    atomic.Int64
	flushed atomic.Int64
}

// apiKeyState is the System's part of the API keys.
type apiKeyState struct {
	view atomic.Pointer[apiKeysView]
	use  sync.Map // key id → *apiKeyUse
	// seen holds "id|ip" of addresses already reported to the actor, so
	// a burst of requests from a new address reports it once.
	seen sync.Map
}

// apiKeysTick is the accounts actor's periodic flush, from timer.
type apiKeysTick struct{ timer *flushTimer }

// flushTimer is one arming of the flush timer.
type flushTimer struct{ stop func() bool }

func (st *apiKeyState) init() {
	st.view.Store(&apiKeysView{byHash: map[string]*messages.APIKey{}, byID: map[string]*messages.APIKey{}})
}

// publish replaces the view with keys.
func (st *apiKeyState) publish(keys map[string]*messages.APIKey) {
	v := &apiKeysView{byHash: make(map[string]*messages.APIKey, len(keys)), byID: keys}
	for _, k := range keys {
		v.byHash[k.Hash] = k
	}
	st.view.Store(v)
}

// withKey is the current keys by id with k added or replaced (del: removed).
func (st *apiKeyState) withKey(k *messages.APIKey, del bool) map[string]*messages.APIKey {
	old := st.view.Load().byID
	next := make(map[string]*messages.APIKey, len(old)+1)
	for id, v := range old {
		next[id] = v
	}
	if del {
		delete(next, k.ID)
	} else {
		next[k.ID] = k
	}
	return next
}

func (a *accountsActor) loadAPIKeys() error {
	keys, err := a.sys.store.AllAPIKeys()
	if err != nil {
		return err
	}
	byID := make(map[string]*messages.APIKey, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
	}
	a.sys.keys.publish(byID)
	return nil
}

// startAPIKeyFlush arms the next lastUsedAt flush (Config.AfterFunc); each
// tick flushes and arms the next.
func (a *accountsActor) startAPIKeyFlush(ctx actor.Context) {
	self, root := ctx.Self(), a.sys.actors.Root
	ft := &flushTimer{}
	ft.stop = a.sys.afterFunc(apiKeyFlushEvery, func() { root.Send(self, &apiKeysTick{timer: ft}) })
	a.flush = ft
}

// stopAPIKeyFlush stops the timer and writes what is unflushed.
func (a *accountsActor) stopAPIKeyFlush() {
	if a.flush != nil {
		a.flush.stop()
		a.flush = nil
	}
	a.flushAPIKeyUse()
}

// flushAPIKeyUse writes the last-use times that changed since the last
// flush, in one transaction.
func (a *accountsActor) flushAPIKeyUse() {
	due := map[string]messages.Time{}
	a.sys.keys.use.Range(func(k, v any) bool {
		u := v.(*apiKeyUse)
		if last := u.last.Load(); last > u.flushed.Load() {
			due[k.(string)] = messages.Time(last)
		}
		return true
	})
	if len(due) == 0 {
		return
	}
	if err := a.sys.store.TouchAPIKeys(due); err != nil {
		a.sys.cfg.Logger.Warn("API key last-use flush", "err", err)
		return
	}
	for id, at := range due {
		if v, ok := a.sys.keys.use.Load(id); ok {
			v.(*apiKeyUse).flushed.Store(int64(at))
		}
	}
}

func (a *accountsActor) createAPIKey(msg *messages.CreateAPIKey) any {
	owned := 0
	for _, k := range a.sys.keys.view.Load().byID {
		if k.UserID == msg.UserID {
			owned++
		}
	}
	if owned >= messages.MaxAPIKeysPerUser {
		return messages.Errorf(messages.CodeConflict, "you have %d API keys, the most allowed: revoke some first", owned)
	}
	now := a.sys.Now()
	k := &messages.APIKey{
		ID: messages.NewID(now), UserID: msg.UserID, Name: msg.Name, Role: msg.Role, Prefix: msg.Prefix,
		ExpiresAt: msg.ExpiresAt, CreatedAt: messages.TimeOf(now), Hash: msg.Hash,
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditAPIKeyCreated, "apiKey", k.ID,
		k.Name+" "+string(k.Role)+" "+k.Prefix+" expires "+k.ExpiresAt.String())
	if err := a.sys.store.CreateAPIKey(k, audit); err != nil {
		return err
	}
	a.sys.keys.publish(a.sys.keys.withKey(k, false))
	return k
}

func (a *accountsActor) revokeAPIKey(msg *messages.RevokeAPIKey) any {
	k := a.sys.keys.view.Load().byID[msg.ID]
	if k == nil || (k.UserID != msg.Requester && !msg.AsAdmin) {
		return messages.NotFound("API key")
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditAPIKeyRevoked, "apiKey", k.ID, k.Name+" "+k.Prefix+" of user "+k.UserID)
	if err := a.sys.store.DeleteAPIKey(k.ID, audit); err != nil {
		return err
	}
	a.sys.keys.publish(a.sys.keys.withKey(k, true))
	a.sys.keys.use.Delete(k.ID)
	return &messages.Ack{}
}

// keyUsedFromNewAddress audits the first use of a key from an address and
// remembers the address (the latest messages.MaxAPIKeyAddresses).
func (a *accountsActor) keyUsedFromNewAddress(msg *messages.APIKeyUsedFromNewAddress) {
	cur := a.sys.keys.view.Load().byID[msg.ID]
	if cur == nil || slices.Contains(cur.Addresses, msg.IP) {
		return
	}
	k := *cur
	k.Addresses = append(append([]string(nil), cur.Addresses...), msg.IP)
	if n := len(k.Addresses); n > messages.MaxAPIKeyAddresses {
		k.Addresses = k.Addresses[n-messages.MaxAPIKeyAddresses:]
	}
	o := messages.Origin{ActorType: messages.ActorUser, ActorID: k.UserID, IP: msg.IP}
	audit := a.sys.auditEntry(o, messages.AuditAPIKeyUsed, "apiKey", k.ID, k.Name+" "+k.Prefix+" from "+msg.IP)
	if err := a.sys.store.SaveAPIKey(&k, audit); err != nil {
		a.sys.cfg.Logger.Warn("API key use audit", "err", err)
		a.sys.keys.seen.Delete(k.ID + "|" + msg.IP) // reported again on its next use
		return
	}
	a.sys.keys.publish(a.sys.keys.withKey(&k, false))
}

var (
	errBadAPIKey      = messages.Errorf(messages.CodeUnauthorized, "invalid or revoked API key")
	errExpiredAPIKey  = messages.Errorf(messages.CodeUnauthorized, "this API key has expired")
	errDisabledAPIKey = messages.Errorf(messages.CodeUnauthorized, "the owner of this API key is disabled")
)

// APIKeySession authenticates an API key used from ip: it exists, has not
// expired, and its owner exists and is enabled. It answers the owner as the
// key acts: with the lower of the key's role and the owner's current role
// (a copy; the shared user is never changed) and the key.
func (s *System) APIKeySession(key, ip string) (*messages.User, *messages.APIKey, error) {
	if !messages.IsAPIKeyText(key) {
		return nil, nil, errBadAPIKey
	}
	k := s.keys.view.Load().byHash[messages.HashAPIKey(key)]
	if k == nil {
		return nil, nil, errBadAPIKey
	}
	now := s.Now()
	if !now.Before(k.ExpiresAt.Std()) {
		return nil, nil, errExpiredAPIKey
	}
	owner := s.User(k.UserID)
	if owner == nil {
		return nil, nil, errBadAPIKey
	}
	if owner.Disabled {
		return nil, nil, errDisabledAPIKey
	}
	u := *owner
	u.Role = messages.LesserRole(k.Role, owner.Role)
	v, _ := s.keys.use.LoadOrStore(k.ID, &apiKeyUse{})
	use := v.(*apiKeyUse)
	if ms := now.UnixMilli(); ms > use.last.Load() {
		use.last.Store(ms)
	}
	if ip != "" && !slices.Contains(k.Addresses, ip) {
		if _, reported := s.keys.seen.LoadOrStore(k.ID+"|"+ip, struct{}{}); !reported {
			s.Tell(&messages.APIKeyUsedFromNewAddress{ID: k.ID, IP: ip})
		}
	}
	return &u, k, nil
}

// APIKeys lists the keys of a user (every user's when userID is ""),
// newest first, each with its live lastUsedAt. The records are copies.
func (s *System) APIKeys(userID string) []*messages.APIKey {
	var out []*messages.APIKey
	for _, k := range s.keys.view.Load().byID {
		if userID != "" && k.UserID != userID {
			continue
		}
		c := *k
		c.Addresses = nil
		if v, ok := s.keys.use.Load(k.ID); ok {
			if last := messages.Time(v.(*apiKeyUse).last.Load()); last > c.LastUsedAt {
				c.LastUsedAt = last
			}
		}
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *messages.APIKey) int { return strings.Compare(b.ID, a.ID) })
	return out
}
