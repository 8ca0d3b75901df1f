package main

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// seedRunners writes n OFFLINE runners into a new data dir.
func seedRunners(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	s, err := storage.Open(dir, storage.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := 0; i < n; i++ {
		ts := messages.TimeOf(now)
		r := &messages.Runner{ID: messages.NewID(now.Add(time.Duration(i) * time.Millisecond)), Name: fmt.Sprintf("runner-%05d", i),
			MachineKey: fmt.Sprintf("machine-%05d", i), Type: messages.RunnerUnattended, Status: messages.RunnerOffline,
			OfflineSince: ts, CreatedAt: ts, UpdatedAt: ts}
		wg.Add(1)
		s.CreateRunnerAsync(r, messages.Effects{}, func(err error) {
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
	return dir
}

// BenchmarkScrape is one GET /metrics over loopback, as Prometheus makes
// it, on a server with 10,000 registered runners (docs/performance.md);
// cpu-µs/scrape is the CPU of the server and the client together, which a
// shared machine's load does not inflate as it does the wall time.
func BenchmarkScrape(b *testing.B) {
	dir := seedRunners(b, 10000)
	h := newHarness(b, func(c *Config) { c.DataDir, c.LogLevel = dir, "error" })
	if m := h.scrape(); m[`exekra_runners{status="OFFLINE"}`]+m[`exekra_runners{status="ONLINE"}`]+m[`exekra_runners{status="BUSY"}`] != 10000 {
		b.Fatalf("runners: %v online, %v offline", m[`exekra_runners{status="ONLINE"}`], m[`exekra_runners{status="OFFLINE"}`])
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var size int64
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Get(h.base + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		size = n
	}
	b.StopTimer()
	b.ReportMetric(float64(size), "bytes/scrape")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/scrape")
}
