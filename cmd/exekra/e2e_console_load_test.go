package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleExecutionsUnderLiveLoad: the executions page stays correct
// while runners send progress reports at 10,000 a minute (each one an
// execution event): rows end in their final state, and the page's frame
// and long-task figures are logged (not asserted: tests never judge speed).
func TestConsoleExecutionsUnderLiveLoad(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	if testing.Short() {
		skipUnlessCI(t, "live load in a browser: not with -short")
	}
	h := newHarness(t)
	wf := h.consoleWorkflow("Busy flow", helloGraph)
	const n = 20
	type run struct {
		runner *client
		exec   string
	}
	runs := make([]run, n)
	for i := range runs {
		reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": fmt.Sprintf("load-%02d", i)}, 201)
		auth := h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": reg.str("machineKey"), "machineSecret": reg.str("machineSecret")}, 200)
		runs[i].runner = &client{token: auth.str("token")}
		h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	}
	for i := range runs {
		h.expect(runs[i].runner, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
		poll := h.expect(runs[i].runner, "POST", "/api/runners/poll", nil, 200)
		runs[i].exec = poll.str("execution.id")
		if runs[i].exec == "" {
			t.Fatalf("runner %d got no work: %s", i, poll.body)
		}
		h.expect(runs[i].runner, "POST", "/api/executions/"+runs[i].exec+"/status", map[string]any{"status": "RUNNING"}, 200)
	}

	p := signedInPage(t, h.base, "/executions", adminEmail, adminPassword, "Executions")
	p.waitJS("live", `document.querySelector(".live").dataset.state === "live" && document.querySelectorAll("tbody .s-running").length === `+fmt.Sprint(n))
	eval[bool](p, `(() => { window.__lt = []; window.__frames = 0;
		new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__lt.push(e.duration); }).observe({ type: "longtask" });
		const tick = () => { window.__frames++; requestAnimationFrame(tick); }; requestAnimationFrame(tick); return true; })()`)

	// 10,000 a minute for 3 seconds: 500 progress reports, spread evenly
	// (one second's worth under the race detector).
	reports := 500
	if raceEnabled {
		reports = 167
	}
	interval := time.Minute / 10000
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < reports; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		r := runs[i%n]
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			h.expect(r.runner, "POST", "/api/executions/"+r.exec+"/status", map[string]any{
				"status": "RUNNING", "logs": fmt.Sprintf("step %d\n", i), "metrics": map[string]any{"cpuAvg": float64(i % 100)}}, 200)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, r := range runs {
		h.expect(r.runner, "POST", "/api/executions/"+r.exec+"/status", map[string]any{"status": "COMPLETED"}, 200)
	}
	p.waitJS("every row completed", `document.querySelectorAll("tbody .s-completed").length === `+fmt.Sprint(n))
	frames := eval[int](p, `window.__frames`)
	long := eval[[]float64](p, `window.__lt`)
	worst := 0.0
	for _, d := range long {
		worst = max(worst, d)
	}
	t.Logf("%d reports in %v (%.0f a minute); page: %d frames (%.0f a second), %d long tasks, longest %.0f ms",
		reports, elapsed.Round(time.Millisecond), float64(reports)/elapsed.Minutes(), frames, float64(frames)/time.Since(start).Seconds(), len(long), worst)
}

// TestConsoleLargeLog: a 1 MiB log (about 20,000 lines) opens with only the
// lines in view in the page, and search and "jump to the first error" work
// over all of it.
func TestConsoleLargeLog(t *testing.T) {
	t.Parallel() // after the serial tests, two browser tests at a time (-parallel = GOMAXPROCS)
	h := newHarness(t)
	wf := h.consoleWorkflow("Chatty flow", helloGraph)
	reg := h.expect(h.admin, "POST", "/api/runners/register", map[string]any{"name": "chatty"}, 201)
	runner := &client{token: h.expect(anon, "POST", "/api/runners/authenticate", map[string]any{"machineKey": reg.str("machineKey"), "machineSecret": reg.str("machineSecret")}, 200).str("token")}
	h.expect(runner, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	id := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201).str("execution.id")
	h.expect(runner, "POST", "/api/runners/poll", nil, 200)
	h.expect(runner, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, 200)
	lines := 0
	for chunk := 0; chunk < 2; chunk++ {
		var b strings.Builder
		for b.Len() < 500<<10 {
			lines++
			if lines == 7000 {
				fmt.Fprintf(&b, "line %06d ERROR: the ledger did not balance\n", lines)
				continue
			}
			fmt.Fprintf(&b, "line %06d processing record %d of the nightly batch, all fine so far\n", lines, lines)
		}
		h.expect(runner, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING", "logs": b.String()}, 200)
	}
	p := signedInPage(t, h.base, "/executions/"+id, adminEmail, adminPassword, "")
	p.waitJS("the log", `document.querySelectorAll(".log-view .ln").length > 0`)
	start := time.Now() // once more, signed in: how long until the log shows
	p.open("/executions/" + id)
	p.waitJS("the log", `!!document.querySelector(".log-view") && document.querySelector(".log-view").innerText.includes("line `+fmt.Sprintf("%06d", lines)+`")`)
	t.Logf("a %d-line log: the page and its log show %v after the navigation starts", lines, time.Since(start).Round(time.Millisecond))
	if n := eval[int](p, `document.querySelectorAll(".log-view .ln").length`); n > 200 {
		t.Errorf("%d line elements in the page for a %d-line log", n, lines)
	}
	if !eval[bool](p, `document.querySelector(".log-view").innerText.includes("line `+fmt.Sprintf("%06d", lines)+`")`) {
		t.Error("following the log does not show its last line")
	}
	p.click("button", "Jump to first error")
	p.waitJS("the error line", `!!document.querySelector(".ln.cur") && document.querySelector(".ln.cur").innerText.includes("line 007000 ERROR")`)
	p.do("search", chromedp.SetValue("", "record 1234 ", sel("searchbox", "Search log")...), chromedp.SendKeys("", "o", sel("searchbox", "Search log")...))
	p.waitJS("the match count", `document.querySelector(".log").innerText.includes("1 of 1 matches")`)
}
