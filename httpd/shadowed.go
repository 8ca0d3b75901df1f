package httpd

import (
	"slices"
	"sort"
	"strings"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// shadowedMethods registers a 405 answer for every method a fixed path does
// not have when a route with a parameter would otherwise take the path:
// GET /api/runners/heartbeat is POST /api/runners/heartbeat with the wrong
// method (405 METHOD_NOT_ALLOWED), not GET /api/runners/{id} of a runner
// named "heartbeat" (404). Its OPTIONS and 405 answers list only the fixed
// path's own methods in Allow (the router's would add the {id} routes').
// Generated ids never equal these fixed names, so no id becomes
// unreachable.
func (s *Server) shadowedMethods(r *router.Router) {
	methods := map[string][]string{} // fixed path → its methods
	for _, rt := range s.routes {
		if !strings.Contains(rt.Path, "{") {
			methods[rt.Path] = append(methods[rt.Path], rt.Method)
		}
	}
	for path, have := range methods {
		shadowed := false
		for _, rt := range s.routes {
			if strings.Contains(rt.Path, "{") && patternMatches(rt.Path, path) {
				shadowed = true
				break
			}
		}
		if !shadowed {
			continue
		}
		allow := append(append([]string(nil), have...), fasthttp.MethodOptions)
		sort.Strings(allow)
		allowed := strings.Join(allow, ", ")
		for _, m := range []string{fasthttp.MethodGet, fasthttp.MethodPost, fasthttp.MethodPut, fasthttp.MethodPatch, fasthttp.MethodDelete} {
			if !slices.Contains(have, m) {
				r.Handle(m, path, func(ctx *fasthttp.RequestCtx) { s.writeMethodNotAllowed(ctx, allowed) })
			}
		}
		r.Handle(fasthttp.MethodOptions, path, func(ctx *fasthttp.RequestCtx) {
			ctx.Response.Header.Set("Allow", allowed)
			s.options(ctx)
		})
	}
}

// writeMethodNotAllowed answers 405 METHOD_NOT_ALLOWED, with allow as the
// Allow header unless it is "" (the router has set it).
func (s *Server) writeMethodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	if allow != "" {
		ctx.Response.Header.Set("Allow", allow)
	}
	s.writeError(ctx, messages.Errorf(messages.CodeMethodNotAllowed, "method %s is not allowed here", ctx.Method()))
}

// patternMatches reports whether a route pattern with {parameters} matches
// the fixed path (segment by segment; a parameter matches any one segment).
func patternMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i, p := range ps {
		if p != xs[i] && !(strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}")) {
			return false
		}
	}
	return true
}
