package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/exekra/orchestrator/actors"
	"github.com/exekra/orchestrator/httpd"
	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// Config is everything `exekra serve` is configured with (docs/api.md, "Command line").
type Config struct {
	Addr               string
	DataDir            string
	TLSCert, TLSKey    string
	InsecureHTTP       bool
	LicensePublicKey   string
	JWTSecret          string
	RateLimit          int
	RunnerTTL          time.Duration
	OfflineGrace       time.Duration
	QueueTimeout       time.Duration
	StaleCheckInterval time.Duration
	RetentionDays      int
	LogLevel           string
	LogFormat          string
	// GCHeapFloorMiB is --gc-heap-floor (see gcfloor.go); 0 = off.
	GCHeapFloorMiB int
	// LoginMaxFailures is --login-max-failures (docs/security.md); 0 = off.
	LoginMaxFailures int
	// OutboundAllowLoopback is --outbound-allow-loopback (event
	// subscriptions may target loopback and link-local addresses).
	OutboundAllowLoopback bool
}

// Main is the server program: NewMain → ParseFlags → Run → Close.
type Main struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	// Now is the clock (time.Now when nil); end-to-end tests may move it.
	Now func() time.Time

	log    *slog.Logger
	store  *storage.Store
	system *actors.System
	http   *httpd.Server
	ln     net.Listener
	served chan error
	// retention is the --retention-days job (nil when off).
	retention *storage.Retention
	// stopHeapFloor ends the --gc-heap-floor tuning (nil when off).
	stopHeapFloor func()
	// stop bounds Close and names its current step (shutdown.go).
	stop closeBounds
}

// NewMain returns a Main with the documented defaults.
func NewMain() *Main {
	return &Main{
		Config: Config{
			Addr: ":4545", DataDir: "./data", RateLimit: 100,
			RunnerTTL: 120 * time.Second, OfflineGrace: 60 * time.Second,
			QueueTimeout: 30 * time.Minute, StaleCheckInterval: 5 * time.Second,
			LogLevel: "info", LogFormat: "text", GCHeapFloorMiB: 64,
			LoginMaxFailures: 10,
		},
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}
}

// minStrongSecret is the --jwt-secret length below which the server warns.
const minStrongSecret = 32

// ParseFlags reads serve's flags, each also settable as EXEKRA_<FLAG>.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	fs := pflag.NewFlagSet("exekra serve", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	m.defineFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usageErr("exekra serve: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("exekra serve: unexpected argument %q", fs.Arg(0))
	}
	return m.finishFlags(fs, getenv)
}

// finishFlags applies the environment to the flags not given and checks
// the result.
func (m *Main) finishFlags(fs *pflag.FlagSet, getenv func(string) string) error {
	if err := applyEnv("exekra serve", fs, getenv); err != nil {
		return err
	}
	return m.Config.validate()
}

// defineFlags declares serve's flags on fs with the current configuration
// as their defaults; every one of them may come from EXEKRA_<FLAG>.
func (m *Main) defineFlags(fs *pflag.FlagSet) {
	c := &m.Config
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (host:port; :PORT listens on every interface)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory: the database, the generated TLS certificate and keys")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate file (PEM; with --tls-key). Neither: a self-signed certificate generated on first start and kept in the data dir")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key file of --tls-cert (PEM)")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", false, "serve plain HTTP (development, or behind a TLS proxy); the session cookie then lacks Secure")
	fs.StringVar(&c.LicensePublicKey, "license-public-key", "", "Ed25519 public key (PEM file) that verifies licenses (default: the key built into the binary)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HMAC key for user and runner tokens (default: random, generated once and kept in the database)")
	fs.IntVar(&c.RateLimit, "rate-limit", c.RateLimit, "requests per minute per client on user-facing endpoints; 0 turns it off")
	fs.DurationVar(&c.RunnerTTL, "runner-ttl", c.RunnerTTL, "heartbeat TTL: a runner without a heartbeat for this long is OFFLINE")
	fs.DurationVar(&c.OfflineGrace, "offline-grace", c.OfflineGrace, "how long an ASSIGNED or RUNNING execution's runner may stay OFFLINE before its work is re-queued or failed")
	fs.DurationVar(&c.QueueTimeout, "queue-timeout", c.QueueTimeout, "a QUEUED execution no runner took in this time is FAILED")
	fs.DurationVar(&c.StaleCheckInterval, "stale-check-interval", c.StaleCheckInterval, "how often stale executions are looked for")
	fs.IntVar(&c.RetentionDays, "retention-days", 0, "remove finished executions completed more than this many days ago (0 = keep forever)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.IntVar(&c.GCHeapFloorMiB, "gc-heap-floor", c.GCHeapFloorMiB, "MiB the heap may reach before the garbage collector runs, while the live heap is small (0 = plain GOGC)")
	fs.IntVar(&c.LoginMaxFailures, "login-max-failures", c.LoginMaxFailures, "failed logins in a row for one email, from any address, before that email's logins answer 429 for a while (1 minute, doubling up to 15); 0 turns it off")
	fs.BoolVar(&c.OutboundAllowLoopback, "outbound-allow-loopback", false, "let event subscriptions target loopback and link-local addresses (tests, development)")
	withEnv(fs)
	documentDefaults(fs)
}

func (c *Config) validate() error {
	switch {
	case c.Addr == "":
		return usageErr("exekra serve: --addr must not be empty")
	case c.DataDir == "":
		return usageErr("exekra serve: --data-dir must not be empty")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return usageErr("exekra serve: --tls-cert and --tls-key go together")
	case c.InsecureHTTP && c.TLSCert != "":
		return usageErr("exekra serve: --insecure-http and --tls-cert exclude each other")
	case c.RateLimit < 0:
		return usageErr("exekra serve: --rate-limit must be 0 (off) or more")
	case c.RunnerTTL <= 0 || c.OfflineGrace < 0 || c.QueueTimeout <= 0 || c.StaleCheckInterval <= 0:
		return usageErr("exekra serve: --runner-ttl, --queue-timeout and --stale-check-interval must be positive, --offline-grace not negative")
	case c.LoginMaxFailures < 0:
		return usageErr("exekra serve: --login-max-failures must be 0 (off) or more")
	case c.RetentionDays < 0:
		return usageErr("exekra serve: --retention-days must be 0 (keep) or more")
	case c.GCHeapFloorMiB < 0 || c.GCHeapFloorMiB > 1<<20:
		return usageErr("exekra serve: --gc-heap-floor must be between 0 (off) and 1048576 MiB")
	}
	if err := c.validateAddr(); err != nil {
		return err
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return usageErr("exekra serve: %v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return usageErr("exekra serve: --log-format must be text or json")
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error")
	}
	return l, nil
}

// Run opens storage, starts the actor tree and serves HTTP in the
// background. It returns once the listener is up (Addr is then known).
func (m *Main) Run(ctx context.Context) (err error) {
	c := m.Config
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		m.log = slog.New(slog.NewJSONHandler(m.Stderr, opts))
	} else {
		m.log = slog.New(slog.NewTextHandler(m.Stderr, opts))
	}
	now := m.Now
	if now == nil {
		now = time.Now
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()

	if c.GCHeapFloorMiB > 0 {
		m.stopHeapFloor = startHeapFloor(uint64(c.GCHeapFloorMiB) << 20)
	}
	licenseKey, err := loadLicenseKey(c.LicensePublicKey)
	if err != nil {
		return err
	}
	m.store, err = storage.Open(c.DataDir, storage.Options{LockTimeout: 5 * time.Second, Logger: m.log})
	if err != nil {
		return err
	}
	secret := []byte(c.JWTSecret)
	if n := len(secret); n > 0 && n < minStrongSecret {
		// The contract sets no minimum, so a short key is taken; tokens are only as
		// hard to forge as the key is to guess, which the log says.
		m.log.Warn("the --jwt-secret is short: use at least 32 random characters in production", "length", n)
	}
	if len(secret) == 0 {
		if secret, err = m.store.JWTSecret(); err != nil {
			return err
		}
	}
	m.system, err = actors.Start(actors.Config{
		LicenseKey: licenseKey, Now: now, Logger: m.log,
		RunnerTTL: c.RunnerTTL, OfflineGrace: c.OfflineGrace, QueueTimeout: c.QueueTimeout,
		StaleCheckInterval: c.StaleCheckInterval, LoginMaxFailures: c.LoginMaxFailures,
		OutboundAllowLoopback: c.OutboundAllowLoopback,
	}, m.store)
	if err != nil {
		return err
	}
	if c.RetentionDays > 0 {
		m.retention = storage.StartRetention(m.store, c.RetentionDays, 0, now, m.log)
	}

	var tlsCfg *tls.Config
	if !c.InsecureHTTP {
		var generated bool
		tlsCfg, generated, err = loadTLS(c.TLSCert, c.TLSKey, c.DataDir)
		if err != nil {
			return err
		}
		if generated {
			m.log.Info("generated a self-signed TLS certificate", "cert", c.DataDir+"/"+selfSignedCert)
		}
	} else {
		m.log.Warn("serving plain HTTP (--insecure-http): use it only for development or behind a TLS proxy")
	}
	securePrivateFiles(m.log, c.DataDir, c.TLSKey)
	m.http = httpd.New(httpd.Config{
		Logger: m.log, RateLimit: c.RateLimit, Secure: tlsCfg != nil, JWTSecret: secret, Version: version,
		Figures: figuresOf(m.system, m.store, m.retention), Quarantined: m.store.Quarantined,
	}, m.system, m.store)

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.Addr, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	m.ln = ln
	m.served = make(chan error, 1)
	srv, served := m.http, m.served // Close may clear the fields before the goroutine runs
	go func() { served <- srv.Serve(ln) }()
	m.store.SweepQuarantine() // records that cannot be decoded, in the background (docs/operations.md)
	scheme := "https"
	if tlsCfg == nil {
		scheme = "http"
	}
	m.log.Info("exekra serving", "version", version, "addr", ln.Addr().String(), "scheme", scheme,
		"dataDir", c.DataDir, "state", m.system.State())
	if m.system.State() == messages.StateUnactivated {
		m.printFirstSteps(scheme)
	}
	m.warnLicense()
	return nil
}

// printFirstSteps tells a newcomer how to reach a working admin session.
func (m *Main) printFirstSteps(scheme string) {
	port := "4545"
	if _, p, err := net.SplitHostPort(m.ln.Addr().String()); err == nil {
		port = p
	}
	k, ca := "", ""
	if scheme == "https" {
		k = "-k "
		ca = "--ca-cert " + filepath.Join(m.Config.DataDir, selfSignedCert) + " "
	}
	url := scheme + "://localhost:" + port
	// Steps 1 and 2: a new key pair and a restart with its public half,
	// unless serve already verifies with a key of the user's own (then
	// the license must be signed with that key's private half).
	keySteps := `  1. exekra license keygen --out keys && exekra license issue --key keys/license.key --email admin@example.com --org Dev --out dev.lic
  2. restart serve with --license-public-key keys/license.pub`
	if p := m.Config.LicensePublicKey; p != "" {
		keySteps = `  1. exekra license issue --key <the private key of ` + p + `> --email admin@example.com --org Dev --out dev.lic
  2. (serve already verifies licenses with ` + p + `: no restart needed)`
	}
	fmt.Fprintf(m.Stdout, strings.TrimLeft(`
This server has no license yet (state UNACTIVATED). To get a development admin session:
%s
  3. curl %s-X POST %s/api/license/activate -H 'Content-Type: application/json' -d "{\"license\": \"$(cat dev.lic)\"}"
  4. curl %s-c cookies.txt -X POST %s/api/auth/bootstrap -H 'Content-Type: application/json' -d '{"email":"admin@example.com","password":"change-me-now","name":"Admin"}'
Or steps 3 and 4 with the client: exekra activate --server %s %s--license dev.lic
  and EXEKRA_PASSWORD=change-me-now exekra bootstrap --server %s %s--email admin@example.com
(In a checkout of the source, make run does all of this by itself.)
`, "\n"), keySteps, k, url, k, url, url, ca, url, ca)
}

// Addr is the listening address (after Run).
func (m *Main) Addr() net.Addr { return m.ln.Addr() }

// Wait blocks until the HTTP server stops on its own (an error) or ctx ends.
func (m *Main) Wait(ctx context.Context) error {
	select {
	case err := <-m.served:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Close shuts down gracefully: stop accepting, let in-flight requests
// finish (up to 70 s, past the longest long poll), stop the actor tree
// (each actor flushes), then close the database.
func (m *Main) Close() error {
	var errs []error
	if m.retention != nil {
		m.retention.Stop()
		m.retention = nil
	}
	if m.http != nil {
		// Stop accepting and let in-flight requests finish. Parked long
		// polls would hold that up for as long as their wait (up to 60 s),
		// so they are answered "no work" now, and again until the server has
		// stopped (a poll may still arrive on a kept-alive connection).
		m.stop.step("in-flight requests")
		ctx, cancel := context.WithTimeout(context.Background(), m.stop.drain())
		done := make(chan error, 1)
		// Marked closing before the first release: a poll released before
		// Shutdown's goroutine ran was answered without Connection: close.
		m.http.BeginShutdown()
		go func() { done <- m.http.Shutdown(ctx) }()
		tick := time.NewTicker(100 * time.Millisecond)
	drain:
		for {
			if m.system != nil {
				m.system.ReleasePolls()
			}
			select {
			case err := <-done:
				if err != nil && !m.stop.drainExpired(m.log, err) {
					errs = append(errs, err)
				}
				break drain
			case <-tick.C:
			}
		}
		tick.Stop()
		cancel()
		m.http = nil
	}
	if m.system != nil {
		m.stop.step("actor tree")
		m.stop.stopActors(m.log, m.system)
		m.system = nil
	}
	if m.store != nil {
		m.stop.step("database close")
		if err := m.store.Close(); err != nil {
			errs = append(errs, err)
		}
		m.store = nil
	}
	if m.stopHeapFloor != nil {
		m.stopHeapFloor()
		m.stopHeapFloor = nil
	}
	return errors.Join(errs...)
}

// serveCmd is `exekra serve`: run until SIGINT/SIGTERM, then close.
func serveCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	m := NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the orchestrator server",
		Long: `Run the orchestrator server until SIGINT or SIGTERM, then stop gracefully
(in-flight requests finish, the database is flushed and closed, exit 0).

Every flag may also be given as an environment variable EXEKRA_<FLAG>
(--rate-limit as EXEKRA_RATE_LIMIT, say); the command line wins.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.finishFlags(cmd.Flags(), getenv); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			return m.serveUntil(ctx)
		},
	}
	m.defineFlags(cmd.Flags())
	return cmd
}

// serveUntil parses serve's command line and runs it until ctx ends: the
// service manager's stop or shutdown when run as a service (service.go).
func serveUntil(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	m := NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	if err := m.ParseFlags(args, getenv); err != nil {
		return err
	}
	return m.serveUntil(ctx)
}

// serveUntil runs the configured server until ctx ends (a signal in a
// console, the service manager in a service), then closes it gracefully
// within the shutdown bounds (shutdown.go).
func (m *Main) serveUntil(ctx context.Context) error {
	if err := m.Run(ctx); err != nil {
		return err
	}
	serveErr := m.Wait(ctx)
	m.log.Info("shutting down")
	if err := m.shutdown(); err != nil {
		return err
	}
	if serveErr != nil {
		return serveErr
	}
	m.log.Info("stopped cleanly")
	return nil
}
