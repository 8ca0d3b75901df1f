package refrunner

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Execution statuses a runner reports.
const (
	StatusRunning   = "RUNNING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusStopped   = "STOPPED"
)

// Assignment is the execution a poll answer hands to the runner.
type Assignment struct {
	ID           string          `json:"id"`
	WorkflowID   string          `json:"workflowId"`
	WorkflowName string          `json:"workflowName"`
	VersionID    string          `json:"versionId"`
	GraphJSON    json.RawMessage `json:"graphJson"`
	Input        json.RawMessage `json:"input"`
	// Assets are the values of the assets the graph references (assets.go).
	Assets map[string]AssetValue `json:"assets,omitempty"`
}

// heartbeatRequest is the body of POST /api/runners/heartbeat.
type heartbeatRequest struct {
	IPAddress string      `json:"ipAddress"`
	Metrics   HostMetrics `json:"metrics"`
}

// heartbeatAnswer is the answer to a heartbeat.
type heartbeatAnswer struct {
	Status           string   `json:"status"`
	TTLSeconds       int      `json:"ttlSeconds"`
	StopExecutionIDs []string `json:"stopExecutionIds"`
}

// pollAnswer is the answer to GET /api/runners/poll.
type pollAnswer struct {
	HasWork          bool        `json:"hasWork"`
	Execution        *Assignment `json:"execution"`
	StopExecutionIDs []string    `json:"stopExecutionIds"`
	// Assets come with the answer that hands an execution over.
	Assets map[string]AssetValue `json:"assets"`
}

// Run connects to the orchestrator and works until ctx ends (then it returns
// nil after a clean stop) or the orchestrator rejects the machine credentials
// (ErrCredentialsRejected). An unreachable or failing server is retried with
// backoff, never given up on.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	r := newRunner(cfg)
	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)

	if err := r.connect(runCtx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.heartbeatLoop(runCtx, fail) })
	r.pollLoop(runCtx, fail)
	fail(nil)
	wg.Wait()
	if ctx.Err() != nil {
		r.log.Info("runner stopped")
		return nil
	}
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// runner is one running reference runner.
type runner struct {
	cfg  Config
	api  *client
	log  *slog.Logger
	cpu  cpuMeter
	dir  string
	kick chan struct{}

	mu          sync.Mutex
	current     string                  // id of the execution being run, "" when idle
	stopCurrent context.CancelCauseFunc // cancels it
}

// newRunner builds a runner for a defaulted cfg.
func newRunner(cfg Config) *runner {
	dir, err := os.Getwd()
	if err != nil {
		dir = "."
	}
	r := &runner{cfg: cfg, api: newClient(cfg), log: cfg.Logger, dir: dir, kick: make(chan struct{}, 1)}
	r.cpu.percent() // baseline, so the first heartbeat shows recent use rather than since boot
	return r
}

// connect authenticates and sends the first heartbeat, retrying with backoff;
// only rejected credentials or the end of ctx stop it.
func (r *runner) connect(ctx context.Context) error {
	bo := r.backoff()
	u, _ := url.Parse(r.cfg.URL)
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		r.log.Warn("the orchestrator URL is plain http: machine credentials and tokens cross the network unencrypted")
	}
	if r.cfg.InsecureSkipVerify {
		r.log.Warn("TLS certificate verification is disabled (--insecure-skip-verify)")
	}
	for {
		info, err := r.api.authenticate(ctx)
		if err == nil {
			r.log.Info("authenticated", "runnerId", info.ID, "runnerName", info.Name, "runnerType", info.Type, "url", r.cfg.URL)
			break
		}
		if errors.Is(err, ErrCredentialsRejected) || ctx.Err() != nil {
			return err
		}
		if !r.retryPause(ctx, &bo, "cannot reach the orchestrator", err) {
			return ctx.Err()
		}
	}
	bo.reset()
	for {
		_, err := r.heartbeat(ctx)
		if err == nil {
			r.log.Info("online", "heartbeatInterval", r.cfg.HeartbeatInterval, "allowShell", r.cfg.AllowShell)
			return nil
		}
		if errors.Is(err, ErrCredentialsRejected) || ctx.Err() != nil {
			return err
		}
		if !r.retryPause(ctx, &bo, "heartbeat failed", err) {
			return ctx.Err()
		}
	}
}

// backoff returns a fresh backoff sequence from the configured bounds.
func (r *runner) backoff() backoff { return backoff{min: r.cfg.BackoffMin, max: r.cfg.BackoffMax} }

// retryPause logs err and waits the next backoff step (or the server's
// Retry-After, whichever is longer); false means ctx ended.
func (r *runner) retryPause(ctx context.Context, bo *backoff, what string, err error) bool {
	d := max(bo.next(), retryHint(err))
	r.log.Warn(what+"; retrying", "err", err, "retryIn", d.Round(time.Millisecond))
	return sleepCtx(ctx, d)
}

// heartbeat sends one heartbeat and acts on the stop requests in its answer.
func (r *runner) heartbeat(ctx context.Context) (heartbeatAnswer, error) {
	req := heartbeatRequest{IPAddress: primaryIP(), Metrics: hostMetrics(&r.cpu, r.dir)}
	var ans heartbeatAnswer
	if err := r.api.do(ctx, http.MethodPost, "/api/runners/heartbeat", nil, req, &ans, r.cfg.RequestTimeout); err != nil {
		return ans, err
	}
	r.log.Debug("heartbeat", "status", ans.Status, "ttlSeconds", ans.TTLSeconds, "stops", len(ans.StopExecutionIDs))
	r.handleStops(ans.StopExecutionIDs)
	return ans, nil
}

// interval is the pause between heartbeats: short while an execution runs so
// stop requests arrive quickly, long while idle.
func (r *runner) interval() time.Duration {
	r.mu.Lock()
	busy := r.current != ""
	r.mu.Unlock()
	if busy {
		return r.cfg.StopCheckInterval
	}
	return r.cfg.HeartbeatInterval
}

// heartbeatLoop beats until ctx ends; rejected credentials end the runner via fail.
func (r *runner) heartbeatLoop(ctx context.Context, fail context.CancelCauseFunc) {
	bo := r.backoff()
	last := time.Now()
	timer := time.NewTimer(r.interval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick: // busy state changed: re-aim the timer at last + new interval
			timer.Reset(max(0, time.Until(last.Add(r.interval()))))
			continue
		case <-timer.C:
		}
		last = time.Now()
		_, err := r.heartbeat(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrCredentialsRejected):
			r.log.Error("the orchestrator rejected the machine credentials; stopping", "err", err)
			fail(err)
			return
		case err != nil:
			d := min(max(bo.next(), retryHint(err)), r.interval())
			r.log.Warn("heartbeat failed; retrying", "err", err, "retryIn", d.Round(time.Millisecond))
			timer.Reset(d)
		default:
			bo.reset()
			timer.Reset(max(0, time.Until(last.Add(r.interval())))) // beat to beat, latency included
		}
	}
}

// pollLoop long-polls for work and runs each assignment until ctx ends.
func (r *runner) pollLoop(ctx context.Context, fail context.CancelCauseFunc) {
	bo := r.backoff()
	query := url.Values{"wait": {strconv.Itoa(int(r.cfg.PollWait / time.Second))}}
	for ctx.Err() == nil {
		started := time.Now()
		var ans pollAnswer
		err := r.api.do(ctx, http.MethodGet, "/api/runners/poll", query, nil, &ans, r.cfg.RequestTimeout+r.cfg.PollWait)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrCredentialsRejected):
			r.log.Error("the orchestrator rejected the machine credentials; stopping", "err", err)
			fail(err)
			return
		case err != nil:
			r.retryPause(ctx, &bo, "poll failed", err)
			continue
		}
		bo.reset()
		r.handleStops(ans.StopExecutionIDs)
		if ans.HasWork && ans.Execution != nil && ans.Execution.ID != "" {
			if ans.Execution.Assets == nil {
				ans.Execution.Assets = ans.Assets
			}
			r.execute(ctx, *ans.Execution, slices.Contains(ans.StopExecutionIDs, ans.Execution.ID))
			continue
		}
		sleepCtx(ctx, time.Until(started.Add(r.cfg.IdlePollDelay)))
	}
}

// setCurrent records the execution being run (id "" when idle) and re-aims the heartbeat.
func (r *runner) setCurrent(id string, stop context.CancelCauseFunc) {
	r.mu.Lock()
	r.current, r.stopCurrent = id, stop
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// handleStops stops the current execution when ids names it.
func (r *runner) handleStops(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current != "" && slices.Contains(ids, r.current) {
		r.log.Info("stop requested", "execution", r.current)
		r.stopCurrent(errStopRequested)
	}
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
