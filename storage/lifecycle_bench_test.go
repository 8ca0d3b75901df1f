//go:build unix

package storage

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// BenchmarkLifecycleWrites is the storage side of `exekra loadtest
// lifecycle` without HTTP or actors: 200 runners each take the next queued
// execution and write what the server writes for it — ASSIGNED, RUNNING and
// COMPLETED (each waited for, with its execution event), and the runner's
// BUSY and ONLINE (not waited for, with its runner event) — through the
// group commit. It reports the lifecycles per second storage alone allows
// on this machine and the process CPU per lifecycle, the ceiling under the
// full server's figures (docs/performance.md). EXEKRA_BENCH_QUEUED sets the
// backlog (default 20000); b.N lifecycles are run.
func BenchmarkLifecycleWrites(b *testing.B) {
	queued := 20000
	if v, err := strconv.Atoi(os.Getenv("EXEKRA_BENCH_QUEUED")); err == nil && v > 0 {
		queued = v
	}
	queued = max(queued, b.N)
	const runners = 200
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	wf := putWorkflowForBench(b, s)
	rs := make([]*messages.Runner, runners)
	for i := range rs {
		now := messages.TimeOf(time.Now())
		rs[i] = &messages.Runner{ID: messages.NewID(time.Now()), Name: fmt.Sprintf("r%d", i), MachineKey: fmt.Sprintf("m%d", i), Type: messages.RunnerType("UNATTENDED"),
			Status: messages.RunnerOnline, Labels: []string{}, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateRunner(rs[i], messages.Effects{}); err != nil {
			b.Fatal(err)
		}
	}
	// The backlog, created in batches as the create path does.
	ids := make([]*messages.Execution, 0, queued)
	for len(ids) < queued {
		es := make([]*messages.Execution, min(256, queued-len(ids)))
		prio := []messages.Priority{messages.PriorityLow, messages.PriorityNormal, messages.PriorityHigh}
		for i := range es {
			es[i] = newExec(wf, time.Now(), prio[(len(ids)+i)%3])
		}
		createStored(b, s, es) // the records as the execution's owner holds them
		ids = append(ids, es...)
	}
	runnerEvent := func(r *messages.Runner) messages.Effects {
		return messages.Effects{Events: []messages.Event{{Type: messages.EventRunner, Time: r.UpdatedAt, Subject: r.ID,
			Data: r.AppendJSON(nil)}}}
	}
	step := func(prev *messages.Execution, status messages.ExecutionStatus, runner string, expect messages.ExecutionStatus) (*messages.Execution, error) {
		next := *prev
		now := messages.TimeOf(time.Now())
		next.Status, next.UpdatedAt = status, now
		switch status {
		case messages.ExecAssigned:
			next.RunnerID, next.AssignedAt = &runner, now
		case messages.ExecRunning:
			next.StartedAt = now
		default:
			next.CompletedAt = now
		}
		fx := messages.Effects{Events: []messages.Event{messages.ExecutionEvent(&next, false)}}
		return &next, s.SaveTransition(prev, &next, expect, "", fx)
	}
	before := s.Stats()
	commits0, writes0, nanos0 := before.Commits.Load(), before.Writes.Load(), before.CommitNanos.Load()
	pages0 := pagesWritten(s)
	cpu0 := processCPU()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := *rs[i]
			for {
				k := int(next.Add(1)) - 1
				if k >= b.N {
					return
				}
				e := ids[k]
				var err error
				if e, err = step(e, messages.ExecAssigned, r.ID, messages.ExecQueued); err != nil {
					b.Error(err)
					return
				}
				r.Status, r.CurrentExecutionID, r.UpdatedAt = messages.RunnerBusy, &e.ID, messages.TimeOf(time.Now())
				busy := r
				s.SaveRunnerAsync(&busy, runnerEvent(&busy), func(error) {})
				if e, err = step(e, messages.ExecRunning, r.ID, ""); err != nil {
					b.Error(err)
					return
				}
				if _, err = step(e, messages.ExecCompleted, r.ID, ""); err != nil {
					b.Error(err)
					return
				}
				r.Status, r.CurrentExecutionID, r.UpdatedAt = messages.RunnerOnline, nil, messages.TimeOf(time.Now())
				online := r
				s.SaveRunnerAsync(&online, runnerEvent(&online), func(error) {})
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	cpu := processCPU() - cpu0
	st := s.Stats()
	commits, writes := st.Commits.Load()-commits0, st.Writes.Load()-writes0
	b.ReportMetric(float64(b.N)/el.Seconds(), "lifecycles/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/lifecycle")
	if commits > 0 {
		b.ReportMetric(float64(writes)/float64(commits), "writes/commit")
		b.ReportMetric(float64(st.CommitNanos.Load()-nanos0)/float64(commits)/1e6, "ms/commit")
		// Pages (4 KiB) bbolt wrote: each commit rewrites every page its
		// writes touched.
		b.ReportMetric(float64(pagesWritten(s)-pages0)/float64(b.N), "pages/lifecycle")
	}
}

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pagesWritten is how many pages bbolt has written since Open.
func pagesWritten(s *Store) int64 {
	st := s.bolt.Stats()
	return st.TxStats.GetWrite()
}
