package main

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The ready-made monitoring (docs/monitoring) names only series a real
// server exposes: every metric name in the alerting rules' expressions and
// in the Grafana dashboard's queries is a family of GET /metrics (up is
// Prometheus's own).

// monitoringMetric finds metric names in PromQL: the names of this server's
// families all start so; functions, keywords and labels never do.
var monitoringMetric = regexp.MustCompile(`\b(?:exekra|process|go)_[a-zA-Z0-9_:]*|\bup\b`)

// ruleExprs reads the expr values of a rules file, block scalars included.
func ruleExprs(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		at := strings.Index(line, "expr:")
		if at < 0 || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		v := strings.TrimSpace(line[at+len("expr:"):])
		if v == "|" || v == ">" {
			indent := at
			var block []string
			for i+1 < len(lines) {
				next := lines[i+1]
				if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
					break
				}
				block = append(block, strings.TrimSpace(next))
				i++
			}
			v = strings.Join(block, " ")
		}
		out = append(out, v)
	}
	return out
}

// dashboardQueries collects every "expr" and "definition" of a dashboard.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s is not valid JSON: %v", path, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "expr" || k == "definition") {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	if m, ok := doc.(map[string]any); !ok || m["title"] == nil || m["panels"] == nil {
		t.Fatalf("%s is not a Grafana dashboard", path)
	}
	return out
}

func TestMonitoringNamesRealSeries(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RetentionDays = 30 })
	// Exposed families: from the TYPE lines of a real scrape.
	r := h.request(anon, "GET", "/metrics", nil)
	families := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(string(r.body), -1) {
		families[m[1]] = m[2]
	}
	exposed := func(name string) bool {
		if name == "up" {
			return true
		}
		if _, ok := families[name]; ok {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base := strings.TrimSuffix(name, suf); base != name && (families[base] == "histogram" || families[base] == "summary" && suf != "_bucket") {
				return true
			}
		}
		return false
	}
	used := map[string]bool{}
	check := func(source string, exprs []string, min int) {
		if len(exprs) < min {
			t.Fatalf("%s: %d queries found, want at least %d", source, len(exprs), min)
		}
		for _, e := range exprs {
			names := monitoringMetric.FindAllString(e, -1)
			if len(names) == 0 {
				t.Errorf("%s: %q names no metric", source, e)
			}
			for _, n := range names {
				used[n] = true
				if !exposed(n) {
					t.Errorf("%s: %s (in %q) is not exposed by GET /metrics", source, n, e)
				}
			}
		}
	}
	check("alerts.yml", ruleExprs(t, "../../docs/monitoring/alerts.yml"), 10)
	check("grafana-dashboard.json", dashboardQueries(t, "../../docs/monitoring/grafana-dashboard.json"), 25)

	// What an operator alerts on is all covered.
	for _, n := range []string{"exekra_runners", "exekra_execution_queue_wait_seconds_bucket", "exekra_executions_finished_total",
		"exekra_license_expiry_timestamp_seconds", "exekra_storage_commit_failures_total", "exekra_webhook_fires_total",
		"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "exekra_event_streams"} {
		if !used[n] {
			t.Errorf("no rule or panel uses %s", n)
		}
	}
	if t.Failed() {
		var all []string
		for f := range families {
			all = append(all, f)
		}
		sort.Strings(all)
		t.Logf("exposed families: %s", strings.Join(all, " "))
	}
}
