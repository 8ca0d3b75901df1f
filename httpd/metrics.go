package httpd

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// Figures are the live figures of the other layers that GET /metrics
// exposes. cmd fills them from the actor system's gauges and the store's
// commit statistics (the HTTP layer imports neither).
type Figures struct {
	// Runners by status.
	RunnersOnline, RunnersBusy, RunnersOffline int64
	// QueueDepth is the QUEUED executions by priority: HIGH, NORMAL, LOW.
	QueueDepth [3]int64
	// WaitingPolls is the number of long polls parked waiting for work.
	WaitingPolls int64
	// LiveExecutions is the number of live execution actors.
	LiveExecutions int64
	// EventStreams is the number of open live event streams;
	// EventStreamsDropped counts those ended for reading too slowly.
	EventStreams        int64
	EventStreamsDropped uint64
	// ActorRestarts counts supervision decisions (actor failures) since start.
	ActorRestarts uint64
	// Commits, CommitFailures and CommitWrites are the group-commit
	// writer's transactions, failed transactions and applied writes.
	Commits, CommitFailures, CommitWrites uint64
	// BatchSizes is the histogram of writes per committed transaction.
	BatchSizes Histogram
	// CommitSeconds is the histogram of commit durations (incl. fsync).
	CommitSeconds Histogram
	// Executions are the stored executions by status (nil when unknown).
	Executions *messages.ExecutionStats
	// Retention is set when --retention-days is on: runs, failed runs and
	// executions removed since start.
	Retention *RetentionFigures
	// Outcomes is set when the actor system runs: what executions did
	// since start.
	Outcomes *OutcomeFigures
	// StorageFileBytes is the database file's size on disk (0: unknown,
	// and the series is left out).
	StorageFileBytes int64
	// Deliveries is set when the actor system runs: the event
	// subscriptions' delivery attempts and outbox depth.
	Deliveries *DeliveryFigures
}

// DeliveryFigures are the event deliveries since start and the outbox depth.
type DeliveryFigures struct {
	// Attempts counts the delivery attempts by Outcomes (label values,
	// same order).
	Outcomes []string
	Attempts []uint64
	// Pending is the events after the slowest enabled subscription's
	// cursor; OldestPendingSeconds the age of the oldest undelivered event
	// of an enabled subscription (0 when none).
	Pending              uint64
	OldestPendingSeconds float64
}

// OutcomeFigures are the execution outcomes since start.
type OutcomeFigures struct {
	// QueueWait is the histogram of seconds from enqueued to assigned.
	QueueWait Histogram
	// RunDuration is the histogram of seconds from started to finished.
	RunDuration Histogram
	// Completed, Failed and Stopped count the executions that finished so.
	Completed, Failed, Stopped uint64
}

// RetentionFigures are the retention job's cumulative figures.
type RetentionFigures struct {
	Runs, Failures, Removed uint64
}

// Histogram is a histogram snapshot: Counts[i] counts the observations
// above Bounds[i-1] and at most Bounds[i]; the last count (len(Bounds)) is
// above every bound. Sum is the sum of the observations.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// latencyBounds are the request-latency histogram's upper bounds (seconds);
// long polls hold up to 60 s.
var latencyBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// requestKey is one requests counter's label set.
type requestKey struct {
	method, route string
	status        int
}

// latencyKey is one latency histogram's label set.
type latencyKey struct{ method, route string }

// httpMetrics holds the registry of GET /metrics, built on first use.
type httpMetrics struct {
	state atomic.Pointer[metricsState]
	mu    sync.Mutex
}

// metricsState is the registry and the series the server updates itself.
// Label values are bounded: a known method, a route template (never a raw
// path, which may hold a webhook credential) and a status code.
type metricsState struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// The children already made, so the request hook does not build label
	// slices or strings: requestKey → prometheus.Counter and latencyKey →
	// prometheus.Observer.
	requestSeries sync.Map
	latencySeries sync.Map
	// webhooks are the webhook fires by outcome (webhookOutcomes order).
	webhooks [len(webhookOutcomes)]prometheus.Counter
}

// httpMetricsOf is the server's metrics, built on the first call.
func (s *Server) httpMetricsOf() *metricsState {
	if st := s.reqMetrics.state.Load(); st != nil {
		return st
	}
	s.reqMetrics.mu.Lock()
	defer s.reqMetrics.mu.Unlock()
	if st := s.reqMetrics.state.Load(); st != nil {
		return st
	}
	st := newMetricsState(s)
	s.reqMetrics.state.Store(st)
	return st
}

// newMetricsState registers every collector of GET /metrics.
func newMetricsState(s *Server) *metricsState {
	st := &metricsState{reg: prometheus.NewRegistry()}
	st.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exekra_http_requests_total",
		Help: "HTTP requests answered, by method, route template and status code.",
	}, []string{"method", "route", "status"})
	st.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "exekra_http_request_duration_seconds",
		Help:    "HTTP request latency in seconds, by method and route template.",
		Buckets: latencyBounds,
	}, []string{"method", "route"})
	webhooks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exekra_webhook_fires_total",
		Help: "Calls of trigger webhooks by outcome: accepted (an execution queued or found by its key), throttled (rate limit), rejected (a 4xx: unknown or disabled trigger, bad signature, bad body), failed (the server could not queue it).",
	}, []string{"outcome"})
	for i, o := range webhookOutcomes {
		st.webhooks[i] = webhooks.WithLabelValues(o)
	}
	st.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		st.requests, st.latency, webhooks,
		&figuresCollector{s: s},
	)
	return st
}

// knownMethods keeps the method label bounded.
var knownMethods = map[string]string{
	"GET": "GET", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE", "HEAD": "HEAD", "OPTIONS": "OPTIONS",
}

// observeRequest records one answered request (called by outer). It does
// not allocate once a label set has been seen (TestObserveRequestAllocs).
func (s *Server) observeRequest(ctx *fasthttp.RequestCtx, start time.Time) {
	m := s.httpMetricsOf()
	method, ok := knownMethods[string(ctx.Method())]
	if !ok {
		method = "OTHER"
	}
	route := routeOf(ctx)
	took := time.Since(start)
	rk := requestKey{method: method, route: route, status: ctx.Response.StatusCode()}
	c, ok := m.requestSeries.Load(rk)
	if !ok {
		c, _ = m.requestSeries.LoadOrStore(rk, m.requests.WithLabelValues(method, route, strconv.Itoa(rk.status)))
	}
	c.(prometheus.Counter).Inc()
	lk := latencyKey{method: method, route: route}
	l, ok := m.latencySeries.Load(lk)
	if !ok {
		l, _ = m.latencySeries.LoadOrStore(lk, m.latency.WithLabelValues(method, route))
	}
	l.(prometheus.Observer).Observe(took.Seconds())
}

// webhookOutcomes are the outcome label values of exekra_webhook_fires_total.
var webhookOutcomes = [...]string{"accepted", "throttled", "rejected", "failed"}

// observeWebhook counts one webhook call by what it led to: res and err are
// the trigger's answer.
func (s *Server) observeWebhook(res messages.WebhookAnswer, err error) {
	i := 3 // failed
	switch {
	case err == nil:
		switch res.(type) {
		case *messages.ExecutionCreated:
			i = 0
		case *messages.WebhookThrottled:
			i = 1
		}
	case messages.ErrorCode(err) == messages.CodeRateLimited:
		i = 1
	default:
		switch messages.ErrorCode(err) {
		case messages.CodeInternal, messages.CodeUnavailable, messages.CodeNotReady:
		default:
			i = 2
		}
	}
	s.httpMetricsOf().webhooks[i].Inc()
}

// metricsContentType is the Prometheus text exposition format, version 0.0.4.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metrics answers GET /metrics in the Prometheus text exposition format.
func (s *Server) metrics(ctx *fasthttp.RequestCtx, _ *request) error {
	var b bytes.Buffer
	s.writeMetrics(&b)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(metricsContentType)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(b.Bytes())
	return nil
}

// writeMetrics gathers every collector and writes the families (sorted by
// name). A collector that fails is logged and left out; the others are
// still written.
func (s *Server) writeMetrics(b *bytes.Buffer) {
	families, err := s.httpMetricsOf().reg.Gather()
	if err != nil && s.log != nil {
		s.log.Warn("metrics: a collector failed", "err", err)
	}
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(b, mf); err != nil && s.log != nil {
			s.log.Warn("metrics: a family could not be written", "family", mf.GetName(), "err", err)
		}
	}
}

// figuresCollector reads the server's and the other layers' figures at
// scrape time: one Figures call per scrape, nothing pushed on a change.
type figuresCollector struct{ s *Server }

// The descriptions of the figures, by family.
var (
	descBuildInfo     = prometheus.NewDesc("exekra_build_info", "Build information; the value is always 1.", []string{"version"}, nil)
	descSystemState   = prometheus.NewDesc("exekra_system_state", "The system state (docs/api.md, Conventions): 1 for the current state, 0 for the others.", []string{"state"}, nil)
	descLicenseState  = prometheus.NewDesc("exekra_license_state", "The license state: 1 for the current state (ACTIVE, GRACE_PERIOD, EXPIRED, INVALID), 0 for the others.", []string{"state"}, nil)
	descLicenseExpiry = prometheus.NewDesc("exekra_license_expiry_timestamp_seconds", "When the license expires (Unix seconds); absent without a license or for one that never expires.", nil, nil)
	descLicenseGrace  = prometheus.NewDesc("exekra_license_grace_end_timestamp_seconds", "When the license's grace period ends (Unix seconds); absent without a license or for one that never expires.", nil, nil)
	descRunners       = prometheus.NewDesc("exekra_runners", "Registered runners by status.", []string{"status"}, nil)
	descQueueDepth    = prometheus.NewDesc("exekra_queue_depth", "QUEUED executions waiting for a runner, by priority.", []string{"priority"}, nil)
	descLongPolls     = prometheus.NewDesc("exekra_long_polls_waiting", "Runner long polls parked waiting for work.", nil, nil)
	descExecActors    = prometheus.NewDesc("exekra_execution_actors", "Live execution actors (active executions held in memory).", nil, nil)
	descEventStreams  = prometheus.NewDesc("exekra_event_streams", "Open live event streams (GET /api/events).", nil, nil)
	descStreamsDrop   = prometheus.NewDesc("exekra_event_streams_dropped_total", "Live event streams ended because the client read too slowly (its buffer filled, or a write blocked for 30 s).", nil, nil)
	descExecutions    = prometheus.NewDesc("exekra_executions", "Stored executions by status.", []string{"status"}, nil)
	descFinished      = prometheus.NewDesc("exekra_executions_finished_total", "Executions that reached a final status since start, by outcome (COMPLETED, FAILED, STOPPED).", []string{"outcome"}, nil)
	descQueueWait     = prometheus.NewDesc("exekra_execution_queue_wait_seconds", "Seconds from an execution's (last) enqueue to its assignment to a runner.", nil, nil)
	descRunDuration   = prometheus.NewDesc("exekra_execution_run_duration_seconds", "Seconds from an execution's start to its final status (executions that started).", nil, nil)
	descRetRuns       = prometheus.NewDesc("exekra_retention_runs_total", "Runs of the retention job (at start, then hourly).", nil, nil)
	descRetFailures   = prometheus.NewDesc("exekra_retention_failures_total", "Retention runs that failed (retried at the next run).", nil, nil)
	descRetRemoved    = prometheus.NewDesc("exekra_retention_removed_total", "Finished executions removed by retention since start.", nil, nil)
	descRestarts      = prometheus.NewDesc("exekra_actor_restarts_total", "Actor failures handled by a supervisor since start.", nil, nil)
	descCommits       = prometheus.NewDesc("exekra_storage_commits_total", "Group-commit transactions (each one fsync), failed ones included.", nil, nil)
	descCommitFails   = prometheus.NewDesc("exekra_storage_commit_failures_total", "Group-commit transactions whose commit failed.", nil, nil)
	descWrites        = prometheus.NewDesc("exekra_storage_writes_total", "Write functions applied by committed transactions.", nil, nil)
	descFileBytes     = prometheus.NewDesc("exekra_storage_file_bytes", "Size of the database file on disk, in bytes.", nil, nil)
	descQuarantined   = prometheus.NewDesc("exekra_storage_quarantined_records", "Stored records moved into quarantine because they cannot be decoded (docs/operations.md).", nil, nil)
	descBatchSize     = prometheus.NewDesc("exekra_storage_batch_size", "Writes per committed group-commit transaction.", nil, nil)
	descCommitSecs    = prometheus.NewDesc("exekra_storage_commit_duration_seconds", "Duration of group-commit transactions, fsync included.", nil, nil)
	descDeliveries    = prometheus.NewDesc("exekra_event_deliveries_total", "Event delivery attempts since start by outcome: delivered (2xx), failed_attempt (another answer or none; retried after the backoff), gave_up (failed, and the delivery marked FAILED after 24 h of failures or 3 days), gone (410; the subscription is disabled).", []string{"outcome"}, nil)
	descOutboxPending = prometheus.NewDesc("exekra_event_outbox_pending", "Events of the log after the slowest enabled subscription's cursor (not yet delivered, or not yet looked at, by that subscription).", nil, nil)
	descOutboxOldest  = prometheus.NewDesc("exekra_event_outbox_oldest_pending_seconds", "Age in seconds of the oldest undelivered event of any enabled subscription; 0 when none is waiting.", nil, nil)
)

var figureDescs = []*prometheus.Desc{
	descBuildInfo, descSystemState, descLicenseState, descLicenseExpiry, descLicenseGrace,
	descRunners, descQueueDepth, descLongPolls, descExecActors, descEventStreams, descStreamsDrop,
	descExecutions, descFinished, descQueueWait, descRunDuration,
	descRetRuns, descRetFailures, descRetRemoved, descRestarts,
	descCommits, descCommitFails, descWrites, descFileBytes, descQuarantined, descBatchSize, descCommitSecs,
	descDeliveries, descOutboxPending, descOutboxOldest,
}

// Describe implements prometheus.Collector.
func (c *figuresCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range figureDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *figuresCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	var f Figures
	if s.cfg.Figures != nil {
		f = s.cfg.Figures()
	}
	gauge := func(d *prometheus.Desc, v float64, lvs ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lvs...)
	}
	counter := func(d *prometheus.Desc, v uint64, lvs ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lvs...)
	}

	gauge(descBuildInfo, 1, s.cfg.Version)
	if s.core != nil {
		state := s.core.State()
		for _, st := range []messages.SystemState{messages.StateUnactivated, messages.StateActivated, messages.StateBootstrap, messages.StateOperational} {
			gauge(descSystemState, boolValue(st == state), string(st))
		}
		lic := s.core.LicenseStatus()
		for _, st := range []messages.LicenseState{messages.LicenseActive, messages.LicenseGrace, messages.LicenseExpired, messages.LicenseInvalid} {
			gauge(descLicenseState, boolValue(lic.Status == st), string(st))
		}
		if lic.Activated && lic.ExpiresAt != 0 {
			gauge(descLicenseExpiry, float64(lic.ExpiresAt)/1000)
			gauge(descLicenseGrace, float64(lic.GraceEndsAt)/1000)
		}
	}

	gauge(descRunners, float64(f.RunnersOnline), "ONLINE")
	gauge(descRunners, float64(f.RunnersBusy), "BUSY")
	gauge(descRunners, float64(f.RunnersOffline), "OFFLINE")
	for i, p := range []string{"HIGH", "NORMAL", "LOW"} {
		gauge(descQueueDepth, float64(f.QueueDepth[i]), p)
	}
	gauge(descLongPolls, float64(f.WaitingPolls))
	gauge(descExecActors, float64(f.LiveExecutions))
	gauge(descEventStreams, float64(f.EventStreams))
	counter(descStreamsDrop, f.EventStreamsDropped+s.streamsCutOff.Load())
	if x := f.Executions; x != nil {
		for _, kv := range []struct {
			status string
			n      int
		}{{"QUEUED", x.Queued}, {"ASSIGNED", x.Assigned}, {"RUNNING", x.Running}, {"COMPLETED", x.Completed}, {"FAILED", x.Failed}, {"STOPPED", x.Stopped}} {
			gauge(descExecutions, float64(kv.n), kv.status)
		}
	}
	if o := f.Outcomes; o != nil {
		counter(descFinished, o.Completed, "COMPLETED")
		counter(descFinished, o.Failed, "FAILED")
		counter(descFinished, o.Stopped, "STOPPED")
		ch <- constHistogram(descQueueWait, o.QueueWait)
		ch <- constHistogram(descRunDuration, o.RunDuration)
	}
	if d := f.Deliveries; d != nil {
		for i, o := range d.Outcomes {
			if i < len(d.Attempts) {
				counter(descDeliveries, d.Attempts[i], o)
			}
		}
		gauge(descOutboxPending, float64(d.Pending))
		gauge(descOutboxOldest, d.OldestPendingSeconds)
	}
	if r := f.Retention; r != nil {
		counter(descRetRuns, r.Runs)
		counter(descRetFailures, r.Failures)
		counter(descRetRemoved, r.Removed)
	}
	counter(descRestarts, f.ActorRestarts)

	counter(descCommits, f.Commits)
	counter(descCommitFails, f.CommitFailures)
	counter(descWrites, f.CommitWrites)
	if f.StorageFileBytes > 0 {
		gauge(descFileBytes, float64(f.StorageFileBytes))
	}
	gauge(descQuarantined, float64(s.quarantined()))
	ch <- constHistogram(descBatchSize, f.BatchSizes)
	ch <- constHistogram(descCommitSecs, f.CommitSeconds)
}

// constHistogram turns a snapshot into a histogram sample.
func constHistogram(d *prometheus.Desc, h Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, bound := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		buckets[bound] = cum
	}
	if len(h.Counts) > len(h.Bounds) {
		cum += h.Counts[len(h.Bounds)]
	}
	return prometheus.MustNewConstHistogram(d, cum, h.Sum, buckets)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
