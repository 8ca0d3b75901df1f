package httpd

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// Cross-site request rules (docs/security.md). A browser sends the session
// cookie with requests that another site makes it send; those requests can
// only be "simple" ones (a form or a fetch without custom headers), which
// cannot carry an Authorization header nor declare a JSON body, and which
// modern browsers label with Origin and Sec-Fetch-Site. So a request
// authenticated by the cookie that changes something must:
//
//   - declare its body as application/json (parameters such as charset
//     allowed); a request with a body and no Content-Type is refused too
//     (a fetch of a Blob without a type sends none), one without a body
//     (logout) passes: 415 UNSUPPORTED_MEDIA_TYPE otherwise;
//   - come from the server's own origin when it names one (Origin "null"
//     is foreign), and not be labelled cross-site or same-site by
//     Sec-Fetch-Site: 403 FORBIDDEN otherwise.
//
// Bearer tokens (scripts, API keys), runner tokens and webhooks are not
// sent by browsers on their own, so they are not affected.

// Errors of the cross-site rules.
var (
	errForeignOrigin = messages.Errorf(messages.CodeForbidden,
		"cross-site request refused: a change made with the session cookie must come from this server's own origin")
	errForeignSession = messages.Errorf(messages.CodeForbidden,
		"cross-site request refused: logging in from a page must happen on this server's own origin")
	errNotJSON = messages.Errorf(messages.CodeUnsupportedMediaType,
		"a change made with the session cookie must send Content-Type: application/json")
)

// changesState reports the methods that change something (the rules apply
// to them only; GET and HEAD never change anything here).
func changesState(method []byte) bool {
	switch string(method) {
	case fasthttp.MethodPost, fasthttp.MethodPut, fasthttp.MethodPatch, fasthttp.MethodDelete:
		return true
	}
	return false
}

// checkCrossSite applies the rules to a request that the session cookie
// authenticated; nil lets it through.
func checkCrossSite(ctx *fasthttp.RequestCtx) error {
	h := &ctx.Request.Header
	if !changesState(h.Method()) {
		return nil
	}
	if foreignSite(ctx) {
		return errForeignOrigin
	}
	if !jsonContentType(h.ContentType(), len(ctx.Request.Body()) > 0) {
		return errNotJSON
	}
	return nil
}

// checkSessionOrigin guards the two answers that set the session cookie
// (login and bootstrap) with the origin rule: a page of another site could
// otherwise log a browser into an account of its choosing (login
// cross-site request forgery). Scripts send neither header and are not
// affected; the Content-Type rule does not apply here.
func checkSessionOrigin(ctx *fasthttp.RequestCtx) error {
	if foreignSite(ctx) {
		return errForeignSession
	}
	return nil
}

// foreignSite reports a request that the browser labels as made by another
// site: Sec-Fetch-Site cross-site or same-site, or an Origin other than the
// server's own ("null" included).
func foreignSite(ctx *fasthttp.RequestCtx) bool {
	h := &ctx.Request.Header
	if site := bytes.TrimSpace(h.Peek("Sec-Fetch-Site")); bytes.EqualFold(site, []byte("cross-site")) || bytes.EqualFold(site, []byte("same-site")) {
		return true
	}
	origin := bytes.TrimSpace(h.Peek("Origin"))
	return len(origin) > 0 && !sameOrigin(origin, ownOrigin(ctx))
}

// jsonContentType reports whether a Content-Type declares JSON: the media
// type application/json, any case, with or without parameters. No
// Content-Type at all is accepted only for a request without a body.
func jsonContentType(ct []byte, hasBody bool) bool {
	if len(bytes.TrimSpace(ct)) == 0 {
		return !hasBody
	}
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(ct), []byte("application/json"))
}

// origin is a scheme, host and port, lower-cased, the port always given.
type origin struct{ scheme, host, port string }

// ownOrigin is the origin the request was addressed to: the scheme it came
// in on and its Host header. Served over plain HTTP (--insecure-http, the
// way to run behind a TLS proxy), a proxy's X-Forwarded-Proto and
// X-Forwarded-Host name them instead: a browser cannot add those headers
// to a cross-site request (they would need a CORS preflight, which this
// server never grants), so trusting them opens nothing.
func ownOrigin(ctx *fasthttp.RequestCtx) origin {
	scheme, host := "http", string(ctx.Request.Header.Host())
	if ctx.IsTLS() {
		scheme = "https"
	} else {
		if p := firstListValue(ctx.Request.Header.Peek("X-Forwarded-Proto")); strings.EqualFold(p, "https") || strings.EqualFold(p, "http") {
			scheme = strings.ToLower(p)
		}
		if fh := firstListValue(ctx.Request.Header.Peek("X-Forwarded-Host")); fh != "" {
			host = fh
		}
	}
	o, ok := parseHostPort(scheme, host)
	if !ok {
		return origin{} // matches no Origin
	}
	return o
}

// firstListValue is the first item of a comma-separated header value,
// trimmed (a chain of proxies appends theirs after the first).
func firstListValue(v []byte) string {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return string(bytes.TrimSpace(v))
}

// sameOrigin reports whether an Origin header names own. The header must
// be exactly scheme "://" host [":" port]: "null", a path, user info or
// anything else unusual is foreign.
func sameOrigin(header []byte, own origin) bool {
	if own.host == "" {
		return false
	}
	scheme, rest, ok := strings.Cut(string(header), "://")
	if !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return false
	}
	o, ok := parseHostPort(scheme, rest)
	return ok && o == own
}

// parseHostPort reads host[:port] (an IPv6 host in brackets) of an origin
// with scheme, filling in the scheme's default port. Anything else than a
// plain host and a numeric port is refused.
func parseHostPort(scheme, hostport string) (origin, bool) {
	if hostport == "" || strings.ContainsAny(hostport, "/?#@\\ \t") {
		return origin{}, false
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return origin{}, false
		}
		host, port = hostport[:end+1], strings.TrimPrefix(hostport[end+1:], ":")
		if rest := hostport[end+1:]; rest != "" && !strings.HasPrefix(rest, ":") {
			return origin{}, false
		}
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
		if strings.IndexByte(host, ':') >= 0 {
			return origin{}, false
		}
	}
	if host == "" || host == "[]" {
		return origin{}, false
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	if len(port) > 5 || port[0] == '0' {
		return origin{}, false // browsers never write a port with leading zeros
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return origin{}, false
		}
	}
	return origin{scheme: scheme, host: strings.ToLower(host), port: port}, true
}
