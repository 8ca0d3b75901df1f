package storage

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

func openAnalyticsStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fptr(v float64) *float64 { return &v }

func finishedExec(wf, name string, status messages.ExecutionStatus, created time.Time, durMs int64, m *messages.ExecutionMetrics) *messages.Execution {
	e := &messages.Execution{
		ID: messages.NewID(created), WorkflowID: wf, Workflow: messages.WorkflowRef{ID: wf, Name: name},
		Status: status, CreatedAt: messages.TimeOf(created), Metrics: m,
	}
	if durMs >= 0 {
		e.StartedAt = messages.TimeOf(created.Add(time.Second))
		e.CompletedAt = e.StartedAt + messages.Time(durMs)
	}
	return e
}

func TestAnalyticsFoldAndRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openAnalyticsStore(t, dir)
	day1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	execs := []*messages.Execution{
		finishedExec("wfA", "Alpha", messages.ExecCompleted, day1, 1000, &messages.ExecutionMetrics{CPUAvg: fptr(10), CPUPeak: fptr(30), MemAvgMB: fptr(100), MemPeakMB: fptr(150)}),
		finishedExec("wfA", "Alpha", messages.ExecCompleted, day1, 3000, &messages.ExecutionMetrics{CPUAvg: fptr(20), CPUPeak: fptr(50), MemAvgMB: fptr(200), MemPeakMB: fptr(120)}),
		finishedExec("wfA", "Alpha", messages.ExecFailed, day2, 2000, nil),
		finishedExec("wfA", "Alpha", messages.ExecStopped, day2, -1, nil), // never started
		finishedExec("wfB", "Beta", messages.ExecCompleted, day2, 500, nil),
		// An id that extends another one sorts among its keys' neighbours.
		finishedExec("wfAB", "AlphaBeta", messages.ExecCompleted, day1, 100, nil),
		finishedExec("wfAB", "AlphaBeta", messages.ExecCompleted, day2.Add(48*time.Hour), 100, nil),
		{ID: "x", WorkflowID: "wfB", Status: messages.ExecRunning, CreatedAt: messages.TimeOf(day2)}, // ignored
	}
	for _, e := range execs {
		e := e
		if err := s.update(func(tx *bbolt.Tx) error { return foldAnalyticsTx(tx, e) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAnalyticsStore(t, dir)
	defer s.Close()

	all, err := s.ProcessPerformance(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[1].WorkflowID != "wfAB" || all[1].Total != 2 {
		t.Fatalf("got %d rows, want 3 (wfAB with 2): %+v", len(all), all)
	}
	all = []messages.WorkflowPerformance{all[0], all[2]}
	a := all[0]
	want := messages.WorkflowPerformance{WorkflowID: "wfA", WorkflowName: "Alpha", Total: 4, Completed: 2, Failed: 1, Stopped: 1,
		SuccessRate: 0.5, FailureRate: 0.25, AvgDurationMs: 2000, CPUAvg: 15, CPUPeak: 50, MemAvgMB: 150, MemPeakMB: 150}
	if a != want {
		t.Fatalf("wfA = %+v\nwant %+v", a, want)
	}
	if b := all[1]; b.WorkflowID != "wfB" || b.Total != 1 || b.SuccessRate != 1 || b.AvgDurationMs != 500 {
		t.Fatalf("wfB = %+v", b)
	}

	// Day range: only day1.
	only1, err := s.ProcessPerformance(messages.TimeOf(day1), messages.TimeOf(day1.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if len(only1) != 2 || only1[0].Total != 2 || math.Abs(only1[0].AvgDurationMs-2000) > 1e-9 ||
		only1[1].WorkflowID != "wfAB" || only1[1].Total != 1 {
		t.Fatalf("day1 = %+v", only1)
	}
	// From day2 on.
	from2, err := s.ProcessPerformance(messages.TimeOf(day2), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(from2) != 3 || from2[0].Total != 2 || from2[0].CPUAvg != 0 || from2[1].WorkflowID != "wfAB" ||
		from2[1].Total != 1 || from2[2].Total != 1 {
		t.Fatalf("from day2 = %+v", from2)
	}
	// Up to day2: wfAB's later day is left out.
	to2, err := s.ProcessPerformance(0, messages.TimeOf(day2))
	if err != nil {
		t.Fatal(err)
	}
	if len(to2) != 3 || to2[0].Total != 4 || to2[1].Total != 1 || to2[2].Total != 1 {
		t.Fatalf("to day2 = %+v", to2)
	}
}

// BenchmarkProcessPerformance reads the analytics of a million finished
// executions (20 workflows over a year): the cost follows the number of
// workflow-days, not the number of executions.
func BenchmarkProcessPerformance(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const total, workflows = 1_000_000, 20
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []messages.ExecutionStatus{messages.ExecCompleted, messages.ExecCompleted, messages.ExecFailed, messages.ExecStopped}
	for done := 0; done < total; {
		n := min(20_000, total-done)
		base := done
		err := s.update(func(tx *bbolt.Tx) error {
			for i := base; i < base+n; i++ {
				wf := "wf" + string(rune('a'+i%workflows))
				created := start.Add(time.Duration(i) * (365 * 24 * time.Hour / total))
				e := finishedExec(wf, wf, statuses[i%len(statuses)], created, int64(i%5000),
					&messages.ExecutionMetrics{CPUAvg: fptr(float64(i % 100)), CPUPeak: fptr(float64(i % 100)), MemAvgMB: fptr(128), MemPeakMB: fptr(256)})
				e.ID = "x"
				if err := foldAnalyticsTx(tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.Run("year", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rows, err := s.ProcessPerformance(0, 0)
			if err != nil || len(rows) != workflows {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
			sum := 0
			for _, r := range rows {
				sum += r.Total
			}
			if sum != total {
				b.Fatalf("total %d", sum)
			}
		}
	})
	// A week in March: each workflow's seven days, not its whole year.
	b.Run("week", func(b *testing.B) {
		from := messages.TimeOf(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
		to := messages.TimeOf(time.Date(2026, 3, 8, 23, 0, 0, 0, time.UTC))
		for i := 0; i < b.N; i++ {
			rows, err := s.ProcessPerformance(from, to)
			if err != nil || len(rows) != workflows {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
		}
	})
}
