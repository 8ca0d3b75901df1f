package httpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// MaxBodySize is the largest request body accepted (docs/api.md, "Conventions").
const MaxBodySize = 1 << 20

// transportBodyLimit is where fasthttp itself stops reading. It is well
// above MaxBodySize so that a client sending a slightly too large body has
// it read and gets a proper 413 JSON answer (checked in outer) instead of a
// connection reset mid-upload; far larger bodies are cut at the transport.
const transportBodyLimit = 16 << 20

// Config tunes the HTTP layer.
type Config struct {
	// Logger receives the access log and errors.
	Logger *slog.Logger
	// RateLimit is requests per minute per client on user-facing
	// endpoints; 0 turns limiting off.
	RateLimit int
	// Secure marks the session cookie Secure (served over TLS).
	Secure bool
	// JWTSecret is the HMAC key of user and runner tokens.
	JWTSecret []byte
	// Version is reported by the health endpoint.
	Version string
	// Extra are routes contributed by features wired in cmd (rare; most
	// routes live in routes.go).
	Extra []Route
	// Figures reads the live figures of the other layers for GET /metrics
	// (nil: those metrics read zero).
	Figures func() Figures
	// Quarantined counts the stored records moved aside because they
	// cannot be decoded (health and /metrics; nil reads zero).
	Quarantined func() int64
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	core    Core
	store   Store
	log     *slog.Logger
	tokens  *tokens
	limiter *limiter
	router  *router.Router
	routes  []Route
	srv     *fasthttp.Server
	// reqMetrics are the request figures of GET /metrics.
	reqMetrics httpMetrics
	// reqIDs numbers the requests that come without an X-Request-Id.
	reqIDs requestIDs
	// streams counts the open live event streams (handlers_events.go);
	// closing is closed when Shutdown starts, which ends them.
	streams atomic.Int64
	// streamsCutOff counts streams ended by a write that timed out.
	streamsCutOff atomic.Uint64
	closing       chan struct{}
	closingOnce   sync.Once
	// parked are the long polls parked without a goroutine (parked.go);
	// serving is set once Serve runs (only a served connection parks).
	parked  parkedPolls
	serving atomic.Bool
}

// New builds the server and its route table.
func New(cfg Config, core Core, store Store) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg,
		core:    core,
		store:   store,
		log:     cfg.Logger.With("component", "httpd"),
		tokens:  newTokens(cfg.JWTSecret, core.Now),
		closing: make(chan struct{}),
	}
	s.reqIDs.prefix = messages.RandomHex(6) + "-"
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit)
	}
	s.routes = append(s.routeTable(), cfg.Extra...)
	embeddedConsole()
	r := router.New()
	r.SaveMatchedRoutePath = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = true
	r.GlobalOPTIONS = s.options
	r.HandleMethodNotAllowed = true
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		if s.serveConsole(ctx) { // the web console: every path outside /api/ and /metrics
			return
		}
		if isConsolePath(ctx.Path()) { // a console path exists for GET and HEAD only
			s.writeMethodNotAllowed(ctx, "GET, HEAD")
			return
		}
		s.writeError(ctx, messages.Errorf(messages.CodeNotFound, "no such endpoint: %s %s", ctx.Method(), ctx.Path()))
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		s.writeMethodNotAllowed(ctx, "") // the router has set Allow
	}
	r.PanicHandler = func(ctx *fasthttp.RequestCtx, v any) {
		s.log.Error("panic in handler", append(logAttrs(ctx), "panic", v)...)
		ctx.ResetBody()
		s.writeError(ctx, messages.Errorf(messages.CodeInternal, "internal error"))
	}
	for _, rt := range s.routes {
		r.Handle(rt.Method, rt.Path, s.wrap(rt))
	}
	s.shadowedMethods(r)
	s.router = r
	s.srv = &fasthttp.Server{
		Handler:            s.outer(r.Handler),
		Name:               "exekra",
		MaxRequestBodySize: transportBodyLimit,
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       90 * time.Second, // long polls hold up to 60 s
		IdleTimeout:        120 * time.Second,
		// 4 KiB per connection holds any header we accept (a bearer token is
		// ~350 bytes); with 10,000 runners parked in long polls every KiB here
		// is 10 MiB of resident memory.
		ReadBufferSize: 4 << 10,
		// A parked long poll holds no read or write buffer: the reader goes
		// back to the pool once the request is read, the writer once the
		// answer is written (docs/performance.md, "Parked long polls").
		ReduceMemoryUsage:             true,
		DisableHeaderNamesNormalizing: false,
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 false,
		ErrorHandler:                  s.transportError,
		Logger:                        fasthttpLogger{s.log},
		CloseOnShutdown:               true,
		SecureErrorLogMessage:         true,
		// A parked long poll keeps its hijacked connection and hands it
		// back when answered (parked.go); the event streams close theirs.
		KeepHijackedConns: true,
		// The worker that served a connection until its poll parked idles
		// in fasthttp's pool (with its stack) until this passes: after
		// 10,000 runners connect at once, 10 s (the default) of 10,000 idle
		// workers is tens of MiB at the peak.
		MaxIdleWorkerDuration: 2 * time.Second,
	}
	return s
}

// Routes returns the route table (for tests and the OpenAPI check).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler is the whole request handler (for in-process tests and benchmarks).
func (s *Server) Handler() fasthttp.RequestHandler { return s.srv.Handler }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.serving.Store(true)
	return s.srv.Serve(ln)
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish (long polls are answered early: see Core's shutdown hook), up to
// ctx's deadline.
// Open event streams end at once.
// Parked long polls are answered (Connection: close) as the core releases
// them; those still parked when ctx ends have their connections closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.BeginShutdown()
	err := s.srv.ShutdownWithContext(ctx)
	if perr := s.releaseParked(ctx); err == nil {
		err = perr
	}
	return err
}

// BeginShutdown marks the server as closing without waiting: every parked
// poll answered from now on carries Connection: close. Shutdown does it
// first; a caller that releases parked polls while Shutdown runs in another
// goroutine calls it before (else an answer could precede the mark).
func (s *Server) BeginShutdown() {
	s.parked.mu.Lock() // an answer then either sees the close or is seen
	s.closingOnce.Do(func() { close(s.closing) })
	s.parked.mu.Unlock()
}

// transportError answers errors fasthttp meets before a handler runs: a body
// over the limit is 413 JSON (docs/api.md, "Details clients depend on"), anything else 400 JSON.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	defer securityHeaders(ctx)
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		s.writeError(ctx, errTooLarge)
		return
	}
	if s.headersTooLarge(ctx, err) {
		return
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		writeJSON(ctx, fasthttp.StatusRequestTimeout, errorBody{Error: "request timed out", Code: messages.CodeValidation})
		return
	}
	s.writeError(ctx, messages.Invalid("malformed HTTP request"))
}

// fasthttpLogger passes fasthttp's own messages on at debug, without the
// request bytes a parse error would quote (SecureErrorLogMessage) and with
// trigger ids redacted (transport.go).
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "msg", redactTriggerPaths(fmt.Sprintf(format, args...)))
}
