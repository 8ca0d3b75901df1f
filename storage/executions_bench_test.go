package storage

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// BenchmarkCreateExecutionStorage measures durable creates from 64
// concurrent writers through the group commit.
func BenchmarkCreateExecutionStorage(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	wf := putWorkflowForBench(b, s)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := b.N/64 + 1
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				now := time.Now()
				if _, _, err := s.CreateExecution(newExec(wf, now, messages.PriorityNormal), ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	st := s.Stats()
	b.ReportMetric(float64(per*64)/el.Seconds(), "creates/s")
	if c := st.Commits.Load(); c > 0 {
		b.ReportMetric(float64(st.Writes.Load())/float64(c), "writes/commit")
		b.ReportMetric(float64(st.CommitNanos.Load())/float64(c)/1e6, "ms/commit")
	}
}

func putWorkflowForBench(b *testing.B, s *Store) string {
	return putWorkflowForTest(b, s, "bench", true).ID
}

// BenchmarkCreateExecutionBatch64 writes batches of 64 creations, one batch
// in flight at a time (the executions supervisor's pattern).
func BenchmarkCreateExecutionBatch64(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	wf := putWorkflowForBench(b, s)
	b.ResetTimer()
	start := time.Now()
	n := 0
	for n < b.N {
		es := make([]*messages.Execution, 64)
		for i := range es {
			es[i] = newExec(wf, time.Now(), messages.PriorityNormal)
		}
		done := make(chan error, 1)
		s.CreateExecutionsAsync(es, nil, func(_ []messages.CreateOutcome, err error) { done <- err })
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		n += 64
	}
	el := time.Since(start)
	st := s.Stats()
	b.ReportMetric(float64(n)/el.Seconds(), "creates/s")
	b.ReportMetric(float64(st.CommitNanos.Load())/float64(st.Commits.Load())/1e6, "ms/commit")
}

// BenchmarkListExecutionsFiltered pages filtered lists over many stored
// executions (EXEKRA_BENCH_EXECUTIONS, default 200000): every filter walks
// an index prefix, so a page costs the same with a million stored.
func BenchmarkListExecutionsFiltered(b *testing.B) {
	total := 200000
	if v, err := strconv.Atoi(os.Getenv("EXEKRA_BENCH_EXECUTIONS")); err == nil && v > 0 {
		total = v
	}
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	wfs := []string{putWorkflowForBench(b, s), putWorkflowForBench(b, s), putWorkflowForBench(b, s)}
	base := time.Now().Add(-time.Duration(total) * time.Millisecond)
	statuses := []messages.ExecutionStatus{messages.ExecCompleted, messages.ExecCompleted, messages.ExecFailed, messages.ExecQueued}
	for done := 0; done < total; {
		n := min(20000, total-done)
		es := make([]*messages.Execution, n)
		for i := range es {
			k := done + i
			e := newExec(wfs[k%3], base.Add(time.Duration(k)*time.Millisecond), messages.PriorityNormal)
			e.Status = statuses[k%4]
			if e.Status != messages.ExecQueued {
				r := fmt.Sprintf("runner-%d", k%50)
				e.RunnerID = &r
				e.CompletedAt = e.CreatedAt + 1000
			}
			es[i] = e
		}
		ch := make(chan error, 1)
		s.CreateExecutionsAsync(es, nil, func(_ []messages.CreateOutcome, err error) { ch <- err })
		if err := <-ch; err != nil {
			b.Fatal(err)
		}
		done += n
	}
	cases := []struct {
		name string
		f    messages.ExecutionFilter
		page int
	}{
		{"all", messages.ExecutionFilter{}, 1},
		{"status", messages.ExecutionFilter{Status: messages.ExecFailed}, 1},
		{"status-page-100", messages.ExecutionFilter{Status: messages.ExecFailed}, 100},
		{"workflow+status", messages.ExecutionFilter{WorkflowID: wfs[1], Status: messages.ExecCompleted}, 1},
		{"runner", messages.ExecutionFilter{RunnerID: "runner-7"}, 1},
		{"runner+status", messages.ExecutionFilter{RunnerID: "runner-7", Status: messages.ExecCompleted}, 1},
		{"last-minute", messages.ExecutionFilter{From: messages.TimeOf(time.Now().Add(-time.Minute))}, 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				list, _, err := s.ListExecutions(c.f, messages.Page{Page: c.page, Limit: 50})
				if err != nil || len(list) == 0 {
					b.Fatalf("%v %d", err, len(list))
				}
			}
		})
	}
}
