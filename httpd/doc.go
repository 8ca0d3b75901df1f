// Package httpd is Exekra's HTTP adapter: fasthttp with fasthttp/router.
//
// routes.go is the one route table (method, path, who may call it, whether
// it is rate limited, its handler); middleware.go wraps every route with
// panic recovery, request ids, the access log, the system-state gate, the
// license warning, authentication, role guards and the rate limiter; errors.go
// is the one error writer and the one table from error codes to statuses.
// Handlers are grouped by resource (handlers_*.go) and stay boring: decode,
// send a command to the actor that owns the state (or read history from
// storage through the small interfaces declared in deps.go), encode.
//
// httpd imports messages (and jwt); it reaches the actors and storage only
// through the interfaces it declares itself, so it never imports a sibling
// adapter.
package httpd
