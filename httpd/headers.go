package httpd

import "github.com/valyala/fasthttp"

// Security headers (docs/security.md).

// hstsValue asks browsers to use HTTPS only for a year.
const hstsValue = "max-age=31536000"

// securityHeaders adds the headers every answer carries: nosniff (a JSON
// answer is never read as a script or a page), and over TLS the HSTS
// header.
func securityHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("X-Content-Type-Options", "nosniff")
	if ctx.IsTLS() {
		h.Set("Strict-Transport-Security", hstsValue)
	}
}

// NoStore marks an answer that sets a session or shows a secret: no cache
// (browser, proxy) may keep a copy. Call it from any handler whose answer
// holds a token, a password-equivalent or a secret shown once.
func NoStore(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
}
