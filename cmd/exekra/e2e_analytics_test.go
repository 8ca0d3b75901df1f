package main

import (
	"net/url"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// End-to-end tests of the analytics ranges (docs/api.md, "Details clients depend on": from/to select
// by createdAt; analytics totals keep executions removed by retention).

// anPerformance reads the analytics row of wf for [from, to] ("" = open);
// nil when the workflow has no execution in the range.
func (h *harness) anPerformance(wf, from, to string) map[string]any {
	h.t.Helper()
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	r := h.expect(h.admin, "GET", "/api/analytics/process-performance?"+q.Encode(), nil, 200)
	rows, ok := r.json["workflows"].([]any)
	if !ok {
		h.t.Fatalf("analytics: %s", r.body)
	}
	for _, x := range rows {
		if m := x.(map[string]any); m["workflowId"] == wf {
			return m
		}
	}
	return nil
}

// anListed counts GET /api/executions of wf for the same range.
func (h *harness) anListed(wf, from, to string) int {
	h.t.Helper()
	q := url.Values{"workflowId": {wf}}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	return int(h.expect(h.admin, "GET", "/api/executions?"+q.Encode(), nil, 200).num("pagination.total"))
}

// TestE2EAnalyticsSelectsByCreatedAt is the audit's case: four executions a
// few seconds apart, finished; a from after all of them selects none, and a
// window of a few seconds selects the ones created in it, with every figure
// over exactly those. The same answers hold after retention removed them.
func TestE2EAnalyticsSelectsByCreatedAt(t *testing.T) {
	h := newHarness(t)
	h.clearOfMidnight(5 * time.Minute)
	wf := h.publishedWorkflow(h.admin, "ranged")
	rn := h.rnOnline("analytics-runner", "UNATTENDED")

	type run struct {
		status  string
		took    time.Duration
		metrics map[string]any
	}
	runs := []run{
		{"COMPLETED", time.Second, map[string]any{"cpuAvg": 10, "cpuPeak": 90, "memAvgMB": 100, "memPeakMB": 400}},
		{"FAILED", 2 * time.Second, map[string]any{"cpuAvg": 20, "cpuPeak": 30, "memAvgMB": 200, "memPeakMB": 250}},
		{"COMPLETED", 4 * time.Second, nil},
		{"STOPPED", 8 * time.Second, map[string]any{"cpuAvg": 40, "cpuPeak": 45, "memAvgMB": 50, "memPeakMB": 60}},
	}
	created := make([]messages.Time, len(runs))
	ids := make([]string, len(runs))
	for i, r := range runs {
		c := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
		ct, err := messages.ParseTime(c.str("execution.createdAt"))
		if err != nil {
			t.Fatalf("createdAt: %s", c.body)
		}
		created[i], ids[i] = ct, c.str("execution.id")
		var id string
		h.rnEventually("the poll to hand out "+ids[i], func() bool {
			id = h.expect(rn.c, "POST", "/api/runners/poll", map[string]any{}, 200).str("execution.id")
			return id != ""
		})
		if id != ids[i] {
			t.Fatalf("poll handed out %s, want %s", id, ids[i])
		}
		h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, 200)
		h.clock.Advance(r.took)
		body := map[string]any{"status": r.status}
		if r.metrics != nil {
			body["metrics"] = r.metrics
		}
		h.expect(rn.c, "POST", "/api/executions/"+id+"/status", body, 200)
		h.clock.Advance(3*time.Second - r.took)
	}
	h.rnEventually("the four runs in the analytics", func() bool {
		r := h.anPerformance(wf, "", "")
		return r != nil && r["total"] == float64(4)
	})

	at := func(i int, d time.Duration) string { return (created[i] + messages.Time(d.Milliseconds())).String() }
	cases := []struct {
		name     string
		from, to string
		want     []int // indexes of the runs selected
	}{
		{"from after all of them", at(3, time.Millisecond), "", nil},
		{"from after all, to far on", at(3, time.Second), at(3, 48*time.Hour), nil},
		{"both bounds inclusive", at(1, 0), at(2, 0), []int{1, 2}},
		{"a window of a few seconds", at(2, -time.Second), at(3, time.Second), []int{2, 3}},
		{"neither bound on a run", at(0, time.Millisecond), at(2, -time.Millisecond), []int{1}},
		{"to before the first", "", at(0, -time.Millisecond), nil},
		{"to on the first", "", at(0, 0), []int{0}},
		{"from on the last", at(3, 0), "", []int{3}},
		{"a day either side", at(0, -24*time.Hour), at(3, 24*time.Hour), []int{0, 1, 2, 3}},
		{"open", "", "", []int{0, 1, 2, 3}},
	}
	check := func(listed bool) {
		t.Helper()
		for _, c := range cases {
			got := h.anPerformance(wf, c.from, c.to)
			if listed {
				if n := h.anListed(wf, c.from, c.to); n != len(c.want) {
					t.Fatalf("%s: GET /api/executions lists %d, want %d", c.name, n, len(c.want))
				}
			}
			if len(c.want) == 0 {
				if got != nil {
					t.Fatalf("%s [%s, %s]: %v, want no row", c.name, c.from, c.to, got)
				}
				continue
			}
			if got == nil {
				t.Fatalf("%s [%s, %s]: no row", c.name, c.from, c.to)
			}
			var completed, failed, stopped, durSum, cpuSum, memSum, cpuPeak, memPeak float64
			var metricsN float64
			for _, i := range c.want {
				switch runs[i].status {
				case "COMPLETED":
					completed++
				case "FAILED":
					failed++
				case "STOPPED":
					stopped++
				}
				durSum += float64(runs[i].took.Milliseconds())
				if m := runs[i].metrics; m != nil {
					metricsN++
					cpuSum += float64(m["cpuAvg"].(int))
					memSum += float64(m["memAvgMB"].(int))
					cpuPeak = max(cpuPeak, float64(m["cpuPeak"].(int)))
					memPeak = max(memPeak, float64(m["memPeakMB"].(int)))
				}
			}
			n := float64(len(c.want))
			want := map[string]float64{"total": n, "completed": completed, "failed": failed, "stopped": stopped,
				"successRate": completed / n, "failureRate": failed / n, "cpuPeak": cpuPeak, "memPeakMB": memPeak}
			if metricsN > 0 {
				want["cpuAvg"], want["memAvgMB"] = cpuSum/metricsN, memSum/metricsN
			} else {
				want["cpuAvg"], want["memAvgMB"] = 0, 0
			}
			for k, v := range want {
				if g, _ := got[k].(float64); g < v-1e-9 || g > v+1e-9 {
					t.Errorf("%s [%s, %s]: %s = %v, want %v (row %v)", c.name, c.from, c.to, k, got[k], v, got)
				}
			}
			// Durations run on the server's clock, which the test moves:
			// each is its step plus the real time of one request.
			if d, _ := got["avgDurationMs"].(float64); d < durSum/n || d > durSum/n+500 {
				t.Errorf("%s: avgDurationMs = %v, want about %v", c.name, got["avgDurationMs"], durSum/n)
			}
		}
	}
	check(true)

	// Two days on, a server with --retention-days 1 removes the four at
	// start; the analytics keep counting them, but retention also prunes
	// the per-execution rows of days before its cut-off's day, so a range
	// with an edge inside that day now counts the whole day (day
	// precision, docs/decisions.md) and a range clear of it nothing.
	h.clock.Advance(49 * time.Hour)
	h.cfg.RetentionDays = 1
	h.restart()
	// The executions go first; the analytics rows are pruned in a later
	// transaction of the same run, which the runs counter follows.
	h.rnEventually("the retention run at start to finish", func() bool {
		return h.scrape()["exekra_retention_runs_total"] >= 1
	})
	for _, id := range ids {
		h.expectError(h.admin, "GET", "/api/executions/"+id, nil, 404, "NOT_FOUND")
	}
	for _, c := range cases {
		if got := h.anPerformance(wf, c.from, c.to); got == nil || got["total"] != float64(4) {
			t.Fatalf("after retention, %s [%s, %s]: %v, want the whole day's 4", c.name, c.from, c.to, got)
		}
	}
	if got := h.anPerformance(wf, at(3, 24*time.Hour), ""); got != nil {
		t.Fatalf("after retention, from the next day: %v, want no row", got)
	}
}
