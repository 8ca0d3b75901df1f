package storage

import (
	"math"
	"math/rand/v2"
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
// executions (20 workflows over a year, ~137 per workflow-day): the cost
// follows the number of workflow-days, plus the runs of at most two edge
// days per workflow, not the number of executions.
func BenchmarkProcessPerformance(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const total, workflows = 1_000_000, 20
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []messages.ExecutionStatus{messages.ExecCompleted, messages.ExecCompleted, messages.ExecFailed, messages.ExecStopped}
	wfPrefix := messages.NewID(start) // ids of realistic length (42 characters)
	loadStart := time.Now()
	for done := 0; done < total; {
		n := min(20_000, total-done)
		base := done
		err := s.update(func(tx *bbolt.Tx) error {
			for i := base; i < base+n; i++ {
				wf := wfPrefix[:len(wfPrefix)-1] + string(rune('a'+i%workflows))
				created := start.Add(time.Duration(i) * (365 * 24 * time.Hour / total))
				e := finishedExec(wf, wf, statuses[i%len(statuses)], created, int64(i%5000),
					&messages.ExecutionMetrics{CPUAvg: fptr(float64(i % 100)), CPUPeak: fptr(float64(i % 100)), MemAvgMB: fptr(128), MemPeakMB: fptr(256)})
				e.ID = messages.NewID(created)
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
	foldNs := float64(time.Since(loadStart).Nanoseconds()) / total
	var runBytes float64
	_ = s.view(func(tx *bbolt.Tx) error {
		st := tx.Bucket(bucketAnalyticsRuns).Stats()
		runBytes = float64((st.LeafPageN+st.BranchPageN)*tx.DB().Info().PageSize) / total
		return nil
	})
	read := func(b *testing.B, from, to messages.Time, want int) {
		b.ReportMetric(foldNs, "fold-ns/exec")
		b.ReportMetric(runBytes, "run-B/exec")
		for i := 0; i < b.N; i++ {
			rows, err := s.ProcessPerformance(from, to)
			if err != nil || len(rows) != workflows {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
			sum := 0
			for _, r := range rows {
				sum += r.Total
			}
			if want > 0 && sum != want {
				b.Fatalf("total %d, want %d", sum, want)
			}
		}
	}
	// Executions are 31.536 s apart: i is created at start + i*31.536 s.
	countIn := func(from, to time.Time) int {
		step := 365 * 24 * time.Hour / total
		first := int((from.Sub(start) + step - 1) / step)
		last := int(to.Sub(start) / step)
		return last - first + 1
	}
	b.Run("year", func(b *testing.B) { read(b, 0, 0, total) })
	// A week in March, whole days: each workflow's seven days, not its year.
	b.Run("week", func(b *testing.B) {
		from, to := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 23, 59, 59, 999e6, time.UTC)
		read(b, messages.TimeOf(from), messages.TimeOf(to), countIn(from, to))
	})
	// The year from noon to noon: 363 whole days and two half days of runs.
	b.Run("year-edges", func(b *testing.B) {
		from, to := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 12, 30, 12, 0, 0, 0, time.UTC)
		read(b, messages.TimeOf(from), messages.TimeOf(to), countIn(from, to))
	})
	// A week with partial edge days.
	b.Run("week-edges", func(b *testing.B) {
		from, to := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC), time.Date(2026, 3, 8, 17, 15, 0, 0, time.UTC)
		read(b, messages.TimeOf(from), messages.TimeOf(to), countIn(from, to))
	})
	// An hour inside one day: runs only.
	b.Run("hour", func(b *testing.B) {
		from, to := time.Date(2026, 6, 10, 14, 0, 0, 0, time.UTC), time.Date(2026, 6, 10, 15, 0, 0, 0, time.UTC)
		read(b, messages.TimeOf(from), messages.TimeOf(to), 0)
	})
}

// refPerformance is the analytics of execs computed the slow, obvious way:
// the executions whose createdAt is in [from, to] (zero = open), per
// workflow, every figure over exactly that set.
func refPerformance(execs []*messages.Execution, from, to messages.Time) map[string]messages.WorkflowPerformance {
	type acc struct {
		p                      messages.WorkflowPerformance
		durSum, cpuSum, memSum float64
		durN, cpuN, memN       int
	}
	accs := map[string]*acc{}
	for _, e := range execs {
		if !e.Status.Terminal() || (!from.IsZero() && e.CreatedAt < from) || (!to.IsZero() && e.CreatedAt > to) {
			continue
		}
		a := accs[e.WorkflowID]
		if a == nil {
			a = &acc{p: messages.WorkflowPerformance{WorkflowID: e.WorkflowID, WorkflowName: e.Workflow.Name}}
			accs[e.WorkflowID] = a
		}
		a.p.Total++
		switch e.Status {
		case messages.ExecCompleted:
			a.p.Completed++
		case messages.ExecFailed:
			a.p.Failed++
		case messages.ExecStopped:
			a.p.Stopped++
		}
		if !e.StartedAt.IsZero() {
			a.durSum += float64(e.CompletedAt - e.StartedAt)
			a.durN++
		}
		if m := e.Metrics; m != nil {
			if m.CPUAvg != nil {
				a.cpuSum += *m.CPUAvg
				a.cpuN++
			}
			if m.CPUPeak != nil {
				a.p.CPUPeak = math.Max(a.p.CPUPeak, *m.CPUPeak)
			}
			if m.MemAvgMB != nil {
				a.memSum += *m.MemAvgMB
				a.memN++
			}
			if m.MemPeakMB != nil {
				a.p.MemPeakMB = math.Max(a.p.MemPeakMB, *m.MemPeakMB)
			}
		}
	}
	out := map[string]messages.WorkflowPerformance{}
	for id, a := range accs {
		p := a.p
		p.SuccessRate = float64(p.Completed) / float64(p.Total)
		p.FailureRate = float64(p.Failed) / float64(p.Total)
		if a.durN > 0 {
			p.AvgDurationMs = a.durSum / float64(a.durN)
		}
		if a.cpuN > 0 {
			p.CPUAvg = a.cpuSum / float64(a.cpuN)
		}
		if a.memN > 0 {
			p.MemAvgMB = a.memSum / float64(a.memN)
		}
		out[id] = p
	}
	return out
}

// checkPerformance compares the store's answer for [from, to] with
// refPerformance.
func checkPerformance(t *testing.T, s *Store, execs []*messages.Execution, from, to messages.Time) {
	t.Helper()
	got, err := s.ProcessPerformance(from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := refPerformance(execs, from, to)
	if len(got) != len(want) {
		t.Fatalf("[%s, %s]: %d workflows, want %d:\ngot  %+v\nwant %+v", from, to, len(got), len(want), got, want)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, g := range got {
		w, ok := want[g.WorkflowID]
		if !ok || g.WorkflowName != w.WorkflowName || g.Total != w.Total || g.Completed != w.Completed ||
			g.Failed != w.Failed || g.Stopped != w.Stopped || !near(g.SuccessRate, w.SuccessRate) ||
			!near(g.FailureRate, w.FailureRate) || !near(g.AvgDurationMs, w.AvgDurationMs) ||
			!near(g.CPUAvg, w.CPUAvg) || g.CPUPeak != w.CPUPeak || !near(g.MemAvgMB, w.MemAvgMB) || g.MemPeakMB != w.MemPeakMB {
			t.Fatalf("[%s, %s] %s:\ngot  %+v\nwant %+v", from, to, g.WorkflowID, g, w)
		}
	}
}

func foldAll(t *testing.T, s *Store, execs []*messages.Execution) {
	t.Helper()
	for _, e := range execs {
		e := e
		if err := s.update(func(tx *bbolt.Tx) error { return foldAnalyticsTx(tx, e) }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAnalyticsSelectsByCreatedAt: from/to select executions by their
// createdAt to the millisecond, both bounds inclusive (as GET
// /api/executions does), not by whole UTC days, and every figure is over
// exactly the selected executions. The audit's case: four executions a few
// seconds apart, then a from after all of them, or a window inside the day.
func TestAnalyticsSelectsByCreatedAt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openAnalyticsStore(t, dir)
	at := func(d time.Duration) time.Time { return time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC).Add(d) }
	hms := func(h, m, sec int) time.Duration {
		return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
	}
	metrics := func(cpu, peak, mem, memPeak float64) *messages.ExecutionMetrics {
		return &messages.ExecutionMetrics{CPUAvg: fptr(cpu), CPUPeak: fptr(peak), MemAvgMB: fptr(mem), MemPeakMB: fptr(memPeak)}
	}
	execs := []*messages.Execution{
		finishedExec("wfA", "Alpha", messages.ExecCompleted, at(hms(11, 38, 53)), 1000, metrics(10, 90, 100, 400)),
		finishedExec("wfA", "Alpha", messages.ExecFailed, at(hms(11, 38, 56)), 2000, metrics(20, 30, 200, 250)),
		finishedExec("wfA", "Alpha", messages.ExecCompleted, at(hms(11, 39, 0)), 4000, nil),
		finishedExec("wfA", "Alpha", messages.ExecStopped, at(hms(11, 39, 2)), -1, metrics(40, 45, 50, 60)),
		// Either side of midnight, and whole days further out.
		finishedExec("wfB", "Beta", messages.ExecCompleted, at(-time.Millisecond), 300, nil),
		finishedExec("wfB", "Beta", messages.ExecFailed, at(0), 700, metrics(5, 5, 5, 5)),
		finishedExec("wfB", "Beta", messages.ExecCompleted, at(-36*time.Hour), 100, metrics(1, 2, 3, 4)),
		finishedExec("wfB", "Beta", messages.ExecCompleted, at(50*time.Hour), 100, nil),
	}
	foldAll(t, s, execs)
	ms := func(d time.Duration) messages.Time { return messages.TimeOf(at(d)) }

	// From after all of them: nothing at all.
	if got, err := s.ProcessPerformance(ms(hms(11, 39, 3)), 0); err != nil || len(got) != 1 || got[0].WorkflowID != "wfB" || got[0].Total != 1 {
		t.Fatalf("from after wfA's executions: %+v, %v", got, err)
	}
	if got, err := s.ProcessPerformance(ms(51*time.Hour), 0); err != nil || len(got) != 0 {
		t.Fatalf("from after every execution: %+v, %v", got, err)
	}
	// A window inside the day: the two created in it.
	if got, err := s.ProcessPerformance(ms(hms(11, 39, 0)), ms(hms(11, 39, 3))); err != nil || len(got) != 1 || got[0].Total != 2 ||
		got[0].Completed != 1 || got[0].Stopped != 1 || got[0].AvgDurationMs != 4000 || got[0].CPUAvg != 40 || got[0].CPUPeak != 45 {
		t.Fatalf("11:39:00..11:39:03: %+v, %v", got, err)
	}
	for _, r := range [][2]messages.Time{
		{0, 0},
		{ms(hms(11, 38, 56)), ms(hms(11, 39, 0))},                                       // both bounds inclusive
		{ms(hms(11, 38, 56) + time.Millisecond), ms(hms(11, 39, 0) - time.Millisecond)}, // neither
		{0, ms(hms(11, 38, 55))},
		{ms(-time.Millisecond), ms(0)}, // one millisecond either side of midnight
		{ms(-time.Millisecond), ms(-time.Millisecond)},
		{ms(0), ms(0)},
		{ms(-40 * time.Hour), ms(hms(11, 38, 59))}, // a partial day, a whole day, a partial day
		{ms(-48 * time.Hour), ms(72 * time.Hour)},  // whole days only
		{ms(hms(11, 39, 1)), ms(50 * time.Hour)},
		{ms(-36 * time.Hour), 0},
	} {
		checkPerformance(t, s, execs, r[0], r[1])
	}

	// The same answers after a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAnalyticsStore(t, dir)
	defer s.Close()
	checkPerformance(t, s, execs, ms(hms(11, 38, 56)), ms(hms(11, 39, 0)))
}

// TestAnalyticsRandomRanges compares random ranges (many of them inside a
// day, many on a day's edges) with the obvious computation.
func TestAnalyticsRandomRanges(t *testing.T) {
	s := openAnalyticsStore(t, filepath.Join(t.TempDir(), "data"))
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	const span = 6 * 24 * time.Hour
	statuses := []messages.ExecutionStatus{messages.ExecCompleted, messages.ExecFailed, messages.ExecStopped}
	var execs []*messages.Execution
	for i := 0; i < 600; i++ {
		wf := []string{"wfA", "wfB", "wfC"}[rng.IntN(3)]
		created := start.Add(time.Duration(rng.Int64N(int64(span))))
		var m *messages.ExecutionMetrics
		if rng.IntN(3) > 0 {
			m = &messages.ExecutionMetrics{CPUAvg: fptr(float64(rng.IntN(100))), CPUPeak: fptr(float64(rng.IntN(100)))}
			if rng.IntN(2) == 0 {
				m.MemAvgMB, m.MemPeakMB = fptr(float64(rng.IntN(1000))), fptr(float64(rng.IntN(1000)))
			}
		}
		dur := int64(rng.IntN(10_000))
		if rng.IntN(8) == 0 {
			dur = -1
		}
		e := finishedExec(wf, "name of "+wf, statuses[rng.IntN(3)], created, dur, m)
		e.ID = messages.NewID(created)
		execs = append(execs, e)
	}
	foldAll(t, s, execs)
	point := func() messages.Time {
		switch rng.IntN(4) {
		case 0: // an execution's own createdAt
			return execs[rng.IntN(len(execs))].CreatedAt
		case 1: // a day boundary, or a millisecond before one
			d := start.Add(time.Duration(rng.IntN(7)) * 24 * time.Hour)
			return messages.TimeOf(d) - messages.Time(rng.IntN(2))
		default:
			return messages.TimeOf(start.Add(time.Duration(rng.Int64N(int64(span)))))
		}
	}
	for i := 0; i < 400; i++ {
		from, to := point(), point()
		if from > to {
			from, to = to, from
		}
		switch rng.IntN(6) {
		case 0:
			from = 0
		case 1:
			to = 0
		}
		checkPerformance(t, s, execs, from, to)
	}
}

// TestAnalyticsOldDatabase: day aggregates written before the runs existed
// (no rows, no exactFrom) keep answering, with day precision on a range's
// edge days; the first fold of this build makes the following UTC days
// exact, and the day of the upgrade keeps day precision.
func TestAnalyticsOldDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openAnalyticsStore(t, dir)
	day := time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)
	old := []*messages.Execution{
		finishedExec("wfA", "Alpha", messages.ExecCompleted, day.Add(9*time.Hour), 1000, nil),
		finishedExec("wfA", "Alpha", messages.ExecFailed, day.Add(15*time.Hour), 3000, nil),
	}
	// What an older build left: the aggregate only.
	err := s.update(func(tx *bbolt.Tx) error {
		var agg dayAggregate
		for _, e := range old {
			run := runOf(e)
			agg.add(&run)
		}
		return tx.Bucket(bucketAnalytics).Put(analyticsKey("wfA", dayNumber(old[0].CreatedAt)), agg.marshal())
	})
	if err != nil {
		t.Fatal(err)
	}
	afternoon := messages.TimeOf(day.Add(12 * time.Hour))
	total := func(from, to messages.Time) int {
		t.Helper()
		rows, err := s.ProcessPerformance(from, to)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			n += r.Total
		}
		return n
	}
	if n := total(afternoon, 0); n != 2 {
		t.Fatalf("old day from the afternoon: %d, want 2 (day precision)", n)
	}
	if n := total(messages.TimeOf(day), messages.TimeOf(day.Add(24*time.Hour-time.Millisecond))); n != 2 {
		t.Fatalf("old day as a whole: %d, want 2", n)
	}

	// The upgraded server finishes one more of that day and runs of the
	// next days.
	late := finishedExec("wfA", "Alpha", messages.ExecCompleted, day.Add(20*time.Hour), 500, nil)
	next := []*messages.Execution{
		finishedExec("wfA", "Alpha", messages.ExecCompleted, day.Add(33*time.Hour), 100, nil),
		finishedExec("wfA", "Alpha", messages.ExecStopped, day.Add(40*time.Hour), 200, nil),
	}
	foldAll(t, s, append([]*messages.Execution{late}, next...))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAnalyticsStore(t, dir)
	defer s.Close()
	if err := s.view(func(tx *bbolt.Tx) error {
		if got, want := exactFromTx(tx), messages.TimeOf(day.Add(24*time.Hour)); got != int64(want) {
			t.Errorf("exactFrom = %s, want %s", messages.Time(got), want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := total(afternoon, messages.TimeOf(day.Add(24*time.Hour-time.Millisecond))); n != 3 {
		t.Fatalf("upgrade day from the afternoon: %d, want 3 (day precision)", n)
	}
	if n := total(0, 0); n != 5 {
		t.Fatalf("everything: %d, want 5", n)
	}
	all := append(append(append([]*messages.Execution{}, old...), late), next...)
	for _, r := range [][2]messages.Time{
		{messages.TimeOf(day.Add(34 * time.Hour)), 0},
		{messages.TimeOf(day.Add(24 * time.Hour)), messages.TimeOf(day.Add(39 * time.Hour))},
		{messages.TimeOf(day.Add(33 * time.Hour)), messages.TimeOf(day.Add(33 * time.Hour))},
	} {
		checkPerformance(t, s, all, r[0], r[1])
	}
}

// TestAnalyticsRangesSurviveRetention: executions removed by retention keep
// counting, in ranges inside a day too.
func TestAnalyticsRangesSurviveRetention(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := putWorkflowForTest(t, s, "kept", true)
	base := time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 6; i++ {
		st := messages.ExecCompleted
		if i%2 == 1 {
			st = messages.ExecFailed
		}
		finishAt(t, s, wf.ID, st, base.Add(time.Duration(i)*time.Minute)) // created a minute earlier
	}
	ranges := [][2]messages.Time{
		{messages.TimeOf(base.Add(90 * time.Second)), 0},
		{messages.TimeOf(base.Add(time.Minute)), messages.TimeOf(base.Add(3 * time.Minute))},
		{0, messages.TimeOf(base)},
	}
	wantTotals := []int{3, 3, 2}
	before := make([][]messages.WorkflowPerformance, len(ranges))
	for i, r := range ranges {
		rows, err := s.ProcessPerformance(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Total != wantTotals[i] {
			t.Fatalf("range %d before retention: %+v, want total %d", i, rows, wantTotals[i])
		}
		before[i] = rows
	}
	if n, err := s.DeleteExecutionsFinishedBefore(base.Add(time.Hour), 100); err != nil || n != 6 {
		t.Fatalf("retention removed %d, %v", n, err)
	}
	for i, r := range ranges {
		rows, err := s.ProcessPerformance(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0] != before[i][0] {
			t.Fatalf("range %d after retention: %+v, want %+v", i, rows, before[i])
		}
	}
}

// Retention prunes the analytics rows of days before its cut-off's day:
// totals stay, ranges with an edge on a pruned day count that whole day,
// later days stay exact, and pruning again finds nothing.
func TestAnalyticsRunsPrunedBeforeRetentionDay(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wf := putWorkflowForTest(t, s, "pruned", true)
	d1 := time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)
	d2 := d1.Add(24 * time.Hour)
	for i := 0; i < 3; i++ {
		finishAt(t, s, wf.ID, messages.ExecCompleted, d1.Add(time.Duration(i)*time.Hour)) // created 09:59, 10:59, 11:59
		finishAt(t, s, wf.ID, messages.ExecFailed, d2.Add(time.Duration(i)*time.Hour))
	}
	total := func(from, to time.Time) int {
		t.Helper()
		var f, tt messages.Time
		if !from.IsZero() {
			f = messages.TimeOf(from)
		}
		if !to.IsZero() {
			tt = messages.TimeOf(to)
		}
		rows, err := s.ProcessPerformance(f, tt)
		if err != nil || len(rows) > 1 {
			t.Fatalf("%v %v", rows, err)
		}
		if len(rows) == 0 {
			return 0
		}
		return rows[0].Total
	}
	inD1 := [2]time.Time{d1.Add(30 * time.Minute), d1.Add(90 * time.Minute)} // holds the 10:59 run only
	inD2 := [2]time.Time{d2.Add(30 * time.Minute), d2.Add(90 * time.Minute)}
	if total(inD1[0], inD1[1]) != 1 || total(inD2[0], inD2[1]) != 1 || total(time.Time{}, time.Time{}) != 6 {
		t.Fatal("exact before pruning")
	}
	n, err := s.PruneAnalyticsRunsBefore(d2.Add(2*time.Hour), 2) // batches of 2: several transactions
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want the 3 rows of the first day", n, err)
	}
	if got := total(inD1[0], inD1[1]); got != 3 {
		t.Fatalf("a range inside the pruned day counts %d, want the whole day's 3", got)
	}
	if total(inD2[0], inD2[1]) != 1 || total(time.Time{}, time.Time{}) != 6 {
		t.Fatal("later days or totals changed")
	}
	if n, err := s.PruneAnalyticsRunsBefore(d2.Add(2*time.Hour), 2); err != nil || n != 0 {
		t.Fatalf("second prune: %d %v", n, err)
	}
}
