package storage

import (
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
