package loadgen

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// scenarioNames lists the scenarios in the order `all` runs them.
var scenarioNames = []string{"baseline", "poll", "heartbeat", "create", "webhook", "lifecycle", "scale"}

// otherScenarios run only by name: events measures the server's own memory
// and CPU over a load phase of at least 20 s; backlog measures memory and
// restart time with a queued backlog.
var otherScenarios = []string{"events", "backlog", "outbox"}

// config is everything the flags decide.
type config struct {
	scenario          string
	concurrency       int
	duration          time.Duration
	durationSet       bool
	requests          int64
	runners           int
	scaleRunners      int
	executions        int
	streams           int
	changeRate        float64
	queued            int
	triggers          int
	burst             int
	burstGap          time.Duration
	wait              time.Duration
	heartbeatInterval time.Duration
	rate              float64
	drainTimeout      time.Duration
	timeout           time.Duration
	url               string
	email             string
	password          string
	token             string
	bin               string
	jsonOut           bool
	markdown          string
}

const usageText = `usage: exekra loadtest <scenario> [flags]

scenarios: baseline, poll, heartbeat, create, webhook, lifecycle, scale, all (those);
events, backlog, outbox (not in all: the server's own memory under streams, memory and restart time with a queued
backlog, event deliveries to 10 subscriptions with a dead receiver)

flags:
  --concurrency N         concurrent clients (default 64)
  --duration D            how long each load phase runs (default 5s; scale: 60s)
  --requests N            stop a load phase after N requests (default 0: duration only)
  --runners N             simulated runners (default: poll/heartbeat = concurrency,
                          lifecycle 16, scale --scale-runners)
  --scale-runners N       scale: runners when --runners is not given (default 10000)
  --executions N          lifecycle: executions queued and run (default 200)
  --queued N              backlog: QUEUED executions written before the restart (default 200000)
  --triggers N            webhook: webhook triggers (default 8)
  --burst N               webhook: requests per burst per sender (default 20)
  --burst-gap D           webhook: pause between bursts (default 0: back to back)
  --wait D                lifecycle/scale: long-poll wait (default 10s; at most 60s)
  --heartbeat-interval D  scale: heartbeat period per runner (default 30s)
  --rate N                scale: executions created per second (default 20)
  --streams N             events: open live event streams (default 1000)
  --change-rate N         events: state changes (creations) per second; outbox: events (executions
                          created and stopped) per second (default 1000)
  --drain-timeout D       lifecycle/scale: how long to wait for the queue to drain (default 60s)
  --timeout D             per-request timeout (default 10s)
  --bin PATH              exekra binary for the self-managed server (default bin/exekra)
  --url URL               target a running server instead (needs --token or --email/--password)
  --email E, --password P admin credentials for --url
  --token T               admin bearer token for --url
  --json                  print results as JSON
  --markdown FILE         append a results section to FILE
`

// errHelp asks for the usage text.
var errHelp = errors.New("help requested")

// parseFlags reads `<scenario> [flags]` (flags may also come first).
func parseFlags(args []string) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("exekra loadtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.IntVar(&cfg.concurrency, "concurrency", 64, "")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "")
	fs.Int64Var(&cfg.requests, "requests", 0, "")
	fs.IntVar(&cfg.runners, "runners", 0, "")
	fs.IntVar(&cfg.scaleRunners, "scale-runners", 10000, "")
	fs.IntVar(&cfg.executions, "executions", 200, "")
	fs.IntVar(&cfg.streams, "streams", 1000, "")
	fs.Float64Var(&cfg.changeRate, "change-rate", 1000, "")
	fs.IntVar(&cfg.queued, "queued", 200000, "")
	fs.IntVar(&cfg.triggers, "triggers", 8, "")
	fs.IntVar(&cfg.burst, "burst", 20, "")
	fs.DurationVar(&cfg.burstGap, "burst-gap", 0, "")
	fs.DurationVar(&cfg.wait, "wait", 10*time.Second, "")
	fs.DurationVar(&cfg.heartbeatInterval, "heartbeat-interval", 30*time.Second, "")
	fs.Float64Var(&cfg.rate, "rate", 20, "")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 60*time.Second, "")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "")
	fs.StringVar(&cfg.url, "url", "", "")
	fs.StringVar(&cfg.email, "email", loadEmail, "")
	fs.StringVar(&cfg.password, "password", "", "")
	fs.StringVar(&cfg.token, "token", "", "")
	fs.StringVar(&cfg.bin, "bin", "bin/exekra", "")
	fs.BoolVar(&cfg.jsonOut, "json", false, "")
	fs.StringVar(&cfg.markdown, "markdown", "", "")

	rest := args
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cfg.scenario = rest[0]
		rest = rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, err
	}
	if cfg.scenario == "" && fs.NArg() > 0 {
		cfg.scenario = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return cfg, err
		}
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "duration" {
			cfg.durationSet = true
		}
	})
	return cfg, cfg.validate()
}

// validate rejects values no run could use.
func (c *config) validate() error {
	switch {
	case c.scenario == "":
		return errors.New("missing scenario (baseline, poll, heartbeat, create, webhook, lifecycle, scale, events, backlog or all)")
	case c.scenario != "all" && !contains(scenarioNames, c.scenario) && !contains(otherScenarios, c.scenario):
		return fmt.Errorf("unknown scenario %q", c.scenario)
	case c.concurrency < 1 || c.concurrency > 20000:
		return fmt.Errorf("--concurrency must be 1..20000, got %d", c.concurrency)
	case c.duration <= 0 || c.duration > 24*time.Hour:
		return fmt.Errorf("--duration must be positive and at most 24h, got %s", c.duration)
	case c.requests < 0:
		return fmt.Errorf("--requests must not be negative, got %d", c.requests)
	case c.runners < 0 || c.runners > 100000:
		return fmt.Errorf("--runners must be 0..100000, got %d", c.runners)
	case c.scaleRunners < 1 || c.scaleRunners > 100000:
		return fmt.Errorf("--scale-runners must be 1..100000, got %d", c.scaleRunners)
	case c.streams < 1 || c.streams > 100000:
		return fmt.Errorf("--streams must be 1..100000, got %d", c.streams)
	case c.changeRate <= 0 || c.changeRate > 100000:
		return fmt.Errorf("--change-rate must be above 0 and at most 100000, got %g", c.changeRate)
	case c.queued < 1 || c.queued > 10000000:
		return fmt.Errorf("--queued must be 1..10000000, got %d", c.queued)
	case c.executions < 1:
		return fmt.Errorf("--executions must be at least 1, got %d", c.executions)
	case c.triggers < 1:
		return fmt.Errorf("--triggers must be at least 1, got %d", c.triggers)
	case c.burst < 1:
		return fmt.Errorf("--burst must be at least 1, got %d", c.burst)
	case c.burstGap < 0:
		return fmt.Errorf("--burst-gap must not be negative")
	case c.wait < 0 || c.wait > 60*time.Second:
		return fmt.Errorf("--wait must be 0..60s, got %s", c.wait)
	case c.heartbeatInterval < time.Second:
		return fmt.Errorf("--heartbeat-interval must be at least 1s, got %s", c.heartbeatInterval)
	case c.rate <= 0:
		return fmt.Errorf("--rate must be positive")
	case c.drainTimeout <= 0:
		return fmt.Errorf("--drain-timeout must be positive")
	case c.timeout <= 0:
		return fmt.Errorf("--timeout must be positive")
	}
	if c.url != "" {
		if _, _, err := parseTarget(c.url); err != nil {
			return err
		}
		if c.token == "" && c.password == "" && c.scenario != "baseline" {
			return errors.New("--url needs --token or --email and --password of an admin")
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Main runs `exekra loadtest <scenario> [flags]` and returns the exit code:
// 0 when every check passed, 1 when a run or a correctness check failed, 2
// for bad flags or arguments.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usageText)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "exekra loadtest: %v\n", err)
		return 2
	}
	raiseFileLimit()
	stopSignals := cleanUpOnSignal(stderr)
	defer stopSignals()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "loadtest: "+format+"\n", a...)
	}
	names := []string{cfg.scenario}
	if cfg.scenario == "all" {
		names = scenarioNames
	}
	results := make([]Result, 0, len(names))
	for _, name := range names {
		res := runScenario(cfg, name, logf)
		results = append(results, res)
		if !cfg.jsonOut {
			writeText(stdout, res)
		}
	}
	if !cfg.jsonOut && len(results) > 1 {
		passed := 0
		for _, r := range results {
			if r.Passed {
				passed++
			}
		}
		fmt.Fprintf(stdout, "%d of %d scenarios passed\n", passed, len(results))
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(Report{Environment: currentEnvironment(), Results: results}); err != nil {
			fmt.Fprintf(stderr, "exekra loadtest: write json: %v\n", err)
			return 1
		}
	}
	if cfg.markdown != "" {
		if err := appendMarkdown(cfg.markdown, cfg, results); err != nil {
			fmt.Fprintf(stderr, "exekra loadtest: %v\n", err)
			return 1
		}
	}
	for _, r := range results {
		if !r.Passed {
			return 1
		}
	}
	return 0
}
