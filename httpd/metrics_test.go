package httpd

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

func newMetricsServer(t *testing.T) *Server {
	t.Helper()
	figures := func() Figures {
		return Figures{
			RunnersOnline: 2, RunnersBusy: 1, RunnersOffline: 3, QueueDepth: [3]int64{1, 2, 3},
			WaitingPolls: 4, LiveExecutions: 5, ActorRestarts: 6, Commits: 7, CommitWrites: 9,
			BatchSizes:       Histogram{Bounds: []float64{1, 2}, Counts: []uint64{3, 2, 1}, Sum: 12},
			CommitSeconds:    Histogram{Bounds: []float64{0.001}, Counts: []uint64{4, 1}, Sum: 0.01},
			Executions:       &messages.ExecutionStats{Total: 6, Queued: 1, Running: 2, Completed: 3},
			Retention:        &RetentionFigures{Runs: 2, Removed: 7},
			StorageFileBytes: 65536,
		}
	}
	return newTestServer(Config{Version: "test\"1", Figures: figures}, &fuzzCore{state: messages.StateUnactivated})
}

var (
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// parseExposition checks every line and returns "name{label names}" → count
// and the samples by full series.
func parseExposition(t *testing.T, text string) (shapes map[string]int, samples map[string]float64) {
	t.Helper()
	shapes, samples = map[string]int{}, map[string]float64{}
	typed := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			if !helpLine.MatchString(line) {
				t.Errorf("line %d: bad HELP: %q", n, line)
			}
		case strings.HasPrefix(line, "# TYPE "):
			m := typeLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line %d: bad TYPE: %q", n, line)
				continue
			}
			if _, dup := typed[m[1]]; dup {
				t.Errorf("line %d: family %s declared twice", n, m[1])
			}
			typed[m[1]] = m[2]
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line %d: not an exposition line: %q", n, line)
				continue
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Errorf("line %d: bad value %q", n, m[3])
			}
			family := m[1]
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(m[1], suf); base != m[1] && (typed[base] == "histogram" || typed[base] == "summary" && suf != "_bucket") {
					family = base
				}
			}
			if typed[family] == "" {
				t.Errorf("line %d: sample of %s before its TYPE", n, m[1])
			}
			var names []string
			for _, lp := range labelPair.FindAllStringSubmatch(m[2], -1) {
				names = append(names, lp[1])
			}
			shapes[m[1]+"{"+strings.Join(names, ",")+"}"]++
			samples[m[1]+"{"+m[2]+"}"] = v
		}
	}
	return shapes, samples
}

func TestMetricsExposition(t *testing.T) {
	s := newMetricsServer(t)
	serveOnce(t, s, "GET", "/api/openapi.json")
	serveOnce(t, s, "GET", "/api/no-such-thing/secret-token")
	serveOnce(t, s, "BREW", "/metrics")
	resp := serveOnce(t, s, "GET", "/metrics")
	if resp.StatusCode() != 200 || !strings.HasPrefix(string(resp.Header.ContentType()), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode(), resp.Header.ContentType())
	}
	first := string(resp.Body())
	shapes1, samples := parseExposition(t, first)
	for series, want := range map[string]float64{
		`exekra_runners{status="ONLINE"}`:                                                 2,
		`exekra_runners{status="OFFLINE"}`:                                                3,
		`exekra_queue_depth{priority="LOW"}`:                                              3,
		`exekra_long_polls_waiting{}`:                                                     4,
		`exekra_execution_actors{}`:                                                       5,
		`exekra_actor_restarts_total{}`:                                                   6,
		`exekra_executions{status="COMPLETED"}`:                                           3,
		`exekra_storage_batch_size_bucket{le="2"}`:                                        5,
		`exekra_storage_batch_size_bucket{le="+Inf"}`:                                     6,
		`exekra_storage_batch_size_count{}`:                                               6,
		`exekra_storage_commit_duration_seconds_bucket{le="0.001"}`:                       4,
		`exekra_system_state{state="UNACTIVATED"}`:                                        1,
		`exekra_retention_removed_total{}`:                                                7,
		`exekra_storage_file_bytes{}`:                                                     65536,
		`exekra_system_state{state="OPERATIONAL"}`:                                        0,
		`exekra_build_info{version="test\"1"}`:                                            1,
		`exekra_http_requests_total{method="GET",route="/api/openapi.json",status="200"}`: 1,
		`exekra_http_requests_total{method="GET",route="unmatched",status="404"}`:         1,
		`exekra_http_requests_total{method="OTHER",route="unmatched",status="405"}`:       1,
	} {
		if got, ok := samples[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if strings.Contains(first, "secret-token") {
		t.Error("a raw path leaked into a label")
	}
	// Names and label sets are stable from one scrape to the next.
	shapes2, samples2 := parseExposition(t, string(serveOnce(t, s, "GET", "/metrics").Body()))
	for shape := range shapes1 {
		if shapes2[shape] == 0 {
			t.Errorf("series shape %s vanished on the second scrape", shape)
		}
	}
	if got := samples2[`exekra_http_requests_total{method="GET",route="/metrics",status="200"}`]; got != 1 {
		t.Errorf("the first scrape was not counted: %v", got)
	}
	if got := samples2[`exekra_http_request_duration_seconds_count{method="GET",route="/metrics"}`]; got != 1 {
		t.Errorf("latency count of /metrics = %v, want 1", got)
	}
}

func TestOpenAPIServedBeforeReady(t *testing.T) {
	s := newMetricsServer(t)
	resp := serveOnce(t, s, "GET", "/api/openapi.json")
	if resp.StatusCode() != 200 || string(resp.Header.ContentType()) != "application/json" {
		t.Fatalf("GET /api/openapi.json: %d %s", resp.StatusCode(), resp.Header.ContentType())
	}
	if string(resp.Body()) != string(openAPIDocument) {
		t.Fatal("the served document differs from the embedded one")
	}
}

// BenchmarkObserveRequest is the per-request cost of the metrics hook.
func BenchmarkObserveRequest(b *testing.B) {
	s := &Server{}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.SetUserValue(router.MatchedRoutePathParam, "/api/executions/{id}/status")
	start := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.observeRequest(&ctx, start)
		}
	})
}

// BenchmarkScrape is the cost of one /metrics answer with 100 route series.
func BenchmarkScrape(b *testing.B) {
	s := &Server{core: &fuzzCore{}, cfg: Config{Figures: func() Figures { return Figures{} }}}
	var ctx fasthttp.RequestCtx
	for i := 0; i < 100; i++ {
		ctx.Request.Header.SetMethod("GET")
		ctx.SetUserValue(router.MatchedRoutePathParam, "/api/route/"+strconv.Itoa(i))
		s.observeRequest(&ctx, time.Now())
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		s.writeMetrics(&buf)
	}
}
