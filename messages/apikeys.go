package messages

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// APIKey is a long-lived credential for scripts and CI (docs/api.md, "API
// keys"): it acts as its owner with its own role, never more than the
// owner's current one. The key itself is shown once at creation; the server
// keeps only its SHA-256.
type APIKey struct {
	ID         string `json:"id"`
	UserID     string `json:"userId"`
	Name       string `json:"name"`
	Role       Role   `json:"role"`
	Prefix     string `json:"prefix"`
	ExpiresAt  Time   `json:"expiresAt"`
	CreatedAt  Time   `json:"createdAt"`
	LastUsedAt Time   `json:"lastUsedAt"`

	// Hash is the hex SHA-256 of the key; it never leaves the server.
	Hash string `json:"-"`
	// Addresses are the client addresses the key has been used from (the
	// latest MaxAPIKeyAddresses), so a use from a new one is audited.
	Addresses []string `json:"-"`
}

// API key rules.
const (
	// APIKeyMarker starts every key, so a Bearer credential is told apart
	// from a session token without a lookup.
	APIKeyMarker = "exk_"
	// APIKeyPrefixLen is how many leading characters of a key are kept in
	// clear as its prefix (the marker and 8 characters: 48 bits, enough to
	// tell one's keys apart, far too few to guess the rest).
	APIKeyPrefixLen = len(APIKeyMarker) + 8
	// APIKeyDefaultTTL is the lifetime of a key created without expiresAt.
	APIKeyDefaultTTL = 90 * 24 * time.Hour
	// APIKeyMaxTTL is the furthest expiresAt may be.
	APIKeyMaxTTL = 365 * 24 * time.Hour
	// MaxAPIKeysPerUser bounds one user's keys.
	MaxAPIKeysPerUser = 100
	// MaxAPIKeyAddresses bounds the addresses remembered per key.
	MaxAPIKeyAddresses = 20
)

// NewAPIKeyText returns a fresh key: the marker and 256 random bits in
// unpadded base64url (47 characters in all).
func NewAPIKeyText() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("messages: crypto/rand failed: " + err.Error())
	}
	return APIKeyMarker + base64.RawURLEncoding.EncodeToString(b[:])
}

// IsAPIKeyText reports whether a credential has the form of an API key.
func IsAPIKeyText(s string) bool {
	return strings.HasPrefix(s, APIKeyMarker) && len(s) > APIKeyPrefixLen
}

// HashAPIKey is the stored form of a key: hex SHA-256 (the key carries 256
// random bits, so a fast hash is as good as a slow one).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// RoleRank orders the roles: OPERATOR 1 < DEVELOPER 2 < ADMIN 3 (0 for
// anything else).
func RoleRank(r Role) int {
	switch r {
	case RoleOperator:
		return 1
	case RoleDeveloper:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// LesserRole is the lower of two roles.
func LesserRole(a, b Role) Role {
	if RoleRank(a) <= RoleRank(b) {
		return a
	}
	return b
}

// CreateAPIKey stores a new key for UserID (the handler made the key and
// its hash). Reply: *APIKey.
type CreateAPIKey struct {
	UserID    string
	Name      string
	Role      Role
	ExpiresAt Time
	Hash      string
	Prefix    string
	Origin    Origin
}

// RevokeAPIKey deletes a key: the requester's own, or anyone's when
// AsAdmin. Reply: *Ack (NOT_FOUND for a key the requester may not see).
type RevokeAPIKey struct {
	ID        string
	Requester string
	AsAdmin   bool
	Origin    Origin
}

// APIKeyUsedFromNewAddress tells the accounts actor that a key was used
// from an address it had not seen: it audits the use and remembers the
// address. No reply.
type APIKeyUsedFromNewAddress struct {
	ID string
	IP string
}

// Audit actions of API keys.
const (
	AuditAPIKeyCreated = "auth.apikey.created"
	AuditAPIKeyUsed    = "auth.apikey.used_from_new_address"
	AuditAPIKeyRevoked = "auth.apikey.revoked"
)
