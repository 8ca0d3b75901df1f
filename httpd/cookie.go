package httpd

import (
	"strconv"

	"github.com/valyala/fasthttp"
)

// setSessionCookie sets the session cookie "token" with its attributes
// spelled as the API reference names them (Path, Max-Age, HttpOnly,
// Secure, SameSite; fasthttp's own cookie writes "path", "max-age" and
// "secure" in lower case). maxAge 0 clears the cookie. The value is a
// token (base64url and dots), which needs no quoting.
func setSessionCookie(ctx *fasthttp.RequestCtx, value string, maxAge int, secure bool) {
	b := make([]byte, 0, len(value)+80)
	b = append(b, "token="...)
	b = append(b, value...)
	b = append(b, "; Path=/; Max-Age="...)
	b = strconv.AppendInt(b, int64(maxAge), 10)
	b = append(b, "; HttpOnly"...)
	if secure {
		b = append(b, "; Secure"...)
	}
	b = append(b, "; SameSite=Lax"...)
	ctx.Response.Header.SetBytesV(fasthttp.HeaderSetCookie, b)
}
