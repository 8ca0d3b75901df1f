package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Analytics layout (bucketAnalytics): key = workflow id + uint32 big-endian
// UTC day number (days since the Unix epoch) of the executions' createdAt;
// value = a binary dayAggregate (see marshal). A workflow's days are one prefix scan, and
// the aggregates outlive deleted workflows and executions removed by
// retention: they are only ever added to. They answer the whole days of a
// from/to range; analytics_runs.go keeps the per-execution rows that answer
// its partial edge days.

// dayAggregate is the running total of one workflow's finished executions
// created on one UTC day.
type dayAggregate struct {
	Name        string
	Total       int64
	Completed   int64
	Failed      int64
	Stopped     int64
	DurationSum int64 // ms
	DurationN   int64
	CPUAvgSum   float64
	CPUAvgN     int64
	CPUPeak     float64
	MemAvgSum   float64
	MemAvgN     int64
	MemPeak     float64
}

const msPerDay = int64(24 * time.Hour / time.Millisecond)

// dayNumber is the UTC day of t (days since the Unix epoch).
func dayNumber(t messages.Time) uint32 {
	d := int64(t) / msPerDay
	if d < 0 {
		d = 0
	}
	return uint32(d)
}

func analyticsKey(workflowID string, day uint32) []byte {
	k := make([]byte, len(workflowID)+4)
	copy(k, workflowID)
	binary.BigEndian.PutUint32(k[len(workflowID):], day)
	return k
}

// foldAnalyticsTx adds a finished execution to its workflow's aggregate of
// the execution's createdAt day and records its run (analytics_runs.go).
// executions.go calls it inside the transaction that moves an execution to
// a terminal state (exactly once per execution). Non-terminal executions
// are ignored.
func foldAnalyticsTx(tx *bbolt.Tx, e *messages.Execution) error {
	if e == nil || !e.Status.Terminal() {
		return nil
	}
	run := runOf(e)
	if err := putRunTx(tx, e, &run); err != nil {
		return err
	}
	b := tx.Bucket(bucketAnalytics)
	key := analyticsKey(e.WorkflowID, dayNumber(e.CreatedAt))
	var agg dayAggregate
	if v := b.Get(key); v != nil {
		if agg.unmarshal(v) != nil {
			// A day that cannot be read must not block the executions
			// that finish on it: it goes to quarantine and starts over.
			if err := quarantineTx(tx, bucketAnalytics, key, v); err != nil {
				return err
			}
			agg = dayAggregate{}
		}
	}
	agg.add(&run)
	return b.Put(key, agg.marshal())
}

// runOf is the contribution of one finished execution to the analytics.
func runOf(e *messages.Execution) dayAggregate {
	run := dayAggregate{Name: e.Workflow.Name, Total: 1}
	switch e.Status {
	case messages.ExecCompleted:
		run.Completed = 1
	case messages.ExecFailed:
		run.Failed = 1
	case messages.ExecStopped:
		run.Stopped = 1
	}
	if !e.StartedAt.IsZero() && !e.CompletedAt.IsZero() && e.CompletedAt >= e.StartedAt {
		run.DurationSum, run.DurationN = int64(e.CompletedAt-e.StartedAt), 1
	}
	if m := e.Metrics; m != nil {
		if m.CPUAvg != nil {
			run.CPUAvgSum, run.CPUAvgN = *m.CPUAvg, 1
		}
		if m.CPUPeak != nil {
			run.CPUPeak = *m.CPUPeak
		}
		if m.MemAvgMB != nil {
			run.MemAvgSum, run.MemAvgN = *m.MemAvgMB, 1
		}
		if m.MemPeakMB != nil {
			run.MemPeak = *m.MemPeakMB
		}
	}
	return run
}

// ProcessPerformance returns, per workflow, the figures of the finished
// executions whose createdAt is in [from, to] (Unix ms, both inclusive, as
// in ListExecutions; zero = open). Whole UTC days inside the range are
// read from the day aggregates; the partial days at its edges from the
// runs (analytics_runs.go), or, before exactFrom, from the aggregate of
// the whole day. It never reads the executions. Workflows are listed in
// the order of their ids (creation order); the name is the workflow's
// current one, or the last one seen for a deleted workflow.
func (s *Store) ProcessPerformance(from, to messages.Time) ([]messages.WorkflowPerformance, error) {
	out := []messages.WorkflowPerformance{}
	lo, hi := max(int64(from), 0), int64(math.MaxInt64)
	if !to.IsZero() {
		hi = int64(to)
	}
	if hi < lo {
		return out, nil
	}
	loDay, hiDay := uint32(lo/msPerDay), uint32(min(hi/msPerDay, math.MaxUint32))
	err := s.view(func(tx *bbolt.Tx) error {
		exactFrom := exactFromTx(tx)
		runs := tx.Bucket(bucketAnalyticsRuns).Cursor()
		// One seek to each workflow's first day in range, then its days
		// up to the last one in range, then a seek past its keys: a range
		// costs the workflows plus the days inside it (and the runs of at
		// most two edge days), not every aggregate ever kept. The seek
		// past goes to id+0x01: a workflow's own keys continue with a day
		// number whose first byte is 0 (days below 2^24, i.e. before the
		// year 47,000), while the keys of a longer id that starts with
		// this one continue with an id character, so they are not skipped.
		c := tx.Bucket(bucketAnalytics).Cursor()
		k, _ := c.First()
		for k != nil {
			if len(k) < 4 {
				k, _ = c.Next()
				continue
			}
			at := append([]byte(nil), k...)
			id := at[: len(at)-4 : len(at)-4]
			var sum dayAggregate
			for dk, v := c.Seek(analyticsKey(string(id), loDay)); dk != nil && len(dk) == len(id)+4 && bytes.HasPrefix(dk, id); dk, v = c.Next() {
				day := binary.BigEndian.Uint32(dk[len(id):])
				if day > hiDay {
					break
				}
				var agg dayAggregate
				if agg.unmarshal(v) != nil {
					noteBadTx(tx, bucketAnalytics, dk) // left out (quarantine.go)
					continue
				}
				start := int64(day) * msPerDay
				end := start + msPerDay - 1
				if (lo <= start && end <= hi) || start < exactFrom {
					sum.add(&agg)
					continue
				}
				n, err := addRunsTx(runs, string(id), max(lo, start), min(hi, end), &sum)
				if err != nil {
					return err
				}
				if n > 0 {
					sum.Name = agg.Name
				}
			}
			if sum.Total > 0 {
				name := sum.Name
				var wf messages.Workflow
				if found, err := getTx(tx, bucketWorkflows, string(id), &wf); err == nil && found {
					name = wf.Name
				}
				out = append(out, performanceOf(string(id), name, &sum))
			}
			k, _ = c.Seek(append(id, 0x01))
			if k != nil && bytes.Compare(k, at) <= 0 {
				// A key whose day does not start with a zero byte (none
				// that this package writes: a damaged or foreign key)
				// would bring the seek back to it for ever: step past.
				c.Seek(at)
				k, _ = c.Next()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// aggregateVersion tags the binary layout of a dayAggregate: version byte,
// then Total, Completed, Failed, Stopped, DurationSum, DurationN, CPUAvgN,
// MemAvgN as int64 and CPUAvgSum, CPUPeak, MemAvgSum, MemPeak as float64
// bits (all big-endian), then the name's bytes. Reading many aggregates is
// the whole cost of the analytics endpoint, so no JSON here.
const aggregateVersion = 1

const aggregateFixed = 1 + 12*8

func (a *dayAggregate) marshal() []byte {
	b := make([]byte, aggregateFixed, aggregateFixed+len(a.Name))
	b[0] = aggregateVersion
	for i, v := range []uint64{uint64(a.Total), uint64(a.Completed), uint64(a.Failed), uint64(a.Stopped),
		uint64(a.DurationSum), uint64(a.DurationN), uint64(a.CPUAvgN), uint64(a.MemAvgN),
		math.Float64bits(a.CPUAvgSum), math.Float64bits(a.CPUPeak), math.Float64bits(a.MemAvgSum), math.Float64bits(a.MemPeak)} {
		binary.BigEndian.PutUint64(b[1+8*i:], v)
	}
	return append(b, a.Name...)
}

func (a *dayAggregate) unmarshal(b []byte) error {
	if len(b) < aggregateFixed || b[0] != aggregateVersion {
		return fmt.Errorf("storage: analytics aggregate: bad record (%d bytes)", len(b))
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[1+8*i:]) }
	a.Total, a.Completed, a.Failed, a.Stopped = int64(u(0)), int64(u(1)), int64(u(2)), int64(u(3))
	a.DurationSum, a.DurationN, a.CPUAvgN, a.MemAvgN = int64(u(4)), int64(u(5)), int64(u(6)), int64(u(7))
	a.CPUAvgSum, a.CPUPeak = math.Float64frombits(u(8)), math.Float64frombits(u(9))
	a.MemAvgSum, a.MemPeak = math.Float64frombits(u(10)), math.Float64frombits(u(11))
	a.Name = string(b[aggregateFixed:])
	return nil
}

// add merges another day into a.
func (a *dayAggregate) add(o *dayAggregate) {
	if o.Name != "" {
		a.Name = o.Name
	}
	a.Total += o.Total
	a.Completed += o.Completed
	a.Failed += o.Failed
	a.Stopped += o.Stopped
	a.DurationSum += o.DurationSum
	a.DurationN += o.DurationN
	a.CPUAvgSum += o.CPUAvgSum
	a.CPUAvgN += o.CPUAvgN
	a.MemAvgSum += o.MemAvgSum
	a.MemAvgN += o.MemAvgN
	if o.CPUPeak > a.CPUPeak {
		a.CPUPeak = o.CPUPeak
	}
	if o.MemPeak > a.MemPeak {
		a.MemPeak = o.MemPeak
	}
}

func performanceOf(id, name string, a *dayAggregate) messages.WorkflowPerformance {
	p := messages.WorkflowPerformance{
		WorkflowID:   id,
		WorkflowName: name,
		Total:        int(a.Total),
		Completed:    int(a.Completed),
		Failed:       int(a.Failed),
		Stopped:      int(a.Stopped),
		CPUPeak:      a.CPUPeak,
		MemPeakMB:    a.MemPeak,
	}
	if a.Total > 0 {
		p.SuccessRate = float64(a.Completed) / float64(a.Total)
		p.FailureRate = float64(a.Failed) / float64(a.Total)
	}
	if a.DurationN > 0 {
		p.AvgDurationMs = float64(a.DurationSum) / float64(a.DurationN)
	}
	if a.CPUAvgN > 0 {
		p.CPUAvg = a.CPUAvgSum / float64(a.CPUAvgN)
	}
	if a.MemAvgN > 0 {
		p.MemAvgMB = a.MemAvgSum / float64(a.MemAvgN)
	}
	return p
}
