package httpd

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/exekra/orchestrator/messages"
)

// Password rules: bcrypt reads at most 72 bytes, so longer passwords are
// refused rather than silently truncated.
const (
	minPassword = 8
	maxPassword = 72
	bcryptCost  = bcrypt.DefaultCost
)

// dummyHash is compared against when a login names no user, so unknown
// emails and wrong passwords take the same time (no user enumeration).
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("exekra-timing-equalizer"), bcryptCost)

func hashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

func checkPassword(name string, pw *string) error {
	if pw == nil {
		return messages.Invalid("%s is required", name)
	}
	if utf8.RuneCountInString(*pw) < minPassword { // characters, as the message says (bcrypt's limit below is bytes)
		return messages.Invalid("%s must be at least %d characters", name, minPassword)
	}
	if len(*pw) > maxPassword {
		return messages.Invalid("%s must be at most %d bytes", name, maxPassword)
	}
	return nil
}

// maxEmail is the longest address accepted (RFC 5321's path limit).
const maxEmail = 254

// maxDisplayName bounds the name of a user or a runner (in characters).
const maxDisplayName = 200

func checkEmail(email *string) error {
	if err := requireString("email", email); err != nil {
		return err
	}
	e := strings.TrimSpace(*email)
	at := strings.IndexByte(e, '@')
	if at < 1 || at == len(e)-1 || strings.ContainsFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) || len(e) > maxEmail {
		return messages.Invalid("email is not a valid address")
	}
	return nil
}

// nameOr is the trimmed name, or the email's local part when none is given.
func nameOr(name *string, email string) (string, error) {
	if name != nil {
		return messages.CleanName(*name, maxDisplayName)
	}
	return strings.SplitN(strings.TrimSpace(email), "@", 2)[0], nil
}

type credentialsBody struct {
	Email    *string        `json:"email"`
	Password *string        `json:"password"`
	Name     *string        `json:"name"`
	Role     *messages.Role `json:"role"`
}

// readNewUser decodes the credentials of a user to create (bootstrap,
// register) and checks the email, the password and the name (defaulted
// from the email).
func readNewUser(ctx *fasthttp.RequestCtx) (b credentialsBody, name string, err error) {
	if err = decodeJSON(ctx, &b); err != nil {
		return b, "", err
	}
	if err = checkEmail(b.Email); err != nil {
		return b, "", err
	}
	if err = checkPassword("password", b.Password); err != nil {
		return b, "", err
	}
	name, err = nameOr(b.Name, *b.Email)
	return b, name, err
}

// setSession issues a user token and sets it as the cookie.
func (s *Server) setSession(ctx *fasthttp.RequestCtx, u *messages.User) error {
	text, _, err := s.tokens.issue(kindUser, u.ID, u.SessionEpoch, userTokenTTL)
	if err != nil {
		return err
	}
	setSessionCookie(ctx, text, int(userTokenTTL/time.Second), s.cfg.Secure)
	NoStore(ctx)
	return nil
}

func (s *Server) clearSession(ctx *fasthttp.RequestCtx) {
	setSessionCookie(ctx, "", 0, s.cfg.Secure)
	NoStore(ctx)
}

var errBadLogin = messages.Errorf(messages.CodeUnauthorized, "invalid email or password")

// login checks the credentials in constant-ish time and starts a session.
func (s *Server) login(ctx *fasthttp.RequestCtx, r *request) error {
	if err := checkSessionOrigin(ctx); err != nil {
		return err
	}
	var b credentialsBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("email", b.Email); err != nil {
		return err
	}
	if len(*b.Email) > maxEmail {
		// No account has such an address; refused before it costs a bcrypt
		// and lands in the audit log.
		return messages.Invalid("email must be at most %d characters", maxEmail)
	}
	if b.Password == nil {
		return messages.Invalid("password is required")
	}
	// The per-account throttle comes first: a throttled email is refused
	// whatever the password (docs/security.md).
	gate, err := messages.Ask(s.core, &messages.BeginLogin{Email: *b.Email, Origin: r.origin()})
	if err != nil {
		return err
	}
	if t, ok := gate.(*messages.LoginThrottled); ok {
		secs := int((t.RetryAfter + time.Second - 1) / time.Second)
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(max(secs, 1)))
		return messages.Errorf(messages.CodeRateLimited,
			"too many failed logins for this account: try again in %d seconds", max(secs, 1))
	}
	u, err := s.store.UserByEmail(*b.Email)
	if err != nil {
		s.core.Tell(&messages.AbandonLogin{Email: *b.Email})
		return err
	}
	hash := dummyHash
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	pwOK := bcrypt.CompareHashAndPassword(hash, []byte(*b.Password)) == nil && u != nil
	if !pwOK {
		id := ""
		if u != nil {
			id = u.ID
		}
		if _, err := messages.Ask(s.core, &messages.RecordLogin{UserID: id, Email: *b.Email, Success: false, Origin: r.origin()}); err != nil {
			return err
		}
		return errBadLogin
	}
	// The live user decides (a disable or role change may be newer than
	// the copy read above).
	live := s.core.User(u.ID)
	if live == nil || live.Disabled {
		if _, err := messages.Ask(s.core, &messages.RecordLogin{UserID: u.ID, Email: *b.Email, Success: false, Origin: r.origin()}); err != nil {
			return err
		}
		return messages.Errorf(messages.CodeUnauthorized, "this account is disabled")
	}
	// The attempt is on record (durably) before a token leaves.
	if _, err := messages.Ask(s.core, &messages.RecordLogin{UserID: u.ID, Email: live.Email, Success: true, Origin: r.origin()}); err != nil {
		return err
	}
	// Answer with the user as recorded, so lastLoginAt is this login.
	if fresh := s.core.User(u.ID); fresh != nil {
		live = fresh
	}
	if err := s.setSession(ctx, live); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"user": live})
	return nil
}

// bootstrap creates the first admin (ACTIVATED only) and logs them in.
func (s *Server) bootstrap(ctx *fasthttp.RequestCtx, r *request) error {
	if err := checkSessionOrigin(ctx); err != nil {
		return err
	}
	switch s.core.State() {
	case messages.StateUnactivated:
		return messages.Errorf(messages.CodeConflict, "activate a license first")
	case messages.StateActivated:
	default:
		return messages.Errorf(messages.CodeConflict, "the system is already bootstrapped")
	}
	b, name, err := readNewUser(ctx)
	if err != nil {
		return err
	}
	hash, err := hashPassword(*b.Password)
	if err != nil {
		return err
	}
	u, err := messages.Ask(s.core, &messages.Bootstrap{Email: *b.Email, Name: name, PasswordHash: hash, Origin: r.origin()})
	if err != nil {
		return err
	}
	if err := s.setSession(ctx, u); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"user": u})
	return nil
}

// register creates a user (ADMIN).
func (s *Server) register(ctx *fasthttp.RequestCtx, r *request) error {
	b, name, err := readNewUser(ctx)
	if err != nil {
		return err
	}
	role := messages.RoleOperator
	if b.Role != nil {
		if !messages.ValidRole(*b.Role) {
			return messages.Invalid("role must be ADMIN, DEVELOPER or OPERATOR")
		}
		role = *b.Role
	}
	if err := s.core.CheckCanCreate(); err != nil {
		return err
	}
	hash, err := hashPassword(*b.Password)
	if err != nil {
		return err
	}
	return answerWrapped(s, ctx, fasthttp.StatusCreated, "user",
		&messages.CreateUser{Email: *b.Email, Name: name, Role: role, PasswordHash: hash, Origin: r.origin()})
}

// logout revokes the caller's token and clears the cookie.
func (s *Server) logout(ctx *fasthttp.RequestCtx, r *request) error {
	if r.apiKey != nil {
		return messages.Invalid("an API key is not a session: revoke it with DELETE /api/auth/api-keys/%s", r.apiKey.ID)
	}
	_, err := messages.Ask(s.core, &messages.RevokeToken{
		TokenID: r.claims.ID, ExpiresAt: messages.TimeOf(r.claims.ExpiresAt.Time), Origin: r.origin(),
	})
	if err != nil {
		return err
	}
	s.clearSession(ctx)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true})
	return nil
}

// me answers the caller.
func (s *Server) me(ctx *fasthttp.RequestCtx, r *request) error {
	NoStore(ctx)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"user": r.user})
	return nil
}

type passwordBody struct {
	CurrentPassword *string `json:"currentPassword"`
	NewPassword     *string `json:"newPassword"`
}

// changePassword changes the caller's own password and revokes their other tokens.
func (s *Server) changePassword(ctx *fasthttp.RequestCtx, r *request) error {
	var b passwordBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if b.CurrentPassword == nil {
		return messages.Invalid("currentPassword is required")
	}
	if err := checkPassword("newPassword", b.NewPassword); err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(r.user.PasswordHash), []byte(*b.CurrentPassword)) != nil {
		return messages.Errorf(messages.CodeForbidden, "the current password is wrong")
	}
	hash, err := hashPassword(*b.NewPassword)
	if err != nil {
		return err
	}
	NoStore(ctx)
	keep := ""
	if r.claims != nil { // a request made with an API key keeps no session
		keep = r.claims.ID
	}
	return answerWrapped(s, ctx, fasthttp.StatusOK, "user",
		&messages.ChangePassword{UserID: r.user.ID, PasswordHash: hash, KeepTokenID: keep, Origin: r.origin()})
}

// listUsers pages the users (ADMIN).
func (s *Server) listUsers(ctx *fasthttp.RequestCtx, _ *request) error {
	return writePage(ctx, "users", s.store.ListUsers)
}

type userPatchBody struct {
	Name     *string        `json:"name"`
	Role     *messages.Role `json:"role"`
	Disabled *bool          `json:"disabled"`
}

// updateUser changes a user's name, role or disabled flag (ADMIN).
func (s *Server) updateUser(ctx *fasthttp.RequestCtx, r *request) error {
	var b userPatchBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if b.Name == nil && b.Role == nil && b.Disabled == nil {
		return messages.Invalid("give at least one of name, role, disabled")
	}
	if b.Name != nil {
		if _, err := nameOr(b.Name, ""); err != nil {
			return err
		}
	}
	if b.Role != nil && !messages.ValidRole(*b.Role) {
		return messages.Invalid("role must be ADMIN, DEVELOPER or OPERATOR")
	}
	return answerWrapped(s, ctx, fasthttp.StatusOK, "user", &messages.UpdateUser{
		ID: pathParam(ctx, "id"), Name: b.Name, Role: b.Role, Disabled: b.Disabled, Origin: r.origin(),
	})
}

// listAudit pages the audit log (ADMIN).
func (s *Server) listAudit(ctx *fasthttp.RequestCtx, _ *request) error {
	return writePage(ctx, "entries", s.store.ListAudit)
}
