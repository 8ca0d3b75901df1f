package loadgen

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Check is one correctness check of a run.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Result is everything one scenario measured and checked.
type Result struct {
	Scenario    string             `json:"scenario"`
	Target      string             `json:"target"`
	Concurrency int                `json:"concurrency"`
	Runners     int                `json:"runners,omitempty"`
	DurationS   float64            `json:"durationSeconds"`
	Summary                        // requests, rps, latency, errors, per-operation rows
	Baseline    BaselineResult     `json:"baseline"`
	Ratio       float64            `json:"ratio"`
	Extra       map[string]float64 `json:"extra,omitempty"`
	Checks      []Check            `json:"checks"`
	Error       string             `json:"error,omitempty"`
	Passed      bool               `json:"passed"`
}

// check appends a correctness check.
func (r *Result) check(name string, ok bool, format string, a ...any) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, a...)})
}

// finish computes the ratio and the verdict.
func (r *Result) finish() {
	if r.Baseline.RPS > 0 {
		r.Ratio = r.RPS / r.Baseline.RPS
	}
	r.Passed = r.Error == ""
	for _, c := range r.Checks {
		if !c.OK {
			r.Passed = false
		}
	}
}

// Environment describes the machine the numbers come from.
type Environment struct {
	Time      string `json:"time"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
}

// Report is the --json document.
type Report struct {
	Environment Environment `json:"environment"`
	Results     []Result    `json:"results"`
}

func currentEnvironment() Environment {
	return Environment{
		Time:      time.Now().UTC().Format(time.RFC3339),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		CPUs:      runtime.NumCPU(),
	}
}

// formatErrors prints an error map as "status 409: 3, timeout: 1".
func formatErrors(errs map[string]int64) string {
	if len(errs) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}

// writeText prints one result for people.
func writeText(w io.Writer, r Result) {
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "== %s [%s]  target %s, concurrency %d", r.Scenario, verdict, r.Target, r.Concurrency)
	if r.Runners > 0 {
		fmt.Fprintf(w, ", runners %d", r.Runners)
	}
	fmt.Fprintf(w, ", %.1fs\n", r.DurationS)
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	fmt.Fprintf(w, "  throughput  %.0f req/s (%d requests)   baseline %.0f req/s at concurrency %d   ratio %.3f\n",
		r.RPS, r.Requests, r.Baseline.RPS, r.Baseline.Concurrency, r.Ratio)
	if runs := r.Baseline.RPSRuns; len(runs) == 2 && min(runs[0], runs[1]) > 0 && max(runs[0], runs[1])/min(runs[0], runs[1]) > 1.5 {
		fmt.Fprintf(w, "  note        the baseline moved from %.0f to %.0f req/s during this run: the machine is busy, compare with care\n", runs[0], runs[1])
	}
	fmt.Fprintf(w, "  latency     p50 %.2fms  p99 %.2fms  max %.2fms   (baseline p50 %.2fms p99 %.2fms)\n",
		r.P50ms, r.P99ms, r.MaxMs, r.Baseline.P50ms, r.Baseline.P99ms)
	if r.Scenario == "lifecycle" || r.Scenario == "scale" {
		fmt.Fprintf(w, "              (long polls included: their latency is mostly ?wait=; read the operations)\n")
	}
	fmt.Fprintf(w, "  errors      %s\n", formatErrors(r.Errors))
	if len(r.Ops) > 1 || (len(r.Ops) == 1 && r.Ops[0].IsSample) {
		fmt.Fprintf(w, "  %-12s %9s %9s %9s %9s %9s  %s\n", "operation", "count", "per s", "p50 ms", "p99 ms", "max ms", "errors")
		for _, op := range r.Ops {
			name := op.Name
			if op.IsSample {
				name += "*"
			}
			fmt.Fprintf(w, "  %-12s %9d %9.1f %9.2f %9.2f %9.2f  %s\n", name, op.Count, op.RPS, op.P50ms, op.P99ms, op.MaxMs, formatErrors(op.Errors))
		}
	}
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-28s %.2f\n", k, r.Extra[k])
		}
	}
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s", mark, c.Name)
		if c.Detail != "" {
			fmt.Fprintf(w, " (%s)", c.Detail)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// appendMarkdown appends one results section to path.
func appendMarkdown(path string, cfg config, results []Result) error {
	var b strings.Builder
	env := currentEnvironment()
	fmt.Fprintf(&b, "\n## Load test %s (%s)\n\n", strings.Join(scenarioList(results), ", "), env.Time)
	fmt.Fprintf(&b, "Machine: %d CPUs, %s/%s, %s. Target: %s. Concurrency %d, duration %s.\n\n",
		env.CPUs, env.OS, env.Arch, env.GoVersion, targetName(cfg), cfg.concurrency, cfg.duration)
	b.WriteString("| scenario | conc. | runners | requests | req/s | baseline req/s | ratio | p50 ms | p99 ms | max ms | errors | checks |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range results {
		checks := "pass"
		var failed []string
		for _, c := range r.Checks {
			if !c.OK {
				failed = append(failed, c.Name)
			}
		}
		if r.Error != "" {
			failed = append(failed, "error: "+r.Error)
		}
		if len(failed) > 0 {
			checks = "FAIL: " + strings.Join(failed, "; ")
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %.0f | %.3f | %.2f | %.2f | %.2f | %s | %s |\n",
			r.Scenario, r.Concurrency, r.Runners, r.Requests, r.RPS, r.Baseline.RPS, r.Ratio,
			r.P50ms, r.P99ms, r.MaxMs, mdEscape(formatErrors(r.Errors)), mdEscape(checks))
	}
	for _, r := range results {
		if len(r.Extra) == 0 {
			continue
		}
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, r.Extra[k]))
		}
		fmt.Fprintf(&b, "\n- %s: %s", r.Scenario, strings.Join(parts, ", "))
	}
	b.WriteString("\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("markdown: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		_ = f.Close()
		return fmt.Errorf("markdown: %w", err)
	}
	return f.Close()
}

func scenarioList(results []Result) []string {
	out := make([]string, 0, len(results))
	for _, r := range results {
		out = append(out, r.Scenario)
	}
	return out
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
