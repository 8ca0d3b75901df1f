package httpd

import (
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

var typeDecl = regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`)

// familyTypes maps each family of an exposition to its type.
func familyTypes(text string) map[string]string {
	out := map[string]string{}
	for _, m := range typeDecl.FindAllStringSubmatch(text, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// testdata/metrics-before.txt is the hand-written exposition's answer (the
// last one before the move to client_golang) for newMetricsServer after
// GET /api/openapi.json and one GET /metrics. Every family keeps its type,
// and every series its name and label names.
func TestMetricsKeepEverySeries(t *testing.T) {
	before, err := os.ReadFile("testdata/metrics-before.txt")
	if err != nil {
		t.Fatal(err)
	}
	oldShapes, _ := parseExposition(t, string(before))
	oldTypes := familyTypes(string(before))
	if len(oldTypes) < 20 || len(oldShapes) < 28 {
		t.Fatalf("the fixture holds %d families and %d shapes: not the full exposition", len(oldTypes), len(oldShapes))
	}

	s := newMetricsServer(t)
	serveOnce(t, s, "GET", "/api/openapi.json")
	serveOnce(t, s, "GET", "/metrics")
	now := string(serveOnce(t, s, "GET", "/metrics").Body())
	newShapes, _ := parseExposition(t, now)
	newTypes := familyTypes(now)
	for family, typ := range oldTypes {
		if newTypes[family] != typ {
			t.Errorf("family %s: type %q, was %q", family, newTypes[family], typ)
		}
	}
	for shape, n := range oldShapes {
		if newShapes[shape] < n {
			t.Errorf("series %s: %d samples, was %d", shape, newShapes[shape], n)
		}
	}
}

// What the move added: the standard Go and process collectors, the license
// dates, the execution outcomes and the webhook fires.
func TestMetricsAddedSeries(t *testing.T) {
	s := newMetricsServer(t)
	outcomes := &OutcomeFigures{
		QueueWait:   Histogram{Bounds: []float64{1, 10}, Counts: []uint64{2, 1, 1}, Sum: 25},
		RunDuration: Histogram{Bounds: []float64{60}, Counts: []uint64{3, 0}, Sum: 90},
		Completed:   3, Failed: 1, Stopped: 2,
	}
	base := s.cfg.Figures
	s.cfg.Figures = func() Figures { f := base(); f.Outcomes = outcomes; f.EventStreams = 4; return f }
	s.observeWebhook(&messages.ExecutionCreated{}, nil)
	s.observeWebhook(&messages.WebhookThrottled{RetryAfter: time.Second}, nil)
	s.observeWebhook(nil, messages.Errorf(messages.CodeUnauthorized, "bad signature"))
	s.observeWebhook(nil, messages.Errorf(messages.CodeNotFound, "no such trigger"))
	s.observeWebhook(nil, errors.New("disk full"))
	text := string(serveOnce(t, s, "GET", "/metrics").Body())
	shapes, samples := parseExposition(t, text)
	for _, shape := range []string{
		"process_resident_memory_bytes{}", "process_cpu_seconds_total{}", "process_open_fds{}",
		"go_gc_duration_seconds_count{}", "go_memstats_heap_alloc_bytes{}", "go_goroutines{}",
	} {
		if shapes[shape] == 0 {
			t.Errorf("%s is missing", shape)
		}
	}
	for series, want := range map[string]float64{
		`exekra_license_expiry_timestamp_seconds{}`:             1_900_000_000,
		`exekra_license_grace_end_timestamp_seconds{}`:          1_900_604_800,
		`exekra_license_state{state="ACTIVE"}`:                  1,
		`exekra_license_state{state="EXPIRED"}`:                 0,
		`exekra_executions_finished_total{outcome="COMPLETED"}`: 3,
		`exekra_executions_finished_total{outcome="STOPPED"}`:   2,
		`exekra_execution_queue_wait_seconds_bucket{le="1"}`:    2,
		`exekra_execution_queue_wait_seconds_bucket{le="10"}`:   3,
		`exekra_execution_queue_wait_seconds_bucket{le="+Inf"}`: 4,
		`exekra_execution_queue_wait_seconds_sum{}`:             25,
		`exekra_execution_run_duration_seconds_count{}`:         3,
		`exekra_event_streams{}`:                                4,
		`exekra_webhook_fires_total{outcome="accepted"}`:        1,
		`exekra_webhook_fires_total{outcome="throttled"}`:       1,
		`exekra_webhook_fires_total{outcome="rejected"}`:        2,
		`exekra_webhook_fires_total{outcome="failed"}`:          1,
	} {
		got, ok := samples[series]
		if !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
}

// The request hook allocates nothing once its label set has been seen.
func TestObserveRequestAllocs(t *testing.T) {
	s := newMetricsServer(t)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.SetUserValue(router.MatchedRoutePathParam, "/api/executions/{id}/status")
	ctx.Response.SetStatusCode(fasthttp.StatusOK)
	start := time.Now()
	s.observeRequest(&ctx, start)
	if n := testing.AllocsPerRun(1000, func() { s.observeRequest(&ctx, start) }); n != 0 {
		t.Fatalf("observeRequest allocates %v times per request", n)
	}
	_, samples := parseExposition(t, string(serveOnce(t, s, "GET", "/metrics").Body()))
	if got := samples[`exekra_http_requests_total{method="POST",route="/api/executions/{id}/status",status="200"}`]; got < 1001 {
		t.Fatalf("the hook counted %v requests", got)
	}
}
