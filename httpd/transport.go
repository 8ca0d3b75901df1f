package httpd

import (
	"errors"
	"regexp"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// headersTooLarge answers request headers that do not fit the read buffer
// (4 KiB, server.go) with 431 REQUEST_HEADERS_TOO_LARGE, as JSON like every
// other error; it reports whether err was that.
func (s *Server) headersTooLarge(ctx *fasthttp.RequestCtx, err error) bool {
	var small *fasthttp.ErrSmallBuffer
	if !errors.As(err, &small) {
		return false
	}
	s.writeError(ctx, messages.Errorf(messages.CodeHeadersTooLarge, "request headers are too large (at most 4 KiB in all)"))
	return true
}

// options answers OPTIONS on a known path: 204 with Allow listing the
// path's methods (the router sets Allow; an unknown path stays 404). It
// needs no authentication and changes nothing.
func (s *Server) options(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	ctx.ResetBody()
}

// triggerPath matches a trigger's id in a path: it is its webhook's
// credential (docs/api.md), so no log line may show it.
var triggerPath = regexp.MustCompile(`(/api/triggers/(?:webhook/)?)[^/\s"'?#\\<>]+`)

// redactTriggerPaths hides the trigger ids of the paths in s.
func redactTriggerPaths(s string) string {
	return triggerPath.ReplaceAllString(s, "${1}<redacted>")
}
