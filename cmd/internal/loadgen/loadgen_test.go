package loadgen

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := rng.Int64N(1 << 40)
		i := bucketIndex(v)
		if i < 0 || i >= histogramBuckets {
			t.Fatalf("bucketIndex(%d) = %d out of range", v, i)
		}
		up := bucketUpper(i)
		if up < v {
			t.Fatalf("bucketUpper(bucketIndex(%d)) = %d < value", v, up)
		}
		if v >= subBuckets && float64(up-v)/float64(v) > 1.0/subBuckets {
			t.Fatalf("bucket error for %d: upper %d", v, up)
		}
		if i > 0 && bucketUpper(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, i-1)
		}
	}
	if got := bucketIndex(math.MaxInt64); got != histogramBuckets-1 {
		t.Fatalf("largest value maps to %d, want %d", got, histogramBuckets-1)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	h := NewHistogram()
	if h.Percentile(50) != 0 || h.Max() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	for i := 1000; i >= 1; i-- { // order must not matter
		h.Record(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{0, time.Millisecond},
		{50, 500 * time.Millisecond},
		{99, 990 * time.Millisecond},
		{99.9, 999 * time.Millisecond},
		{100, 1000 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.Percentile(tt.p)
		if got < tt.want || float64(got-tt.want) > float64(tt.want)/subBuckets {
			t.Errorf("p%.1f = %s, want %s within 1/%d", tt.p, got, tt.want, subBuckets)
		}
	}
	if h.Max() != time.Second || h.Mean() != 500500*time.Microsecond {
		t.Errorf("max %s mean %s", h.Max(), h.Mean())
	}
	other := NewHistogram()
	other.Record(5 * time.Second)
	h.Merge(other)
	if h.Count() != 1001 || h.Max() != 5*time.Second || h.Percentile(100) != 5*time.Second {
		t.Errorf("after merge: count %d max %s", h.Count(), h.Max())
	}
}

func TestRecorderSummary(t *testing.T) {
	r := NewRecorder()
	r.Record("create", 201, time.Millisecond)
	r.Record("create", 409, 2*time.Millisecond)
	r.RecordError("create", "timeout")
	r.Record("poll", 200, 3*time.Millisecond)
	r.RecordSample("queue wait", time.Second)
	s := r.Summarize(time.Second)
	if s.Requests != 3 || s.RPS != 3 {
		t.Errorf("requests %d rps %f, want 3 and 3 (samples excluded)", s.Requests, s.RPS)
	}
	if s.Errors["status 409"] != 1 || s.Errors["timeout"] != 1 || len(s.Errors) != 2 {
		t.Errorf("errors %v", s.Errors)
	}
	if s.MaxMs != 3 {
		t.Errorf("max %f, want 3 (the sample is not a request)", s.MaxMs)
	}
	if len(s.Ops) != 3 || !s.Ops[2].IsSample {
		t.Errorf("ops %+v", s.Ops)
	}
}

func TestRunLoadIsBounded(t *testing.T) {
	var calls atomic.Int64
	runLoad(loadShape{Workers: 8, Duration: 5 * time.Second, Requests: 100}, func(int, int64) { calls.Add(1) })
	if calls.Load() != 100 {
		t.Errorf("calls %d, want 100", calls.Load())
	}
	start := time.Now()
	runLoad(loadShape{Workers: 2, Duration: 50 * time.Millisecond}, func(int, int64) { time.Sleep(time.Millisecond) })
	if time.Since(start) > 2*time.Second {
		t.Errorf("duration-bound loop did not stop")
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no scenario", nil, 2, "missing scenario"},
		{"unknown scenario", []string{"nope"}, 2, `unknown scenario "nope"`},
		{"bad flag", []string{"poll", "--concurrency", "x"}, 2, "concurrency"},
		{"unknown flag", []string{"poll", "--frobnicate"}, 2, "frobnicate"},
		{"extra argument", []string{"poll", "extra"}, 2, "unexpected argument"},
		{"wait too long", []string{"scale", "--wait", "2m"}, 2, "--wait"},
		{"url without credentials", []string{"poll", "--url", "http://127.0.0.1:1"}, 2, "--token"},
		{"bad url", []string{"poll", "--url", "ftp://x", "--token", "t"}, 2, "scheme"},
		{"missing binary", []string{"poll", "--bin", "/nonexistent/exekra", "--duration", "50ms"}, 1, ""},
		{"help", []string{"--help"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			if tt.code == 2 {
				lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], tt.err) {
					t.Errorf("stderr %q, want one line containing %q", errb.String(), tt.err)
				}
			}
		})
	}
}

func TestBaselineAndMarkdown(t *testing.T) {
	md := filepath.Join(t.TempDir(), "perf.md")
	for range 2 {
		var out, errb bytes.Buffer
		code := Main([]string{"baseline", "--duration", "200ms", "--concurrency", "4", "--json", "--markdown", md}, &out, &errb)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("json: %v\n%s", err, out.String())
		}
		r := rep.Results[0]
		if r.Requests == 0 || r.RPS <= 0 || r.Ratio != 1 || !r.Passed {
			t.Errorf("baseline result %+v", r)
		}
	}
	data, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "## Load test baseline"); n != 2 {
		t.Errorf("markdown has %d sections, want 2:\n%s", n, data)
	}
}

// runAgainstFake runs one scenario with --url against a fake and decodes the
// JSON report.
func runAgainstFake(t *testing.T, f *fakeServer, args ...string) (int, Result, string) {
	t.Helper()
	url := f.start(t)
	var out, errb bytes.Buffer
	args = append(args, "--url", url, "--token", "admin", "--json", "--duration", "150ms", "--concurrency", "4")
	code := Main(args, &out, &errb)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Results) != 1 {
		t.Fatalf("exit %d, bad json (%v): %s\nstderr: %s", code, err, out.String(), errb.String())
	}
	var text bytes.Buffer
	writeText(&text, rep.Results[0])
	return code, rep.Results[0], text.String()
}

func TestScenariosAgainstFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		check string // a check that must have run
	}{
		{"poll", []string{"poll", "--runners", "6"}, "no work handed out from an empty queue"},
		{"heartbeat", []string{"heartbeat", "--runners", "6"}, "sampled runners are ONLINE with lastHeartbeatAt"},
		{"create", []string{"create"}, "an Idempotency-Key repeat returns the first execution (one 201 per key)"},
		{"webhook", []string{"webhook", "--triggers", "3", "--burst", "5", "--burst-gap", "10ms"},
			"sampled executions carry their triggerId and the body as input"},
		{"lifecycle", []string{"lifecycle", "--runners", "4", "--executions", "40", "--wait", "1s"},
			"HIGH executions were handed out before NORMAL before LOW"},
		{"scale", []string{"scale", "--runners", "30", "--rate", "100", "--wait", "1s", "--heartbeat-interval", "1s", "--drain-timeout", "3s"},
			"none lost: every execution created was completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // mostly parked long polls; the tests assert no speed
			code, r, text := runAgainstFake(t, newFakeServer(), tt.args...)
			if code != 0 || !r.Passed {
				t.Fatalf("exit %d, want 0:\n%s", code, text)
			}
			if r.Requests == 0 || r.Baseline.RPS <= 0 || r.Ratio <= 0 || !strings.Contains(text, "ok   "+tt.check) {
				t.Errorf("thin result:\n%s", text)
			}
		})
	}
}

// failedCheck reports whether the named check ran and failed.
func failedCheck(r Result, name string) bool {
	for _, c := range r.Checks {
		if c.Name == name && !c.OK {
			return true
		}
	}
	return false
}

func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	const name = "HIGH executions were handed out before NORMAL before LOW"
	for _, fifo := range []bool{false, true} {
		f := newFakeServer()
		f.ignorePriority = fifo
		code, r, text := runAgainstFake(t, f, "lifecycle", "--runners", "4", "--executions", "60", "--wait", "1s")
		if fifo != failedCheck(r, name) || (code == 0) == fifo || !strings.Contains(text, name) {
			t.Errorf("ignorePriority=%v: exit %d:\n%s", fifo, code, text)
		}
	}
}

func TestDoubleAssignmentIsCaught(t *testing.T) {
	t.Parallel()
	f := newFakeServer()
	f.doubleAssign = true
	code, r, text := runAgainstFake(t, f, "lifecycle", "--runners", "4", "--executions", "10", "--wait", "1s", "--drain-timeout", "500ms")
	if code != 1 || r.Passed {
		t.Fatalf("exit %d, want 1:\n%s", code, text)
	}
	found := false
	for _, c := range r.Checks {
		if c.Name == "no execution assigned to two runners" && !c.OK {
			found = true
		}
	}
	if !found {
		t.Errorf("the double assignment went unnoticed:\n%s", text)
	}
}
