package httpd

import (
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// API keys (docs/api.md, "API keys"): long-lived Bearer credentials for
// scripts and CI, owned by the accounts actor.

// apiKeyAuth authenticates a request whose Authorization Bearer credential
// is an API key ("exk_…"): it reports whether one was sent and, if so, the
// error to answer or nil with req filled as the key's owner acting with
// the key's role. A key is accepted only as a Bearer header, never as the
// cookie, so the cross-site rules for cookie requests never see one.
func (s *Server) apiKeyAuth(ctx *fasthttp.RequestCtx, req *request) (bool, error) {
	raw := bearerBytes(ctx)
	if !strings.HasPrefix(string(raw), messages.APIKeyMarker) {
		return false, nil
	}
	u, k, err := s.core.APIKeySession(string(raw), req.ip())
	if err != nil {
		return true, err
	}
	req.user, req.apiKey = u, k
	ctx.SetUserValue(keySubject, "apikey:"+k.ID)
	return true, nil
}

type apiKeyBody struct {
	Name      *string        `json:"name"`
	ExpiresAt *string        `json:"expiresAt"`
	Role      *messages.Role `json:"role"`
}

// maxAPIKeyName bounds a key's name (in characters).
const maxAPIKeyName = 200

// createAPIKey makes a key for the caller and shows it once.
func (s *Server) createAPIKey(ctx *fasthttp.RequestCtx, r *request) error {
	// A key is accepted wherever a user token is (docs/api.md, API keys),
	// here too: r.user.Role is then the key's own role (never above its
	// owner's), so a key makes keys of at most that role, and none that
	// outlives it (a leaked key cannot mint longer-lived ones).
	var b apiKeyBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("name", b.Name); err != nil {
		return err
	}
	name, err := messages.CleanName(*b.Name, maxAPIKeyName)
	if err != nil {
		return err
	}
	now := s.core.Now()
	expires := now.Add(messages.APIKeyDefaultTTL)
	if b.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *b.ExpiresAt)
		if err != nil {
			return messages.Invalid("expiresAt must be an RFC 3339 time")
		}
		switch {
		case !t.After(now):
			return messages.Invalid("expiresAt must be in the future")
		case t.After(now.Add(messages.APIKeyMaxTTL)):
			return messages.Invalid("expiresAt must be at most a year (365 days) ahead")
		}
		if r.apiKey != nil && t.After(r.apiKey.ExpiresAt.Std()) {
			return messages.Invalid("expiresAt must not be after the expiry of the API key making it (%s)", r.apiKey.ExpiresAt.Std().UTC().Format(time.RFC3339))
		}
		expires = t
	} else if r.apiKey != nil && expires.After(r.apiKey.ExpiresAt.Std()) {
		expires = r.apiKey.ExpiresAt.Std() // the default, cut to the making key's life
	}
	role := r.user.Role
	if b.Role != nil {
		if !messages.ValidRole(*b.Role) {
			return messages.Invalid("role must be ADMIN, DEVELOPER or OPERATOR")
		}
		if messages.RoleRank(*b.Role) > messages.RoleRank(r.user.Role) {
			return messages.Errorf(messages.CodeForbidden, "a key's role may not exceed yours (%s)", r.user.Role)
		}
		role = *b.Role
	}
	key := messages.NewAPIKeyText()
	res, err := messages.Ask(s.core, &messages.CreateAPIKey{
		UserID: r.user.ID, Name: name, Role: role, ExpiresAt: messages.TimeOf(expires),
		Hash: messages.HashAPIKey(key), Prefix: key[:messages.APIKeyPrefixLen], Origin: r.origin(),
	})
	if err != nil {
		return err
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"apiKey": res, "key": key})
	return nil
}

// listAPIKeys pages the caller's keys; an ADMIN's ?all=true pages everyone's.
func (s *Server) listAPIKeys(ctx *fasthttp.RequestCtx, r *request) error {
	page, err := pageOf(ctx)
	if err != nil {
		return err
	}
	owner := r.user.ID
	if v := ctx.QueryArgs().Peek("all"); len(v) > 0 {
		switch string(v) {
		case "true":
			if r.user.Role != messages.RoleAdmin {
				return messages.Errorf(messages.CodeForbidden, "only an ADMIN may list every user's keys")
			}
			owner = ""
		case "false":
		default:
			return messages.Invalid("all must be true or false")
		}
	}
	keys := s.core.APIKeys(owner)
	total := len(keys)
	from := min(page.Offset(), total)
	writeList(ctx, "apiKeys", slices.Clone(keys[from:min(from+page.Limit, total)]), page, total)
	return nil
}

// revokeAPIKey deletes a key: the caller's own, or any when ADMIN.
func (s *Server) revokeAPIKey(ctx *fasthttp.RequestCtx, r *request) error {
	return answerSuccess(s, ctx, &messages.RevokeAPIKey{
		ID: pathParam(ctx, "id"), Requester: r.user.ID, AsAdmin: r.user.Role == messages.RoleAdmin, Origin: r.origin(),
	})
}
