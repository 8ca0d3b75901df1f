package refrunner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Why an execution's context was cancelled.
var (
	errStopRequested = errors.New("stop requested")
	errAbandoned     = errors.New("the orchestrator no longer accepts reports for this execution")
)

// statusReport is the body of POST /api/executions/:id/status.
type statusReport struct {
	Status  string      `json:"status"`
	Logs    string      `json:"logs,omitempty"`
	Error   string      `json:"error,omitempty"`
	Metrics *RunMetrics `json:"metrics,omitempty"`
}

// execute runs one assignment from the RUNNING report to the terminal one.
// ctx is the runner's; when it ends mid-run the execution is reported FAILED
// within ShutdownGrace.
func (r *runner) execute(ctx context.Context, ex Assignment, stopAtOnce bool) {
	logger := r.log.With("execution", ex.ID, "workflow", ex.WorkflowName)
	logger.Info("execution assigned", "workflowId", ex.WorkflowID, "versionId", ex.VersionID)
	xctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r.setCurrent(ex.ID, stop)
	defer r.setCurrent("", nil)
	if stopAtOnce {
		stop(errStopRequested)
	}

	elog := newExecLog(r.cfg.Now, logger)
	secrets := newMasker(ex.Assets)
	elog.mask = secrets
	samp := newSampler(&r.cpu)
	elog.addf("Execution %s of workflow %q (version %s) started", ex.ID, ex.WorkflowName, ex.VersionID)
	steps, planErr := r.plan(ex)

	if err := r.report(xctx, ex.ID, statusReport{Status: StatusRunning, Logs: elog.take()}); err != nil {
		if xctx.Err() == nil || errors.Is(context.Cause(xctx), errAbandoned) {
			logger.Warn("the orchestrator refused the execution; dropping it", "err", err)
			return
		}
		if ctx.Err() != nil {
			logger.Info("shutting down before the execution started")
			return
		}
		// A stop request arrived while the RUNNING report was being retried: fall
		// through, the outcome below reports STOPPED.
	}

	progressCtx, stopProgress := context.WithCancel(xctx)
	var wg sync.WaitGroup
	wg.Go(func() { samp.loop(progressCtx, r.cfg.SampleInterval) })
	wg.Go(func() { r.progressLoop(progressCtx, ex.ID, elog, samp, stop) })

	runErr := planErr
	if runErr == nil {
		env := &stepEnv{log: elog, http: r.cfg.NodeHTTPClient, shellEnv: shellEnv(ex)}
		runErr = runSteps(xctx, steps, env)
	}
	stopProgress()
	wg.Wait()

	cause := context.Cause(xctx)
	final := statusReport{Status: StatusCompleted}
	switch {
	case errors.Is(cause, errAbandoned):
		logger.Warn("execution abandoned", "err", cause)
		return
	case runErr == nil:
		elog.add("Execution completed")
	case errors.Is(cause, errStopRequested):
		final.Status = StatusStopped
		elog.add("Execution stopped on request")
	case ctx.Err() != nil:
		final.Status, final.Error = StatusFailed, "the runner was shut down while the execution was running"
		elog.add("Execution failed: " + final.Error)
	default:
		// The error may quote a node's params (a URL, a command): masked.
		final.Status, final.Error = StatusFailed, secrets.mask(runErr.Error())
		elog.add("Execution failed: " + final.Error)
	}
	m := samp.summary()
	final.Metrics, final.Logs = &m, elog.take()

	reportCtx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		reportCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ShutdownGrace)
		defer cancel()
	}
	if err := r.report(reportCtx, ex.ID, final); err != nil {
		logger.Error("could not deliver the final status", "status", final.Status, "err", err)
		return
	}
	logger.Info("execution finished", "status", final.Status, "error", final.Error,
		"cpuAvg", m.CPUAvg, "cpuPeak", m.CPUPeak, "memAvgMB", m.MemAvgMB, "memPeakMB", m.MemPeakMB)
}

// stepPlan is a node with its validated step.
type stepPlan struct {
	node Node
	step step
}

// plan parses and orders the graph and validates every node before any runs,
// so a graph with an unknown or refused node runs nothing.
func (r *runner) plan(ex Assignment) ([]stepPlan, error) {
	g, err := ParseGraph(ex.GraphJSON)
	if err != nil {
		return nil, err
	}
	order, err := g.Order()
	if err != nil {
		return nil, fmt.Errorf("invalid graph: %w", err)
	}
	plans := make([]stepPlan, 0, len(order))
	for _, n := range order {
		n, err := resolveAssets(n, ex.Assets)
		if err != nil {
			return nil, err
		}
		s, err := prepare(n, r.cfg.AllowShell)
		if err != nil {
			return nil, err
		}
		plans = append(plans, stepPlan{node: n, step: s})
	}
	return plans, nil
}

// runSteps runs the steps in order, stopping at the first error or at the end of ctx.
func runSteps(ctx context.Context, steps []stepPlan, env *stepEnv) error {
	for _, sp := range steps {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		env.log.addf("Node %s", sp.node.label())
		err := sp.step.run(ctx, env)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if _, isFail := sp.step.(failStep); isFail {
			return err // the fail node's message is the execution's error, as written
		}
		return fmt.Errorf("node %s: %w", sp.node.label(), err)
	}
	return ctx.Err()
}

// progressLoop sends the new log lines and the metrics so far every
// StopCheckInterval; a report the orchestrator refuses abandons the execution.
func (r *runner) progressLoop(ctx context.Context, id string, elog *execLog, samp *sampler, stop context.CancelCauseFunc) {
	t := time.NewTicker(r.cfg.StopCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		logs := elog.take()
		m := samp.summary()
		err := r.sendReport(ctx, id, statusReport{Status: StatusRunning, Logs: logs, Metrics: &m})
		if err == nil {
			continue
		}
		elog.putBack(logs)
		if isPermanent(err) {
			stop(fmt.Errorf("%w: %v", errAbandoned, err))
			return
		}
		if ctx.Err() == nil {
			r.log.Warn("progress report failed; its lines go with the next one", "execution", id, "err", err)
		}
	}
}

// report delivers a status report, retrying with backoff until it is
// accepted, refused for good, or ctx ends.
func (r *runner) report(ctx context.Context, id string, rep statusReport) error {
	bo := r.backoff()
	for {
		err := r.sendReport(ctx, id, rep)
		if err == nil || isPermanent(err) || ctx.Err() != nil {
			return err
		}
		if !r.retryPause(ctx, &bo, "status report failed", err) {
			return err
		}
	}
}

// sendReport sends one status report.
func (r *runner) sendReport(ctx context.Context, id string, rep statusReport) error {
	path := "/api/executions/" + url.PathEscape(id) + "/status"
	return r.api.do(ctx, http.MethodPost, path, nil, rep, nil, r.cfg.RequestTimeout)
}

// shellEnv is the environment of shell nodes: the runner's own, minus every
// EXEKRA_ variable (the machine secret may be one), plus the execution's facts.
func shellEnv(ex Assignment) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EXEKRA_") {
			env = append(env, kv)
		}
	}
	input := strings.TrimSpace(string(ex.Input))
	if input == "" {
		input = "null"
	}
	return append(env,
		"EXEKRA_EXECUTION_ID="+ex.ID,
		"EXEKRA_WORKFLOW_ID="+ex.WorkflowID,
		"EXEKRA_WORKFLOW_NAME="+ex.WorkflowName,
		"EXEKRA_VERSION_ID="+ex.VersionID,
		"EXEKRA_INPUT="+input,
	)
}
