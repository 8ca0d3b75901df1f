package httpd

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
var latencyBounds = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// requestKey is one requests counter's label set.
type requestKey struct {
	method, route string
	status        int
}

// latencyKey is one latency histogram's label set.
type latencyKey struct{ method, route string }

type latencySeries struct {
	counts   [len(latencyBounds) + 1]atomic.Uint64
	sumNanos atomic.Uint64
}

// httpMetrics are the request figures recorded by the middleware. Label
// values are bounded: a known method, a route template (never a raw path,
// which may hold a webhook credential) and a status code.
type httpMetrics struct {
	requests sync.Map // requestKey → *atomic.Uint64
	latency  sync.Map // latencyKey → *latencySeries
}

// httpMetricsOf is the server's request figures.
func (s *Server) httpMetricsOf() *httpMetrics { return &s.reqMetrics }

// knownMethods keeps the method label bounded.
var knownMethods = map[string]string{
	"GET": "GET", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE", "HEAD": "HEAD", "OPTIONS": "OPTIONS",
}

// observeRequest records one answered request (called by outer).
func (s *Server) observeRequest(ctx *fasthttp.RequestCtx, start time.Time) {
	m := s.httpMetricsOf()
	method, ok := knownMethods[string(ctx.Method())]
	if !ok {
		method = "OTHER"
	}
	route := routeOf(ctx)
	took := time.Since(start)
	rk := requestKey{method: method, route: route, status: ctx.Response.StatusCode()}
	c, ok := m.requests.Load(rk)
	if !ok {
		c, _ = m.requests.LoadOrStore(rk, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
	lk := latencyKey{method: method, route: route}
	l, ok := m.latency.Load(lk)
	if !ok {
		l, _ = m.latency.LoadOrStore(lk, new(latencySeries))
	}
	ls := l.(*latencySeries)
	secs := took.Seconds()
	i := 0
	for i < len(latencyBounds) && secs > latencyBounds[i] {
		i++
	}
	ls.counts[i].Add(1)
	ls.sumNanos.Add(uint64(took))
}

// metrics answers GET /metrics in the Prometheus text exposition format.
func (s *Server) metrics(ctx *fasthttp.RequestCtx, _ *request) error {
	var b bytes.Buffer
	s.writeMetrics(&b)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(b.Bytes())
	return nil
}

// writeMetrics writes every metric family, in a stable order.
func (s *Server) writeMetrics(b *bytes.Buffer) {
	var f Figures
	if s.cfg.Figures != nil {
		f = s.cfg.Figures()
	}
	e := &exposition{b: b}

	e.family("exekra_build_info", "gauge", "Build information; the value is always 1.")
	e.sample("exekra_build_info", labels("version", s.cfg.Version), 1)
	e.family("exekra_system_state", "gauge", "The system state (SPEC §4): 1 for the current state, 0 for the others.")
	state := s.core.State()
	for _, st := range []messages.SystemState{messages.StateUnactivated, messages.StateActivated, messages.StateBootstrap, messages.StateOperational} {
		e.sample("exekra_system_state", labels("state", string(st)), boolValue(st == state))
	}

	m := s.httpMetricsOf()
	var rkeys []requestKey
	m.requests.Range(func(k, _ any) bool { rkeys = append(rkeys, k.(requestKey)); return true })
	sort.Slice(rkeys, func(i, j int) bool {
		a, c := rkeys[i], rkeys[j]
		if a.route != c.route {
			return a.route < c.route
		}
		if a.method != c.method {
			return a.method < c.method
		}
		return a.status < c.status
	})
	e.family("exekra_http_requests_total", "counter", "HTTP requests answered, by method, route template and status code.")
	for _, k := range rkeys {
		v, _ := m.requests.Load(k)
		e.sample("exekra_http_requests_total", labels("method", k.method, "route", k.route, "status", strconv.Itoa(k.status)),
			float64(v.(*atomic.Uint64).Load()))
	}
	var lkeys []latencyKey
	m.latency.Range(func(k, _ any) bool { lkeys = append(lkeys, k.(latencyKey)); return true })
	sort.Slice(lkeys, func(i, j int) bool {
		if lkeys[i].route != lkeys[j].route {
			return lkeys[i].route < lkeys[j].route
		}
		return lkeys[i].method < lkeys[j].method
	})
	e.family("exekra_http_request_duration_seconds", "histogram", "HTTP request latency in seconds, by method and route template.")
	for _, k := range lkeys {
		v, _ := m.latency.Load(k)
		ls := v.(*latencySeries)
		h := Histogram{Bounds: latencyBounds[:], Counts: make([]uint64, len(ls.counts)), Sum: float64(ls.sumNanos.Load()) / 1e9}
		for i := range ls.counts {
			h.Counts[i] = ls.counts[i].Load()
		}
		e.histogram("exekra_http_request_duration_seconds", labels("method", k.method, "route", k.route), h)
	}

	e.family("exekra_runners", "gauge", "Registered runners by status.")
	e.sample("exekra_runners", labels("status", "ONLINE"), float64(f.RunnersOnline))
	e.sample("exekra_runners", labels("status", "BUSY"), float64(f.RunnersBusy))
	e.sample("exekra_runners", labels("status", "OFFLINE"), float64(f.RunnersOffline))
	e.family("exekra_queue_depth", "gauge", "QUEUED executions waiting for a runner, by priority.")
	for i, p := range []string{"HIGH", "NORMAL", "LOW"} {
		e.sample("exekra_queue_depth", labels("priority", p), float64(f.QueueDepth[i]))
	}
	e.single("exekra_long_polls_waiting", "gauge", "Runner long polls parked waiting for work.", float64(f.WaitingPolls))
	e.single("exekra_execution_actors", "gauge", "Live execution actors (active executions held in memory).", float64(f.LiveExecutions))
	e.single("exekra_event_streams", "gauge", "Open live event streams (GET /api/events).", float64(f.EventStreams))
	e.single("exekra_event_streams_dropped_total", "counter", "Live event streams ended because the client read too slowly (its buffer filled, or a write blocked for 30 s).",
		float64(f.EventStreamsDropped+s.streamsCutOff.Load()))
	if x := f.Executions; x != nil {
		e.family("exekra_executions", "gauge", "Stored executions by status.")
		for _, kv := range []struct {
			status string
			n      int
		}{{"QUEUED", x.Queued}, {"ASSIGNED", x.Assigned}, {"RUNNING", x.Running}, {"COMPLETED", x.Completed}, {"FAILED", x.Failed}, {"STOPPED", x.Stopped}} {
			e.sample("exekra_executions", labels("status", kv.status), float64(kv.n))
		}
	}
	if r := f.Retention; r != nil {
		e.single("exekra_retention_runs_total", "counter", "Runs of the retention job (at start, then hourly).", float64(r.Runs))
		e.single("exekra_retention_failures_total", "counter", "Retention runs that failed (retried at the next run).", float64(r.Failures))
		e.single("exekra_retention_removed_total", "counter", "Finished executions removed by retention since start.", float64(r.Removed))
	}
	e.single("exekra_actor_restarts_total", "counter", "Actor failures handled by a supervisor since start.", float64(f.ActorRestarts))

	e.single("exekra_storage_commits_total", "counter", "Group-commit transactions (each one fsync), failed ones included.", float64(f.Commits))
	e.single("exekra_storage_commit_failures_total", "counter", "Group-commit transactions whose commit failed.", float64(f.CommitFailures))
	e.single("exekra_storage_writes_total", "counter", "Write functions applied by committed transactions.", float64(f.CommitWrites))
	e.single("exekra_storage_quarantined_records", "gauge", "Stored records moved into quarantine because they cannot be decoded (docs/operations.md).", float64(s.quarantined()))
	e.family("exekra_storage_batch_size", "histogram", "Writes per committed group-commit transaction.")
	e.histogram("exekra_storage_batch_size", "", f.BatchSizes)
	e.family("exekra_storage_commit_duration_seconds", "histogram", "Duration of group-commit transactions, fsync included.")
	e.histogram("exekra_storage_commit_duration_seconds", "", f.CommitSeconds)

	e.single("go_goroutines", "gauge", "Goroutines that currently exist.", float64(runtime.NumGoroutine()))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	e.single("go_memstats_heap_alloc_bytes", "gauge", "Bytes of allocated heap objects.", float64(ms.HeapAlloc))
	e.single("go_memstats_sys_bytes", "gauge", "Bytes of memory obtained from the OS.", float64(ms.Sys))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// exposition writes the Prometheus text format.
type exposition struct{ b *bytes.Buffer }

func (e *exposition) family(name, typ, help string) {
	fmt.Fprintf(e.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// single writes a family of one unlabelled sample.
func (e *exposition) single(name, typ, help string, v float64) {
	e.family(name, typ, help)
	e.sample(name, "", v)
}

// sample writes one line; lbls is a rendered label list without braces.
func (e *exposition) sample(name, lbls string, v float64) {
	e.b.WriteString(name)
	if lbls != "" {
		e.b.WriteByte('{')
		e.b.WriteString(lbls)
		e.b.WriteByte('}')
	}
	e.b.WriteByte(' ')
	e.b.WriteString(formatValue(v))
	e.b.WriteByte('\n')
}

// histogram writes the cumulative _bucket lines, _sum and _count of h.
func (e *exposition) histogram(name, lbls string, h Histogram) {
	sep := ""
	if lbls != "" {
		sep = ","
	}
	var cum uint64
	for i, bound := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		e.sample(name+"_bucket", lbls+sep+`le="`+formatValue(bound)+`"`, float64(cum))
	}
	if len(h.Counts) > len(h.Bounds) {
		cum += h.Counts[len(h.Bounds)]
	}
	e.sample(name+"_bucket", lbls+sep+`le="+Inf"`, float64(cum))
	e.sample(name+"_sum", lbls, h.Sum)
	e.sample(name+"_count", lbls, float64(cum))
}

// labels renders name/value pairs as `a="x",b="y"` with escaping.
func labels(kv ...string) string {
	var sb strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(kv[i])
		sb.WriteString(`="`)
		sb.WriteString(labelEscaper.Replace(kv[i+1]))
		sb.WriteByte('"')
	}
	return sb.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
