package refrunner

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Defaults used when a Config field is left at its zero value.
const (
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultStopCheckInterval = 5 * time.Second
	DefaultPollWait          = 25 * time.Second
	DefaultIdlePollDelay     = time.Second
	DefaultBackoffMin        = time.Second
	DefaultBackoffMax        = 60 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
	DefaultSampleInterval    = time.Second
	DefaultShutdownGrace     = 10 * time.Second
)

// Config holds everything a runner needs; zero durations take the defaults above.
type Config struct {
	// URL is the orchestrator's base URL, e.g. https://orchestrator:4545.
	URL string
	// MachineKey and MachineSecret are the credentials from runner registration.
	MachineKey    string
	MachineSecret string
	// InsecureSkipVerify accepts any TLS certificate from the orchestrator.
	InsecureSkipVerify bool
	// CAFile is a PEM file with extra certificates to trust (the server's self-signed one, say).
	CAFile string
	// AllowShell enables `shell` nodes; without it they fail the execution.
	AllowShell bool

	// HeartbeatInterval is the pause between heartbeats while idle.
	HeartbeatInterval time.Duration
	// StopCheckInterval is the pause between stop checks (heartbeats) and progress reports while running.
	StopCheckInterval time.Duration
	// PollWait is the long-poll wait asked of the server (sent in whole seconds).
	PollWait time.Duration
	// IdlePollDelay is the least time between the starts of two polls, so a server that answers
	// at once never makes the runner spin.
	IdlePollDelay time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff used when the server is
	// unreachable or failing.
	BackoffMin, BackoffMax time.Duration
	// RequestTimeout bounds every request (a poll gets PollWait on top).
	RequestTimeout time.Duration
	// SampleInterval is how often host metrics are sampled during an execution.
	SampleInterval time.Duration
	// ShutdownGrace bounds the final report sent after ctx is cancelled mid-execution.
	ShutdownGrace time.Duration

	// Logger receives the runner's own log; nil discards it.
	Logger *slog.Logger
	// HTTPClient talks to the orchestrator; nil builds one from InsecureSkipVerify and CAFile.
	HTTPClient *http.Client
	// NodeHTTPClient performs `http` nodes; nil uses a plain client with default TLS checks.
	NodeHTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults validates cfg and returns a copy with every zero field filled in.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		return cfg, errors.New("--url is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("--url must be an absolute http or https URL, got %q", cfg.URL)
	}
	if u.User != nil {
		return cfg, errors.New("--url must not carry credentials")
	}
	if cfg.MachineKey == "" {
		return cfg, errors.New("--machine-key is required")
	}
	if cfg.MachineSecret == "" {
		return cfg, errors.New("--machine-secret is required")
	}
	setDefault(&cfg.HeartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&cfg.StopCheckInterval, DefaultStopCheckInterval)
	setDefault(&cfg.IdlePollDelay, DefaultIdlePollDelay)
	setDefault(&cfg.BackoffMin, DefaultBackoffMin)
	setDefault(&cfg.BackoffMax, DefaultBackoffMax)
	setDefault(&cfg.RequestTimeout, DefaultRequestTimeout)
	setDefault(&cfg.SampleInterval, DefaultSampleInterval)
	setDefault(&cfg.ShutdownGrace, DefaultShutdownGrace)
	if cfg.PollWait < 0 {
		cfg.PollWait = 0
	}
	if cfg.PollWait > 60*time.Second {
		cfg.PollWait = 60 * time.Second
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		hc, err := orchestratorClient(cfg.InsecureSkipVerify, cfg.CAFile)
		if err != nil {
			return cfg, err
		}
		cfg.HTTPClient = hc
	}
	if cfg.NodeHTTPClient == nil {
		cfg.NodeHTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return cfg, nil
}

// setDefault stores def in *d when *d is not positive.
func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// orchestratorClient builds the HTTP client used for the orchestrator API.
func orchestratorClient(insecure bool, caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-cert: no PEM certificate in %s", caFile)
		}
		tlsCfg.RootCAs = pool
	}
	tlsCfg.InsecureSkipVerify = insecure //nolint:gosec // explicit operator choice (--insecure-skip-verify)
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr}, nil
}
