package storage

import (
	"bytes"
	"encoding/binary"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Analytics layout (bucketAnalytics): key = workflow id + uint32 big-endian
// UTC day number (days since the Unix epoch) of the executions' createdAt;
// value = a JSON dayAggregate. A workflow's days are one prefix scan, and
// the aggregates outlive deleted workflows and executions removed by
// retention: they are only ever added to.

// dayAggregate is the running total of one workflow's finished executions
// created on one UTC day.
type dayAggregate struct {
	Name        string  `json:"n"`
	Total       int64   `json:"t"`
	Completed   int64   `json:"c"`
	Failed      int64   `json:"f"`
	Stopped     int64   `json:"s"`
	DurationSum int64   `json:"ds"` // ms
	DurationN   int64   `json:"dn"`
	CPUAvgSum   float64 `json:"cs"`
	CPUAvgN     int64   `json:"cn"`
	CPUPeak     float64 `json:"cp"`
	MemAvgSum   float64 `json:"ms"`
	MemAvgN     int64   `json:"mn"`
	MemPeak     float64 `json:"mp"`
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
// the execution's createdAt day. executions.go calls it inside the
// transaction that moves an execution to a terminal state (exactly once per
// execution). Non-terminal executions are ignored.
func foldAnalyticsTx(tx *bbolt.Tx, e *messages.Execution) error {
	if e == nil || !e.Status.Terminal() {
		return nil
	}
	b := tx.Bucket(bucketAnalytics)
	key := analyticsKey(e.WorkflowID, dayNumber(e.CreatedAt))
	var agg dayAggregate
	if v := b.Get(key); v != nil {
		if err := decode(v, &agg); err != nil {
			return err
		}
	}
	if e.Workflow.Name != "" {
		agg.Name = e.Workflow.Name
	}
	agg.Total++
	switch e.Status {
	case messages.ExecCompleted:
		agg.Completed++
	case messages.ExecFailed:
		agg.Failed++
	case messages.ExecStopped:
		agg.Stopped++
	}
	if !e.StartedAt.IsZero() && !e.CompletedAt.IsZero() && e.CompletedAt >= e.StartedAt {
		agg.DurationSum += int64(e.CompletedAt - e.StartedAt)
		agg.DurationN++
	}
	if m := e.Metrics; m != nil {
		if m.CPUAvg != nil {
			agg.CPUAvgSum += *m.CPUAvg
			agg.CPUAvgN++
		}
		if m.CPUPeak != nil && *m.CPUPeak > agg.CPUPeak {
			agg.CPUPeak = *m.CPUPeak
		}
		if m.MemAvgMB != nil {
			agg.MemAvgSum += *m.MemAvgMB
			agg.MemAvgN++
		}
		if m.MemPeakMB != nil && *m.MemPeakMB > agg.MemPeak {
			agg.MemPeak = *m.MemPeakMB
		}
	}
	v, err := encode(&agg)
	if err != nil {
		return err
	}
	return b.Put(key, v)
}

// ProcessPerformance sums the aggregates of the days from..to (createdAt,
// inclusive, by UTC day; zero = open) per workflow. It reads only the
// aggregates, never the executions. Workflows are listed in the order of
// their ids (creation order); the name is the workflow's current one, or
// the last one seen for a deleted workflow.
func (s *Store) ProcessPerformance(from, to messages.Time) ([]messages.WorkflowPerformance, error) {
	lo, hi := uint32(0), ^uint32(0)
	if !from.IsZero() {
		lo = dayNumber(from)
	}
	if !to.IsZero() {
		hi = dayNumber(to)
	}
	out := []messages.WorkflowPerformance{}
	err := s.view(func(tx *bbolt.Tx) error {
		var cur []byte
		var sum dayAggregate
		flush := func() error {
			if cur == nil || sum.Total == 0 {
				return nil
			}
			id := string(cur)
			name := sum.Name
			var wf messages.Workflow
			if found, err := getTx(tx, bucketWorkflows, id, &wf); err == nil && found {
				name = wf.Name
			}
			out = append(out, performanceOf(id, name, &sum))
			return nil
		}
		c := tx.Bucket(bucketAnalytics).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) < 4 {
				continue
			}
			id, day := k[:len(k)-4], binary.BigEndian.Uint32(k[len(k)-4:])
			if !bytes.Equal(id, cur) {
				if err := flush(); err != nil {
					return err
				}
				cur, sum = append([]byte(nil), id...), dayAggregate{}
			}
			if day < lo || day > hi {
				continue
			}
			var agg dayAggregate
			if err := decode(v, &agg); err != nil {
				return err
			}
			sum.add(&agg)
		}
		return flush()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
