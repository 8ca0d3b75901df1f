package httpd

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// Keys of per-request values kept on the RequestCtx.
const (
	keyRequestID = "exekra.requestId"
	keySubject   = "exekra.subject"
	keyParked    = "exekra.parked" // the long poll the request parked (parked.go)
)

// request is what the middleware learned about a request, handed to the
// handler.
type request struct {
	ctx    *fasthttp.RequestCtx // valid while the handler runs
	ipText string               // the client IP as text, once asked for
	user   *messages.User       // the caller, on user routes
	claims *claims              // the verified token (user or runner), when one was sent
	runner string               // the runner id, on runner routes with a token
	// viaCookie: the session cookie authenticated the caller (no Bearer
	// token), so the cross-site rules apply (crosssite.go).
	viaCookie bool
	apiKey    *messages.APIKey // the API key, when one authenticated the request (apikeys.go)
}

// ip is the client's IP address as text. It is formatted on first use: the
// hot runner paths (the idle poll) never need it.
func (r *request) ip() string {
	if r.ipText == "" {
		r.ipText = r.ctx.RemoteIP().String()
	}
	return r.ipText
}

// origin is the request's audit origin.
func (r *request) origin() messages.Origin {
	switch {
	case r.user != nil:
		return messages.Origin{ActorType: messages.ActorUser, ActorID: r.user.ID, IP: r.ip()}
	case r.runner != "":
		return messages.Origin{ActorType: messages.ActorRunner, ActorID: r.runner, IP: r.ip()}
	}
	return messages.Origin{ActorType: messages.ActorAnonymous, IP: r.ip()}
}

// outer runs around the router for every request, matched or not: request
// id, the license warning header and the access log.
func (s *Server) outer(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		id := sanitizeRequestID(ctx.Request.Header.Peek("X-Request-Id"))
		if id == "" {
			id = s.reqIDs.next()
		}
		ctx.SetUserValue(keyRequestID, id)
		ctx.Response.Header.Set("X-Request-Id", id)
		if len(ctx.Request.Body()) > MaxBodySize {
			s.writeError(ctx, errTooLarge)
		} else {
			next(ctx)
		}
		if p := parkedOf(ctx); p != nil {
			// Answered later, without this goroutine: the answer ends it.
			p.note(ctx, start)
			return
		}
		s.endRequest(ctx, start)
	}
}

// endRequest ends every answer: the headers added last, the request
// metrics and the access log.
func (s *Server) endRequest(ctx *fasthttp.RequestCtx, start time.Time) {
	// After the handler too: a handler may reset the response.
	securityHeaders(ctx)
	// After the handler (fasthttp sends nothing before it returns), so
	// the answer that activates or renews into GRACE_PERIOD carries it.
	if s.core.LicenseState() == messages.LicenseGrace {
		ctx.Response.Header.Set("X-License-Warning", s.graceWarning())
	}
	s.observeRequest(ctx, start)
	s.accessLog(ctx, start)
}

func (s *Server) graceWarning() string {
	st := s.core.LicenseStatus()
	return "license expired on " + st.ExpiresAt.String() + "; grace period ends on " + st.GraceEndsAt.String() + ": renew it"
}

var errTooLarge = messages.Errorf(messages.CodePayloadTooLarge, "request body is larger than 1 MiB")

// quietRoutes are logged at debug: runners call them all the time.
var quietRoutes = map[string]bool{
	"/api/runners/heartbeat": true, "/api/runners/poll": true, "/api/health": true,
	"/metrics": true, "/api/executions/{id}/status": true,
}

func (s *Server) accessLog(ctx *fasthttp.RequestCtx, start time.Time) {
	route := routeOf(ctx)
	level := slog.LevelInfo
	if quietRoutes[route] {
		level = slog.LevelDebug
	}
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	subject, _ := ctx.UserValue(keySubject).(string)
	s.log.Log(context.Background(), level, "request",
		"requestId", requestID(ctx), "method", string(ctx.Method()), "route", route,
		"status", ctx.Response.StatusCode(), "durationMs", float64(time.Since(start).Microseconds())/1000,
		"ip", ctx.RemoteIP().String(), "subject", subject, "bytes", responseSize(ctx))
}

// responseSize is the response body's size, without draining a streamed
// body (a backup) into memory: -1 when not known yet.
func responseSize(ctx *fasthttp.RequestCtx) int {
	if ctx.Response.IsBodyStream() {
		return ctx.Response.Header.ContentLength()
	}
	return len(ctx.Response.Body())
}

// sanitizeRequestID keeps a client's request id when it is short and plain.
func sanitizeRequestID(b []byte) string {
	if len(b) == 0 || len(b) > 64 {
		return ""
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return string(b)
}

// requestIDs makes the ids of requests that bring none: a random prefix
// per server start and a counter, so ids are unique across restarts and
// cheap (the crypto-random record ids cost ~1.5 % of a creation's CPU).
// They identify a request in logs and answers; they are not secrets.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

// next returns a new id: the prefix then the count in base 36.
func (r *requestIDs) next() string {
	var b [32]byte
	out := append(b[:0], r.prefix...)
	return string(strconv.AppendUint(out, r.n.Add(1), 36))
}

// requestID is the request's id.
func requestID(ctx *fasthttp.RequestCtx) string {
	id, _ := ctx.UserValue(keyRequestID).(string)
	return id
}

// routeOf is the matched route template ("" when none). Logs use it instead
// of the raw path, which may hold a webhook credential.
func routeOf(ctx *fasthttp.RequestCtx) string {
	p, _ := ctx.UserValue(router.MatchedRoutePathParam).(string)
	if p == "" {
		return "unmatched"
	}
	return p
}

// The rate-limit headers' names, spelled as docs/api.md writes them.
var (
	hdrRateLimitLimit     = []byte("X-RateLimit-Limit")
	hdrRateLimitRemaining = []byte("X-RateLimit-Remaining")
	hdrRateLimitReset     = []byte("X-RateLimit-Reset")
)

// wrap builds the chain of one route: system-state gate, authentication,
// rate limit, role guard, then the handler.
func (s *Server) wrap(rt Route) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !rt.BeforeReady && !s.core.State().Ready() {
			s.writeError(ctx, messages.Errorf(messages.CodeNotReady,
				"the system is %s: activate a license and bootstrap the first admin", s.core.State()))
			return
		}
		req := &request{ctx: ctx}
		authErr := s.authenticate(ctx, rt, req)
		if rt.Limited && s.limiter != nil {
			client := "ip:" + req.ip()
			if req.user != nil {
				client = "user:" + req.user.ID
			}
			res := s.limiter.take(client, time.Now())
			h := &ctx.Response.Header
			// SetCanonical keeps the names as documented (Set would
			// normalize them to X-Ratelimit-…).
			h.SetCanonical(hdrRateLimitLimit, strconv.AppendInt(nil, int64(res.limit), 10))
			h.SetCanonical(hdrRateLimitRemaining, strconv.AppendInt(nil, int64(res.remaining), 10))
			h.SetCanonical(hdrRateLimitReset, strconv.AppendInt(nil, int64((res.resetIn+time.Second-1)/time.Second), 10))
			if !res.allowed {
				h.Set("Retry-After", strconv.Itoa(int(res.retryAfter/time.Second)+1))
				s.writeError(ctx, messages.Errorf(messages.CodeRateLimited, "too many requests: the limit is %d per minute", res.limit))
				return
			}
		}
		if authErr != nil {
			s.writeError(ctx, authErr)
			return
		}
		if req.viaCookie {
			if err := checkCrossSite(ctx); err != nil {
				s.writeError(ctx, err)
				return
			}
		}
		if len(rt.Roles) > 0 && !hasRole(req.user, rt.Roles) {
			s.writeError(ctx, messages.Errorf(messages.CodeForbidden, "your role may not do this"))
			return
		}
		if err := rt.Handle(s, ctx, req); err != nil {
			ctx.Response.ResetBody()
			s.writeError(ctx, err)
		}
	}
}

func hasRole(u *messages.User, roles []messages.Role) bool {
	if u == nil {
		return false
	}
	for _, r := range roles {
		if u.Role == r {
			return true
		}
	}
	return false
}

// bearerBytes is the Authorization Bearer token of the request, as bytes
// owned by fasthttp (nil when none).
func bearerBytes(ctx *fasthttp.RequestCtx) []byte {
	if h := ctx.Request.Header.Peek("Authorization"); len(h) > 7 && bytes.EqualFold(h[:7], []byte("Bearer ")) {
		return bytes.TrimSpace(h[7:])
	}
	return nil
}

// authenticate fills req according to the route's access rule. It returns
// the error to answer when the caller may not pass (after rate limiting, so
// failed attempts count against the caller's IP).
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, rt Route, req *request) error {
	switch rt.Access {
	case Public:
		return nil
	case AnyUser, Roles:
		if isKey, err := s.apiKeyAuth(ctx, req); isKey {
			return err
		}
		raw := bearerBytes(ctx) // fasthttp's bytes: looked up without a copy
		if len(raw) == 0 {
			raw = ctx.Request.Header.Cookie("token")
			req.viaCookie = len(raw) > 0
		}
		if len(raw) == 0 {
			return messages.Errorf(messages.CodeUnauthorized, "authentication required")
		}
		c, err := s.tokens.verifyBytes(raw)
		if err != nil {
			return err
		}
		if c.Kind != kindUser {
			return messages.Errorf(messages.CodeUnauthorized, "a user token is required here")
		}
		u, err := s.core.Session(c.Subject, c.ID, c.Epoch)
		if err != nil {
			return err
		}
		req.user, req.claims = u, c
		ctx.SetUserValue(keySubject, c.subjectKey())
		return nil
	case Runner, RunnerOrCredentials:
		// Runners call these routes all the time (the idle poll is the
		// hottest path): the token is looked up without copying it.
		raw := bearerBytes(ctx)
		if len(raw) == 0 {
			if rt.Access == RunnerOrCredentials {
				return nil // the handler authenticates the machine credentials in the body
			}
			return messages.Errorf(messages.CodeUnauthorized, "a runner token is required")
		}
		c, err := s.tokens.verifyBytes(raw)
		if err != nil {
			return err
		}
		if c.Kind != kindRunner {
			return messages.Errorf(messages.CodeUnauthorized, "a runner token is required here")
		}
		if err := s.core.RunnerSession(c.Subject, c.ID, c.Epoch); err != nil {
			return err
		}
		req.claims, req.runner = c, c.Subject
		ctx.SetUserValue(keySubject, c.subjectKey())
		return nil
	}
	return messages.Errorf(messages.CodeInternal, "route has no access rule")
}
