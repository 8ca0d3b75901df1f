package httpd

import (
	"errors"
	"log/slog"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// statusOf is the one table from error codes to HTTP statuses (docs/api.md, "Conventions").
var statusOf = map[messages.Code]int{
	messages.CodeValidation:        fasthttp.StatusBadRequest,
	messages.CodeUnauthorized:      fasthttp.StatusUnauthorized,
	messages.CodeForbidden:         fasthttp.StatusForbidden,
	messages.CodeLicenseLimit:      fasthttp.StatusForbidden,
	messages.CodeLicenseExpired:    fasthttp.StatusForbidden,
	messages.CodeNotFound:          fasthttp.StatusNotFound,
	messages.CodeConflict:          fasthttp.StatusConflict,
	messages.CodeInvalidTransition: fasthttp.StatusConflict,
	messages.CodeNoPublished:       fasthttp.StatusConflict,
	messages.CodePayloadTooLarge:   fasthttp.StatusRequestEntityTooLarge,
	messages.CodeHeadersTooLarge:   fasthttp.StatusRequestHeaderFieldsTooLarge,
	messages.CodeMethodNotAllowed:  fasthttp.StatusMethodNotAllowed,
	messages.CodeRateLimited:       fasthttp.StatusTooManyRequests,
	messages.CodeNotReady:          fasthttp.StatusServiceUnavailable,
	messages.CodeUnavailable:       fasthttp.StatusServiceUnavailable,
	messages.CodeInternal:          fasthttp.StatusInternalServerError,
	// docs/security.md: cookie-authenticated changes must be JSON.
	messages.CodeUnsupportedMediaType: fasthttp.StatusUnsupportedMediaType,
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error string        `json:"error"`
	Code  messages.Code `json:"code"`
}

// writeError answers err as {"error", "code"} with the status of its code.
// Errors that are not *messages.Error become INTERNAL with a generic message
// (the detail goes to the log, never to the caller).
func (s *Server) writeError(ctx *fasthttp.RequestCtx, err error) {
	var e *messages.Error
	if !errors.As(err, &e) {
		s.log.Error("request failed", "requestId", requestID(ctx), "route", routeOf(ctx), "err", err)
		e = &messages.Error{Code: messages.CodeInternal, Message: "internal error"}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = fasthttp.StatusInternalServerError
	}
	if status >= 500 && e.Code != messages.CodeInternal {
		s.log.Warn("request unavailable", "requestId", requestID(ctx), "route", routeOf(ctx), "code", e.Code, "err", err)
	}
	writeJSON(ctx, status, errorBody{Error: e.Message, Code: e.Code})
}

// logAttrs are the request's identifying log attributes.
func logAttrs(ctx *fasthttp.RequestCtx) []any {
	return []any{slog.String("requestId", requestID(ctx)), slog.String("route", routeOf(ctx))}
}
