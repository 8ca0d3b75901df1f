package httpd

import (
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/exekra/orchestrator/messages"
)

// Token kinds: a user token never works on runner endpoints and a runner
// token never works on user endpoints.
const (
	kindUser   = "user"
	kindRunner = "runner"
)

// Token lifetimes (docs/api.md, "Conventions"; the OpenAPI document).
const (
	userTokenTTL   = 7 * 24 * time.Hour
	runnerTokenTTL = 24 * time.Hour
)

// claims are the claims of every token the server issues: HS256 JWTs with a
// required expiry, a token id (for revocation), the subject's kind and the
// subject's session epoch (user password epoch, runner secret epoch).
type claims struct {
	Kind  string `json:"knd"`
	Epoch int64  `json:"ep"`
	jwt.RegisteredClaims

	subject string // "kind:subject" for the access log, made once when cached
}

// subjectKey is "kind:subject", the access log's subject.
func (c *claims) subjectKey() string {
	if c.subject != "" {
		return c.subject
	}
	return c.Kind + ":" + c.Subject
}

// tokens issues and verifies tokens. Verified tokens are cached (keyed by
// the token text, until their expiry) so the hot runner endpoints skip the
// HMAC; revocation, user and runner checks still run on every request.
type tokens struct {
	secret []byte
	parser *jwt.Parser
	now    func() time.Time

	mu    sync.RWMutex
	cache map[string]*claims
}

func newTokens(secret []byte, now func() time.Time) *tokens {
	return &tokens{
		secret: secret,
		now:    now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
		),
		cache: map[string]*claims{},
	}
}

// issue signs a new token for subject.
func (t *tokens) issue(kind, subject string, epoch int64, ttl time.Duration) (text string, c *claims, err error) {
	now := t.now()
	c = &claims{Kind: kind, Epoch: epoch, RegisteredClaims: jwt.RegisteredClaims{
		ID:        messages.NewID(now),
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	text, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", nil, fmt.Errorf("httpd: sign token: %w", err)
	}
	return text, c, nil
}

var errBadToken = messages.Errorf(messages.CodeUnauthorized, "invalid or expired token")

// verify checks a token's algorithm, signature and expiry and returns its
// claims. The answer is cached until the token expires.
func (t *tokens) verify(text string) (*claims, error) {
	t.mu.RLock()
	c, ok := t.cache[text]
	t.mu.RUnlock()
	if ok {
		if t.now().Before(c.ExpiresAt.Time) {
			return c, nil
		}
		t.mu.Lock()
		delete(t.cache, text)
		t.mu.Unlock()
		return nil, errBadToken
	}
	c = &claims{}
	tok, err := t.parser.ParseWithClaims(text, c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil || !tok.Valid || c.ID == "" || c.Subject == "" || (c.Kind != kindUser && c.Kind != kindRunner) {
		return nil, errBadToken
	}
	c.subject = c.Kind + ":" + c.Subject
	t.mu.Lock()
	if len(t.cache) >= 100_000 {
		t.pruneLocked()
	}
	t.cache[text] = c
	t.mu.Unlock()
	return c, nil
}

// verifyBytes is verify for a token still in fasthttp's buffers: a cached
// token is found without copying it (the runner endpoints' hot path).
func (t *tokens) verifyBytes(text []byte) (*claims, error) {
	t.mu.RLock()
	c, ok := t.cache[string(text)]
	t.mu.RUnlock()
	if ok && t.now().Before(c.ExpiresAt.Time) {
		return c, nil
	}
	return t.verify(string(text))
}

// pruneLocked drops expired entries, and everything if still full.
func (t *tokens) pruneLocked() {
	now := t.now()
	for k, c := range t.cache {
		if !now.Before(c.ExpiresAt.Time) {
			delete(t.cache, k)
		}
	}
	if len(t.cache) >= 100_000 {
		t.cache = map[string]*claims{}
	}
}
