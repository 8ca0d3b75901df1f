package actors

import (
	"time"

	"github.com/exekra/orchestrator/messages"
)

// Store is what the actors need from persistence. storage.Store implements
// it; tests may pass the real store on a temp dir. Every write returns once
// it is durable.
type Store interface {
	// license
	License() (string, error)
	SaveLicense(text string, onlyIfAbsent bool, audit *messages.AuditEntry) error
	// accounts
	CreateUser(u *messages.User, audit *messages.AuditEntry) error
	SaveUser(u *messages.User, audit *messages.AuditEntry) error
	AllUsers() ([]*messages.User, error)
	RevokeToken(tokenID string, expiresAt time.Time, audit *messages.AuditEntry) error
	RevokedTokens(now time.Time) (map[string]time.Time, error)
	AppendAudit(entries ...*messages.AuditEntry) error
}
